"""Reading the approval table back from its changelog (audit.approvals.state) when a worker starts."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from schemas import SchemaStore
from stream.approvals.book import ApprovalBook
from stream.partition_reader import messages_to_end


def load_approval_book(consumer: Consumer, topic: str, store: SchemaStore, timeout_s: float = 60.0) -> ApprovalBook:
    """Every partition read to its end (committed records only); the last record of a key wins."""
    book = ApprovalBook()
    partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
    for partition in sorted(partitions):
        low, _ = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
        for msg in messages_to_end(consumer, topic, partition, low, timeout_s):
            key = msg.key()
            if key is None:
                continue
            value = msg.value()
            book.load(key.decode(), store.decode(value, reader="ApprovalState") if value is not None else None)
    return book
