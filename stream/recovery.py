"""Rebuilding a shard's writer state from the tail of its own output, not from Faust's bookkeeping.

The shard's last committed checkpoint gives the frontier, last leaf and last consumed input offset;
ledger records after it (if a crash left any) are folded in. Reads are read_committed, so an aborted
transaction of a dead worker leaves no trace here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, TopicPartition

from schemas import SchemaStore
from stream.shard_chain import ShardChain

TAIL_WINDOW = 64


class RecoveryError(RuntimeError):
    """The shard's output could not be read or does not add up; the writer must not start."""


def _consumer(bootstrap: str, extra: dict | None = None) -> Consumer:
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": "auditledger-recovery",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 10,
    }
    config.update(extra or {})
    return Consumer(config)


def _read_from(consumer: Consumer, topic: str, partition: int, start: int, timeout_s: float) -> Iterator[bytes]:
    """Yield values from `start` to the end of the partition, once no transaction is open on it.

    A read_committed consumer stops at the last stable offset. While a transaction is still open
    (a dead worker's, not yet fenced or timed out) that is below the high watermark, and the tail
    read there would be stale: so keep waiting until the position reaches the high watermark.
    """
    tp = TopicPartition(topic, partition, start)
    consumer.assign([tp])
    deadline = time.monotonic() + timeout_s
    while True:
        msg = consumer.poll(1.0)
        if msg is None:
            if time.monotonic() > deadline:
                raise RecoveryError(f"{topic}[{partition}]: no answer within {timeout_s}s while reading the tail")
            continue
        err = msg.error()
        if err is None:
            if msg.offset() >= start:  # never a message prefetched for an earlier read
                yield msg.value()
            continue
        if err.code() != KafkaError._PARTITION_EOF:
            raise RecoveryError(f"{topic}[{partition}]: {err.str()}")
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s, cached=False)
        position = msg.offset()
        if position >= high:
            return
        if time.monotonic() > deadline:
            raise RecoveryError(
                f"{topic}[{partition}]: a transaction stays open below offset {high} (stable up to {position})"
            )
        time.sleep(0.2)


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
        self._consumer = _consumer(bootstrap, consumer_config)
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
            for value in _read_from(self._consumer, self._checkpoints, shard, start, self._timeout):
                last = self._store.decode(value, reader="Checkpoint")
            if last is not None or start == low:
                return last
            window *= 4

    def records_from(self, shard: int, first_seq: int) -> list[tuple[int, bytes, int]]:
        """(seq, leaf, source_offset) of every committed record with seq >= first_seq, in order."""
        low, high = self._bounds(self._ledger, shard)
        window = TAIL_WINDOW
        while True:
            start = low if first_seq == 0 else max(low, high - window)
            found: list[tuple[int, bytes, int]] = []
            earliest_seen = None
            for value in _read_from(self._consumer, self._ledger, shard, start, self._timeout):
                record = self._store.decode(value, reader="LedgerRecord")
                if earliest_seen is None:
                    earliest_seen = record["seq"]
                if record["seq"] >= first_seq:
                    entry = self._store.decode(record["entry"], reader="LedgerEntry")
                    found.append((record["seq"], record["leaf_hash"], entry["source_offset"]))
            if start == low or earliest_seen is None or earliest_seen <= first_seq:
                return found
            window *= 4

    def __call__(self, shard: int) -> ShardChain:
        checkpoint = self.last_checkpoint(shard)
        chain = ShardChain.from_checkpoint(checkpoint) if checkpoint else ShardChain(shard=shard)
        for seq, leaf, source_offset in self.records_from(shard, chain.next_seq):
            chain.replay_written(seq, leaf, source_offset)
        return chain
