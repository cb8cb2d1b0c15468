"""audit.ledger and audit.checkpoints -> ClickHouse, in batches, committed only after the insert.

A redelivered record (same shard, seq and leaf, at the same audit.ledger offset) is skipped; a *different*
record at a stored (shard, seq) is inserted anyway and logged as tampering, so that verification names it
rather than the sink silently choosing one. The same record at another offset (replayed) or on a partition
that is not its shard (misrouted) is not stored but kept in ledger_arrivals, which verification reports.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from auditledger.kafka_security import client_security
from ledger.anomalies import ARRIVAL_COLUMNS, Arrival, KnownArrival, arrival_row, judge_arrival, read_arrivals
from ledger.ddl import CHECKPOINT_COLUMNS, RECORD_COLUMNS
from ledger.projection import checkpoint_row, record_row
from schemas import SchemaStore

log = logging.getLogger("auditledger.sink")

SINK_GROUP = "auditledger-sink"


class SinkError(RuntimeError):
    """The sink cannot continue (Kafka or ClickHouse refused); offsets stay uncommitted."""


class LedgerSink:
    def __init__(
        self,
        bootstrap: str,
        ledger_topic: str,
        checkpoints_topic: str,
        client: Any,
        store: SchemaStore | None = None,
        batch_size: int = 5000,
        group_id: str = SINK_GROUP,
        consumer_config: dict | None = None,
    ) -> None:
        config = {
            "bootstrap.servers": bootstrap,
            **client_security(),  # TLS/SASL from the configuration; consumer_config still wins
            "group.id": group_id,
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
        config.update(consumer_config or {})
        self._consumer = Consumer(config)
        self._consumer.subscribe([ledger_topic, checkpoints_topic])
        self._ledger_topic = ledger_topic
        self._client = client
        self._store = store or SchemaStore()
        self._batch_size = batch_size
        self._high_seq: dict[int, int] = {}
        self._checkpoints: set[tuple[int, int, bytes]] = set()
        self._held: list[Message] = []  # checkpoints that point past the records stored so far
        self.rows_written = 0
        self._load_positions()

    def _load_positions(self) -> None:
        """What the store already holds, so redeliveries are recognised without a query per record."""
        for shard, high in self._client.query("SELECT shard, max(seq) FROM ledger_records GROUP BY shard").result_rows:
            self._high_seq[int(shard)] = int(high)
        result = self._client.query(
            "SELECT shard, tree_size, root_hash FROM ledger_checkpoints", column_formats={"root_hash": "bytes"}
        )
        self._checkpoints = {(int(s), int(n), bytes(r)) for s, n, r in result.result_rows}

    def _stored_leaves(self, shard: int, seqs: list[int]) -> dict[int, set[bytes]]:
        result = self._client.query(
            "SELECT seq, leaf_hash FROM ledger_records WHERE shard = {shard:UInt32} AND seq IN {seqs:Array(UInt64)}",
            parameters={"shard": shard, "seqs": seqs},
            column_formats={"leaf_hash": "bytes"},
        )
        stored: dict[int, set[bytes]] = defaultdict(set)
        for seq, leaf in result.result_rows:
            stored[int(seq)].add(bytes(leaf))
        return stored

    def _record_rows(self, messages: list[Message]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Rows for ledger_records and for ledger_arrivals (ledger/anomalies.py decides: a record's first arrival
        is stored, the same message again is a redelivery, the same record at another offset is a replay, and
        a record on a partition that is not its shard is misrouted; neither of the last two is stored)."""
        candidates: list[tuple[dict, dict, Arrival]] = []
        for msg in messages:
            record = self._store.decode(msg.value(), reader="LedgerRecord")
            entry = self._store.decode(record["entry"], reader="LedgerEntry")
            arrival = Arrival(record["shard"], record["seq"], bytes(record["leaf_hash"]), msg.partition(), msg.offset())
            candidates.append((record, entry, arrival))
        seen_again = defaultdict(list)
        for record, _, arrival in candidates:
            if record["seq"] <= self._high_seq.get(record["shard"], -1) or arrival.partition != arrival.shard:
                seen_again[record["shard"]].append(record["seq"])
        stored = {shard: self._stored_leaves(shard, seqs) for shard, seqs in seen_again.items()}
        known = {shard: read_arrivals(self._client, shard, seqs) for shard, seqs in seen_again.items()}
        rows, arrivals = [], []
        now = datetime.now(UTC)
        for record, entry, arrival in candidates:
            shard, seq, leaf = arrival.shard, arrival.seq, arrival.leaf_hash
            existing = stored.get(shard, {}).get(seq)
            kept = known.setdefault(shard, {}).setdefault((seq, leaf), [])
            verdict = judge_arrival(arrival, kept, existing is not None and leaf in existing)
            if verdict.arrival is not None:
                kind, original = verdict.arrival
                arrivals.append(arrival_row(arrival, kind, original, now))
                kept.append(KnownArrival(kind, arrival.partition, arrival.offset))
                if kind != "stored":
                    log.error("shard %d seq %d: %s record on audit.ledger partition %d offset %d (original at %d)",
                              shard, seq, kind, arrival.partition, arrival.offset, original)  # fmt: skip
            if not verdict.store:
                continue  # a redelivery of what is stored, or a replayed or misrouted copy (kept as an arrival)
            if existing:
                log.error("shard %d seq %d: a different record arrived for a stored position (tampering?)", shard, seq)
            rows.append(record_row(record, entry))
            stored.setdefault(shard, {}).setdefault(seq, set()).add(leaf)
            self._high_seq[shard] = max(self._high_seq.get(shard, -1), seq)
        return rows, arrivals

    def _checkpoint_rows(self, messages: list[Message]) -> list[tuple[Any, ...]]:
        """Rows for checkpoints whose records are stored; the others stay held for a later batch."""
        rows, held = [], []
        for msg in messages:
            cp = self._store.decode(msg.value(), reader="Checkpoint")
            key = (cp["shard"], cp["tree_size"], bytes(cp["root_hash"]))
            if key in self._checkpoints:
                continue
            if cp["tree_size"] > self._high_seq.get(cp["shard"], -1) + 1:
                held.append(msg)
                continue
            self._checkpoints.add(key)
            rows.append(checkpoint_row(cp, msg.value()))
        self._held = held
        return rows

    def _commit_offsets(self, messages: list[Message]) -> list[TopicPartition]:
        """Next offset per partition, but never past a held checkpoint (it must be redelivered after a crash)."""
        positions: dict[tuple[str, int], int] = {}
        for msg in messages:
            key = (msg.topic(), msg.partition())
            positions[key] = max(positions.get(key, 0), msg.offset() + 1)
        for msg in self._held:
            key = (msg.topic(), msg.partition())
            positions[key] = min(positions.get(key, msg.offset()), msg.offset())
        return [TopicPartition(t, p, o) for (t, p), o in positions.items()]

    def run_once(self, timeout_s: float = 0.5) -> int:
        """Consume one batch, insert it, then commit; returns the number of messages handled."""
        messages = self._consumer.consume(self._batch_size, timeout_s)
        records, checkpoints = [], list(self._held)
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise SinkError(f"consume failed: {err.str()}")
            (records if msg.topic() == self._ledger_topic else checkpoints).append(msg)
        if not records and not checkpoints:
            return 0
        # Records before checkpoints: a stored checkpoint never points past stored records.
        record_rows, arrival_rows = self._record_rows(records)
        if record_rows:
            self._client.insert("ledger_records", record_rows, column_names=list(RECORD_COLUMNS))
            self.rows_written += len(record_rows)
        if arrival_rows:  # after the records: a crash in between adopts the stored record's arrival on redelivery
            self._client.insert("ledger_arrivals", arrival_rows, column_names=list(ARRIVAL_COLUMNS))
        checkpoint_rows = self._checkpoint_rows(checkpoints)
        if checkpoint_rows:
            self._client.insert("ledger_checkpoints", checkpoint_rows, column_names=list(CHECKPOINT_COLUMNS))
        offsets = self._commit_offsets(records + checkpoints)
        if offsets:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        return len(messages)

    def close(self) -> None:
        self._consumer.close()
