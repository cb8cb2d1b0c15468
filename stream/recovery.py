"""Rebuilding a shard's writer state from the tail of its own output, not from Faust's bookkeeping.

The shard's last committed checkpoint gives the frontier, last leaf and last consumed input offset;
ledger records after it (if a crash left any) are folded in. Reads are read_committed, so an aborted
transaction of a dead worker leaves no record here, only used offsets (see tail_reaches); records that are
not the stream's own writes are left out (see own_records).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import TopicPartition

from schemas import SchemaStore
from stream.partition_reader import read_to_end, tail_consumer
from stream.shard_chain import ShardChain

TAIL_WINDOW = 64


def tail_reaches(start: int, low: int, earliest_seq: int | None, first_seq: int) -> bool:
    """Whether a tail read from offset `start` holds every committed record from `first_seq` on.

    A window that saw no committed record proves nothing: a dead worker's aborted transaction can fill it
    (its records and markers take offsets, read_committed skips them). Only the partition's start does."""
    return start == low or (earliest_seq is not None and earliest_seq <= first_seq)


def own_records(shard: int, first_seq: int, records: Iterable[Mapping[str, Any]]) -> tuple[int | None, list]:
    """The seq of the first record of `shard` read, and its records with seq >= first_seq, in offset order.

    Someone with write access to audit.ledger can put another shard's record on this partition (misrouted) or
    an exact copy of a record again (replayed); the sink keeps and verify names both. Recovery must not fold
    them in, or one message would stop the writer (a seq out of order) or graft a foreign leaf onto the chain.
    A *different* record at a seq already seen is kept: folding it fails, and a fork must stop the writer."""
    earliest: int | None = None
    kept: list[Mapping[str, Any]] = []
    leaves: dict[int, bytes] = {}
    for record in records:
        if record["shard"] != shard:
            continue
        seq, leaf = record["seq"], bytes(record["leaf_hash"])
        if earliest is None:
            earliest = seq
        if seq < first_seq or leaves.get(seq) == leaf:
            continue
        leaves[seq] = leaf
        kept.append(record)
    return earliest, kept


class ShardRecovery:
    """Callable that recovers a ShardChain for a shard; one Kafka consumer reused across shards."""

    def __init__(
        self,
        bootstrap: str,
        ledger_topic: str,
        checkpoints_topic: str,
        store: SchemaStore,
        timeout_s: float = 60.0,
        consumer_config: dict | None = None,
    ) -> None:
        self._consumer = tail_consumer(bootstrap, "auditledger-recovery", consumer_config)
        self._ledger = ledger_topic
        self._checkpoints = checkpoints_topic
        self._store = store
        self._timeout = timeout_s

    def close(self) -> None:
        self._consumer.close()

    def _bounds(self, topic: str, shard: int) -> tuple[int, int]:
        return self._consumer.get_watermark_offsets(TopicPartition(topic, shard), timeout=self._timeout)

    def last_checkpoint(self, shard: int) -> dict | None:
        low, high = self._bounds(self._checkpoints, shard)
        window = TAIL_WINDOW
        while True:
            start = max(low, high - window)
            last = None
            for _, value in read_to_end(self._consumer, self._checkpoints, shard, start, self._timeout):
                checkpoint = self._store.decode(value, reader="Checkpoint")
                # Another shard's checkpoint, or an old one produced again, is not this shard's head.
                if checkpoint["shard"] == shard and (last is None or checkpoint["tree_size"] > last["tree_size"]):
                    last = checkpoint
            if last is not None or start == low:
                return last
            window *= 4

    def records_from(self, shard: int, first_seq: int) -> list[tuple[int, bytes, int, str]]:
        """(seq, leaf, source_offset, source_topic) of every committed record with seq >= first_seq, in order."""
        low, high = self._bounds(self._ledger, shard)
        window = TAIL_WINDOW
        while True:
            start = low if first_seq == 0 else max(low, high - window)
            tail = read_to_end(self._consumer, self._ledger, shard, start, self._timeout)
            records = (self._store.decode(value, reader="LedgerRecord") for _, value in tail)
            earliest_seen, kept = own_records(shard, first_seq, records)
            if tail_reaches(start, low, earliest_seen, first_seq):
                found = []
                for record in kept:
                    entry = self._store.decode(record["entry"], reader="LedgerEntry")
                    found.append((record["seq"], record["leaf_hash"], entry["source_offset"], entry["source_topic"]))
                return found
            window *= 4

    def __call__(self, shard: int) -> ShardChain:
        checkpoint = self.last_checkpoint(shard)
        chain = ShardChain.from_checkpoint(checkpoint) if checkpoint else ShardChain(shard=shard)
        for seq, leaf, source_offset, source_topic in self.records_from(shard, chain.next_seq):
            chain.replay_written(seq, leaf, source_offset, source_topic)
        return chain
