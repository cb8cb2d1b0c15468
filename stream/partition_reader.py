"""Reading one partition from an offset to its end, where the end is only known once no transaction is open.

Used wherever a process needs all of a topic as it stands: recovery of a shard's tail, the dead-letter
commands, the tests that search every byte of a topic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from auditledger.kafka_security import client_security


class PartitionReadError(RuntimeError):
    """A partition could not be read to its end; whoever needed its tail must not go on without it."""


def tail_consumer(bootstrap: str, group_id: str, extra: dict | None = None) -> Consumer:
    """A consumer for read_to_end: assigned partitions, no commits, read_committed unless `extra` says."""
    config = {
        "bootstrap.servers": bootstrap,
        **client_security(),  # TLS/SASL from the configuration; `extra` still wins
        "group.id": group_id,
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 10,
    }
    config.update(extra or {})
    return Consumer(config)


def read_to_end(
    consumer: Consumer, topic: str, partition: int, start: int, timeout_s: float
) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, value) from `start` to the end of the partition, once no transaction is open on it."""
    for msg in messages_to_end(consumer, topic, partition, start, timeout_s):
        yield msg.offset(), msg.value()


def messages_to_end(
    consumer: Consumer, topic: str, partition: int, start: int, timeout_s: float, end: int | None = None
) -> Iterator[Message]:
    """Yield the messages from `start` to the end of the partition, once no transaction is open on it.

    A read_committed consumer stops at the last stable offset. While a transaction is still open
    (a dead worker's, not yet fenced or timed out) that is below the high watermark, and the tail
    read there would be stale: so keep waiting until the position reaches the high watermark.
    With `end`, read to that offset only (a high watermark taken earlier), so that transactions
    opened since, on a busy partition, cannot keep the read waiting.
    """
    tp = TopicPartition(topic, partition, start)
    consumer.assign([tp])
    deadline = time.monotonic() + timeout_s
    while True:
        msg = consumer.poll(1.0)
        if msg is None:
            if time.monotonic() > deadline:
                raise PartitionReadError(f"{topic}[{partition}]: no answer within {timeout_s}s while reading the tail")
            continue
        err = msg.error()
        if err is None:
            if msg.offset() >= start:  # never a message prefetched for an earlier read
                yield msg
            if end is not None and msg.offset() >= end - 1:
                return
            continue
        if err.code() != KafkaError._PARTITION_EOF:
            raise PartitionReadError(f"{topic}[{partition}]: {err.str()}")
        position = msg.offset()
        if end is not None:
            high = end
        else:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s, cached=False)
        if position >= high:
            return
        if time.monotonic() > deadline:
            raise PartitionReadError(
                f"{topic}[{partition}]: a transaction stays open below offset {high} (stable up to {position})"
            )
        time.sleep(0.2)
