"""Throughput of the whole path on the local stack, beside this machine's raw limits for the same work.

Usage: .venv/bin/python benchmarks/path_throughput.py [--events N] [--home DIR]
Starts the local stack under --home if it is not up (and leaves it up), emits N demo events as fast as
the emitter goes, waits until all are queryable in ClickHouse, and prints:
  - stages alone, on one core, measured in this run: hashlib SHA-256 of a ~1 KB entry, fastavro encode and
    decode of one event, the stream's pure batch step (decode, validate, sequence, hash, encode);
  - a bare confluent-kafka produce of the same bytes with no processing;
  - emit rate, and end-to-end events/s (first emit -> last event queryable).
Its last line is machine-readable.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

from auditledger.config import load_settings  # noqa: E402
from auditledger.demo import stored_records, wait_queryable  # noqa: E402
from auditledger.kafka_security import client_security  # noqa: E402
from auditledger.stack.local_stack import LocalStack  # noqa: E402
from ledger.clickhouse_client import store_client  # noqa: E402
from ledger.signed_note import NoteSigner  # noqa: E402
from producers.demo_session import demo_events  # noqa: E402
from producers.emitter import AuditEmitter  # noqa: E402
from producers.event_json import event_from_json  # noqa: E402
from schemas import SchemaStore  # noqa: E402
from stream.sequencer import LedgerSequencer, RawEvent  # noqa: E402
from stream.shard_chain import ShardChain  # noqa: E402
from tests.ledger_path import sequencer_parts  # noqa: E402


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()
    settings = load_settings(home=args.home)
    store = SchemaStore()
    datums = [event_from_json(e) for e in demo_events(args.events, sessions=24)]
    encoded = [store.encode("AuditEvent", d) for d in datums]
    avg_bytes = sum(map(len, encoded)) / len(encoded)

    t = time.perf_counter()
    for b in encoded:
        hashlib.sha256(b"\x00" + b).digest()
    sha = rate(len(encoded), time.perf_counter() - t)
    schema = store.schema("AuditEvent").parsed
    t = time.perf_counter()
    for d in datums:
        fastavro.schemaless_writer(io.BytesIO(), schema, d)
    enc = rate(len(datums), time.perf_counter() - t)
    t = time.perf_counter()
    for b in encoded:
        fastavro.schemaless_reader(io.BytesIO(b[10:]), schema, None)
    dec = rate(len(encoded), time.perf_counter() - t)
    signer = NoteSigner.generate("bench/log")
    sequencer = LedgerSequencer(store, lambda s: ShardChain(shard=s), "bench/log", "audit.events",
                                signers=lambda now: [signer], **sequencer_parts(store))  # fmt: skip
    raws = [RawEvent(i % 6, i // 6, b) for i, b in enumerate(encoded)]
    t = time.perf_counter()
    for i in range(0, len(raws), 1000):
        sequencer.process(raws[i : i + 1000], idle=False)
    core = rate(len(raws), time.perf_counter() - t)

    status = LocalStack(settings, log=lambda m: print(m, file=sys.stderr)).up()
    settings = replace(settings, kafka_bootstrap=status["kafka_bootstrap"], clickhouse_url=status["clickhouse_url"])
    bare = Producer({"bootstrap.servers": settings.kafka_bootstrap, **client_security(settings), "linger.ms": 5,
                     "enable.idempotence": True})
    t = time.perf_counter()
    for b in encoded:
        while True:
            try:
                bare.produce(settings.topics.alerts, b)
                break
            except BufferError:
                bare.poll(0.05)
    bare.flush(60)
    bare_rate = rate(len(encoded), time.perf_counter() - t)

    client = store_client(settings)
    baseline = stored_records(client)
    t0 = time.perf_counter()
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for d in datums:
            emitter.emit_datum(d)
        emitter.flush()
    t_emit = time.perf_counter() - t0
    found = wait_queryable(client, [str(d["event_id"]) for d in datums], 600, baseline)
    t_total = time.perf_counter() - t0
    e2e = rate(found, t_total)

    print(f"events: {len(datums)} of ~{avg_bytes:.0f} bytes (Avro), machine: 2 cores")
    print("raw limits, one core, this run:")
    print(f"  hashlib sha256 of one event's bytes      {sha:>12,.0f} /s")
    print(f"  fastavro encode / decode AuditEvent      {enc:>12,.0f} /s  /  {dec:,.0f} /s")
    print(f"  confluent-kafka bare produce (no work)   {bare_rate:>12,.0f} /s")
    print("ours:")
    print(f"  stream batch step alone (pure)           {core:>12,.0f} /s   ({core / dec:.2f} x fastavro decode)")
    print(f"  emit (idempotent, acks=all)              {rate(len(datums), t_emit):>12,.0f} /s")
    print(f"  end to end, emit -> queryable            {e2e:>12,.0f} /s   ({e2e / bare_rate:.2f} x bare produce)")
    print(f"end_to_end_events_per_s: {e2e:.0f} total_s: {t_total:.2f}")
    return 0 if found == len(datums) else 1


if __name__ == "__main__":
    sys.exit(main())
