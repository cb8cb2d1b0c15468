"""The ledger path: audit.events -> audit.ledger / audit.checkpoints / audit.alerts / audit.deadletter, one Kafka
transaction per batch, with the input offsets committed inside the same transaction (KIP-447).

Why not a Faust agent: Faust's exactly-once send path keys the transaction on the destination topic's
partition as its consumer knows it; for a topic the app does not consume (audit.ledger) that lookup
fails, and the record is sent to a random partition outside the transaction (seen on this stack).
So the Faust app hosts this loop as a service, and the loop uses Kafka transactions directly.
Correctness still does not rest on the transactions alone: see stream.recovery.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from confluent_kafka import (
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from auditledger.config import Settings
from ledger.keyring import SigningKeys
from schemas import SchemaStore
from stream.admission_config import admission_of, dead_letters_of
from stream.recovery import ShardRecovery
from stream.sequencer import LedgerSequencer, RawEvent

log = logging.getLogger("auditledger.stream")

GROUP_ID = "auditledger-stream"


def _appended_at(msg: Message) -> datetime | None:
    """The broker's append time, which the emitter cannot set: the time a credential is judged at."""
    kind, millis = msg.timestamp()
    return datetime.fromtimestamp(millis / 1000, UTC) if kind == TIMESTAMP_LOG_APPEND_TIME else None


class LedgerWriter:
    """Consume-sequence-produce loop; `run(stop)` until the event is set. Raises on fatal errors."""

    def __init__(self, settings: Settings, worker_id: str = "0", kafka_config: Mapping[str, str] | None = None):
        self.settings = settings
        self._store = SchemaStore()
        topics = settings.topics
        self._out_topic = {"ledger": topics.ledger, "checkpoints": topics.checkpoints, "deadletter": topics.deadletter,
                           "alerts": topics.alerts}  # fmt: skip
        common = {"bootstrap.servers": settings.kafka_bootstrap, **(kafka_config or {})}
        self._consumer = Consumer(
            {
                **common,
                "group.id": GROUP_ID,
                "group.instance.id": f"{GROUP_ID}-{worker_id}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10000,
                "fetch.max.bytes": 16 * 1024 * 1024,
            }
        )
        self._producer = Producer(
            {
                **common,
                "transactional.id": f"auditledger-ledger-{worker_id}",
                "enable.idempotence": True,
                "transaction.timeout.ms": 10000,
                "linger.ms": 5,
                "batch.size": 1024 * 1024,
                "compression.type": "lz4",
                "message.max.bytes": 16 * 1024 * 1024,
            }
        )
        self._recovery = ShardRecovery(settings.kafka_bootstrap, topics.ledger, topics.checkpoints, self._store,
                                       consumer_config=dict(kafka_config or {}))  # fmt: skip
        admission = admission_of(settings)  # refuse to start on a bad policy or a missing masking key
        dead_letters = dead_letters_of(settings, self._store, admission)
        signing_keys = SigningKeys(settings.signing_keys_dir)
        signing_keys.signers(datetime.now(UTC))  # refuse to start without a usable key (missing, or readable by others)
        self._sequencer = LedgerSequencer(
            self._store,
            self._recover,
            log_origin=settings.log_origin,
            source_topic=topics.events,
            signers=signing_keys.signers,
            admission=admission,
            dead_letters=dead_letters,
            checkpoint_every_records=settings.checkpoint_every_records,
            checkpoint_every_ms=settings.checkpoint_every_ms,
        )
        self._assignment_changed = False

    def _recover(self, shard: int):
        chain = self._recovery(shard)
        log.warning("shard %d recovered from its output: next seq %d, last input offset %d",
                    shard, chain.next_seq, chain.last_source_offset)  # fmt: skip
        return chain

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assignment_changed = True

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assignment_changed = True

    def _drained(self, last: dict[int, int]) -> set[int]:
        drained = set()
        for shard, offset in last.items():
            try:
                _, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.settings.topics.events, shard), cached=True
                )
            except KafkaException:
                high = -1
            if high < 0 or offset + 1 >= high:
                drained.add(shard)
        return drained

    def _rewind_to_committed(self) -> None:
        """After an aborted transaction, re-read from what was committed and rebuild every shard."""
        assignment = self._consumer.assignment()
        if assignment:
            for tp in self._consumer.committed(assignment, timeout=30):
                self._consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))
        self._sequencer.forget_all()

    def process(self, messages: list[Message]) -> None:
        raws: list[RawEvent] = []
        last: dict[int, int] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(err)
            raws.append(RawEvent(msg.partition(), msg.offset(), msg.value(), _appended_at(msg)))
            last[msg.partition()] = msg.offset()
        if not raws:
            return
        result = self._sequencer.process(raws, idle=self._drained(last))
        self._producer.begin_transaction()
        try:
            for out in result.outputs:
                self._produce(self._out_topic[out.role], out.value, out.partition)
            offsets = [TopicPartition(self.settings.topics.events, p, o + 1) for p, o in last.items()]
            self._producer.send_offsets_to_transaction(offsets, self._consumer.consumer_group_metadata(), 30)
            self._producer.commit_transaction(60)
        except KafkaException as exc:
            error = exc.args[0]
            if error.fatal():
                raise
            log.error("transaction aborted (%s); rewinding to the committed position", error.str())
            try:
                self._producer.abort_transaction(60)
            except KafkaException as abort_exc:
                if abort_exc.args[0].fatal():
                    raise
            self._rewind_to_committed()
            return
        if result.dead_lettered or result.skipped_redelivered or result.alerts:
            log.warning("batch: %d sequenced, %d alerts, %d dead-lettered, %d redelivered inputs skipped",
                        result.appended, result.alerts, result.dead_lettered, result.skipped_redelivered)  # fmt: skip

    def _produce(self, topic: str, value: bytes, partition: int) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, partition=partition)
                return
            except BufferError:
                self._producer.poll(0.05)

    def run(self, stop: threading.Event) -> None:
        self._producer.init_transactions(60)
        self._consumer.subscribe([self.settings.topics.events], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                messages = self._consumer.consume(self.settings.stream_batch_size, self.settings.stream_batch_within_s)
                if self._assignment_changed:
                    # Another worker may have written these shards meanwhile: rebuild from the output.
                    self._sequencer.forget_all()
                    self._assignment_changed = False
                self.process(messages)
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._consumer.close()
        finally:
            self._recovery.close()
            self._producer.flush(10)
