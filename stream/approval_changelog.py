"""Reading the approval table from its changelog (audit.approvals.state): whole at start and after a
rebalance, then following every partition's new records between batches (ChangelogFollower).

Copies of one request's state written by different workers are merged (stream/approvals/merge.py),
not taken last-wins: the last record of a key can be an action owner's copy with an older fold."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from schemas import SchemaStore
from stream.approvals.book import ApprovalBook
from stream.partition_reader import messages_to_end

log = logging.getLogger("auditledger.stream")


def load_approval_book(consumer: Consumer, topic: str, store: SchemaStore, timeout_s: float = 60.0) -> ApprovalBook:
    """Every partition read to its end (committed records only), merged in offset order; a tombstone deletes."""
    return read_approval_changelog(consumer, topic, store, timeout_s)[0]


def read_approval_changelog(
    consumer: Consumer, topic: str, store: SchemaStore, timeout_s: float = 60.0
) -> tuple[ApprovalBook, list[TopicPartition]]:
    """The table, and where each partition's read ended (where following it starts)."""
    book = ApprovalBook()
    ends: list[TopicPartition] = []
    partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
    for partition in sorted(partitions):
        low, _ = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
        end = low
        for msg in messages_to_end(consumer, topic, partition, low, timeout_s):
            end = msg.offset() + 1
            _apply(book, msg.key(), msg.value(), store, loading=True)
        ends.append(TopicPartition(topic, partition, end))
    return book, ends


def _apply(book: ApprovalBook, key: bytes | None, value: bytes | None, store: SchemaStore, loading: bool) -> bool:
    if key is None:
        return False
    state = store.decode(value, reader="ApprovalState") if value is not None else None
    if state is None and loading:
        book.load(key.decode(), None)
        return True
    return book.follow(key.decode(), state)


class ChangelogFollower:
    """Keeps a worker's approval table up to date with every partition of the changelog, not only its own.

    `load` reads the whole table (at start and after each rebalance); `poll`, called between batches,
    merges what any worker committed since, without waiting. Reads are read_committed, so another
    worker's aborted batch never reaches the table; this worker's own records come back too and are
    harmless to merge (stream/approvals/merge.py)."""

    def __init__(self, consumer: Consumer, topic: str, store: SchemaStore, timeout_s: float = 60.0) -> None:
        self._consumer = consumer
        self._topic = topic
        self._store = store
        self._timeout = timeout_s
        self._following = False

    def load(self) -> ApprovalBook:
        self._following = False
        book, ends = read_approval_changelog(self._consumer, self._topic, self._store, self._timeout)
        self._consumer.assign(ends)
        self._following = True
        return book

    def poll(self, book: ApprovalBook, max_records: int = 5000) -> int:
        """Merge the records already fetched (no wait); how many changed the table."""
        if not self._following:
            return 0
        changed = 0
        seen = 0
        while seen < max_records:
            messages = self._consumer.consume(min(500, max_records - seen), 0)
            if not messages:
                return changed
            for msg in messages:
                seen += 1
                err = msg.error()
                if err is not None:
                    if err.fatal():
                        raise KafkaException(err)
                    if err.code() != KafkaError._PARTITION_EOF:
                        log.debug("approval changelog follower: %s (transient)", err.str())
                    continue
                changed += _apply(book, msg.key(), msg.value(), self._store, loading=False)
        return changed
