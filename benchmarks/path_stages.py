"""Per-stage cost of the ledger path, in process on one core, beside this machine's raw limits for the same work.

Used by benchmarks/path_benchmark.py (one run prints both). Every stage runs the project's real code over the
same encoded events, in the order the stream worker runs them, so each stage gets the previous one's output:
decode (validate), admit (identity + masking), approval join, entry encode, hash and chain, record encode,
SIEM message, then the whole `LedgerSequencer.process` step (which adds checkpoints and bookkeeping), a Kafka
produce of each event's outputs, and the sink's part (decode the record, project the row, insert into chDB).
Raw limits: hashlib SHA-256 of the entry bytes, fastavro decode and encode of the event, a bare
confluent-kafka produce of the event bytes with no processing.
"""

from __future__ import annotations

import gc
import hashlib
import io
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

from auditledger.config import Settings  # noqa: E402
from ledger.entry import encode_entry, entry_leaf_hash  # noqa: E402
from ledger.keyring import SigningKeys  # noqa: E402
from ledger.merkle import CompactFrontier  # noqa: E402
from schemas import SchemaStore  # noqa: E402
from stream.admission_config import admission_of, dead_letters_of  # noqa: E402
from stream.approval_join import ApprovalJoin  # noqa: E402
from stream.approvals.book import ApprovalBook  # noqa: E402
from stream.ocsf import OcsfProduct  # noqa: E402
from stream.ocsf_feed import OcsfFeed  # noqa: E402
from stream.sequencer import LedgerSequencer, RawEvent  # noqa: E402
from stream.shard_chain import ShardChain  # noqa: E402
from stream.validation import decode_event  # noqa: E402

SHARDS = 6


@dataclass(frozen=True)
class StageCosts:
    """Microseconds per event: ours by stage, and the raw limits measured beside them."""

    ours: dict[str, float]
    raw: dict[str, float]


def timed(work: Callable[[], Any], n: int, runs: int) -> tuple[float, Any]:
    """(fastest µs per item over `runs` runs, the last run's result); the collector is off while timing."""
    best, result = float("inf"), None
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            t = time.perf_counter()
            result = work()
            best = min(best, time.perf_counter() - t)
        finally:
            gc.enable()
    return best / n * 1e6, result


def produce_all(producer: Producer, topic: str, values: Sequence[bytes]) -> None:
    for value in values:
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(120)


def step_costs(settings: Settings, encoded: list[bytes], runs: int) -> tuple[dict[str, float], list[bytes]]:
    """The stream step stage by stage with the stack's own policy, keys and signer; also returns its messages
    (each event's ledger record, then its SIEM message)."""
    store = SchemaStore()
    gate = admission_of(settings)
    signers = SigningKeys(settings.signing_keys_dir).signers
    feed = OcsfFeed(OcsfProduct.installed(settings.log_origin))
    now = datetime.now(UTC)
    n = len(encoded)
    ours: dict[str, float] = {}
    ours["decode"], events = timed(lambda: [decode_event(store, b, now) for b in encoded], n, runs)
    ours["admit (identity + mask)"], admitted = timed(lambda: [gate.admit(e, now) for e in events], n, runs)

    def join() -> list:
        approvals = ApprovalJoin(gate.policy.approvals, ApprovalBook())
        return [approvals.judge(e, i % SHARDS, i // SHARDS, now)[0] for i, e in enumerate(events)]

    ours["approval join"], sections = timed(join, n, runs)

    def entries() -> list[bytes]:
        return [encode_entry(store, shard=i % SHARDS, seq=i // SHARDS, source_offset=i // SHARDS, sequenced_at=now,
                             prev_leaf_hash=bytes(32), event=a.event, identity=a.identity, masking=a.masking,
                             approval=sections[i]) for i, a in enumerate(admitted)]  # fmt: skip

    ours["entry encode (Avro)"], entry_bytes = timed(entries, n, runs)

    def chain() -> list[bytes]:
        frontiers = [CompactFrontier() for _ in range(SHARDS)]
        leaves = []
        for i, entry in enumerate(entry_bytes):
            leaf = entry_leaf_hash(entry)
            frontiers[i % SHARDS].append(leaf)
            leaves.append(leaf)
        return leaves

    ours["hash and chain"], leaves = timed(chain, n, runs)

    def records() -> list[bytes]:
        return [store.encode("LedgerRecord", {"shard": i % SHARDS, "seq": i // SHARDS, "leaf_hash": leaves[i],
                                              "entry": e}) for i, e in enumerate(entry_bytes)]  # fmt: skip

    ours["record encode (Avro)"], record_bytes = timed(records, n, runs)

    def siem() -> list[bytes]:
        return [feed.record(i % SHARDS, i // SHARDS, leaves[i], now, a.event, a.identity, a.masking, sections[i],
                            "events")[1] for i, a in enumerate(admitted)]  # fmt: skip

    ours["SIEM message (OCSF JSON)"], siem_messages = timed(siem, n, runs)

    def whole() -> None:
        dead = dead_letters_of(settings, store, gate)
        sequencer = LedgerSequencer(store, lambda s: ShardChain(shard=s), settings.log_origin, settings.topics.events,
                                    signers=signers, admission=gate, dead_letters=dead, siem=feed)  # fmt: skip
        raws = [RawEvent(i % SHARDS, i // SHARDS, b) for i, b in enumerate(encoded)]
        for i in range(0, n, settings.stream_batch_size):
            sequencer.process(raws[i : i + settings.stream_batch_size], idle=False)

    ours["whole step (LedgerSequencer.process)"], _ = timed(whole, n, runs)
    return ours, [v for pair in zip(record_bytes, siem_messages, strict=True) for v in pair]


def sink_cost(records: list[bytes], batch_size: int, runs: int) -> float:
    """µs per record for the sink's own work on these records: decode, project, insert into a scratch chDB store."""
    import clickhouse_connect  # chDB costs ~1 s and ~260 MB to import: only here

    from ledger.ddl import RECORD_COLUMNS, ensure_schema
    from ledger.projection import record_row

    store = SchemaStore()
    with tempfile.TemporaryDirectory(prefix="auditledger-bench-sink-") as scratch:
        client = clickhouse_connect.get_client(dsn=f"chdb://{Path(scratch) / 'store'}")
        ensure_schema(client)

        def insert() -> None:
            for i in range(0, len(records), batch_size):
                rows = []
                for message in records[i : i + batch_size]:
                    record = store.decode(message, reader="LedgerRecord")
                    rows.append(record_row(record, store.decode(record["entry"], reader="LedgerEntry")))
                client.insert("ledger_records", rows, column_names=list(RECORD_COLUMNS))

        cost, _ = timed(insert, len(records), runs)
        client.close()
    return cost


def raw_limits(encoded: list[bytes], datums: list[dict[str, Any]], entry_sample: list[bytes], runs: int) -> dict:
    store = SchemaStore()
    schema = store.schema("AuditEvent").parsed
    n = len(encoded)
    raw: dict[str, float] = {}
    raw["sha256"], _ = timed(lambda: [hashlib.sha256(b"\x00" + e).digest() for e in entry_sample], len(entry_sample),
                             runs)  # fmt: skip
    raw["fastavro decode"], _ = timed(
        lambda: [fastavro.schemaless_reader(io.BytesIO(b[10:]), schema, None) for b in encoded], n, runs
    )
    raw["fastavro encode"], _ = timed(
        lambda: [fastavro.schemaless_writer(io.BytesIO(), schema, d) for d in datums], n, runs
    )
    return raw


def stage_costs(settings: Settings, producer_config: dict[str, Any], scratch_topic: str, encoded: list[bytes],
                datums: list[dict[str, Any]], runs: int) -> StageCosts:  # fmt: skip
    """Everything above over the same events; `producer_config` is the stream writer's, against the stack."""
    ours, messages = step_costs(settings, encoded, runs)
    records = messages[0::2]
    raw = raw_limits(encoded, datums, [r[10:] for r in records[:5000]], runs)
    n = len(encoded)
    bare = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5, "enable.idempotence": True})
    raw["bare produce (no work)"], _ = timed(lambda: produce_all(bare, scratch_topic, encoded), n, runs)
    writer_like = Producer({"bootstrap.servers": settings.kafka_bootstrap, **producer_config})
    produce_outputs = lambda: produce_all(writer_like, scratch_topic, messages)  # noqa: E731
    ours["produce (record + SIEM message)"], _ = timed(produce_outputs, n, runs)
    ours["sink insert (decode, project, insert)"] = sink_cost(records, settings.sink_batch_size, runs)
    return StageCosts(ours, raw)
