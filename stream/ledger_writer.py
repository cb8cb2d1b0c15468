"""The ledger path: audit.events + audit.approvals -> audit.ledger / audit.checkpoints / audit.alerts /
audit.deadletter / audit.approvals.state / audit.siem, one Kafka transaction per batch, with the input offsets committed
inside the same transaction (KIP-447).

The approval table is the join's state: held in memory, read back from audit.approvals.state at start
and after a rebalance, and changed only by batches whose transaction commits (an aborted batch's
changes are rolled back). It plays the part of a Faust table with its changelog, but inside the
ledger's own transaction: a Faust table commits in Faust's transactions, so after a crash the table
and the ledger records of the same approval steps could disagree.

Why not a Faust agent: Faust's exactly-once send path keys the transaction on the destination topic's
partition as its consumer knows it; for a topic the app does not consume (audit.ledger) that lookup
fails, and the record is sent to a random partition outside the transaction (seen on this stack).
So the Faust app hosts this loop as a service, and the loop uses Kafka transactions directly.
Correctness still does not rest on the transactions alone: see stream.recovery.
"""

from __future__ import annotations

import logging
import threading
import time
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
from auditledger.kafka_security import client_security
from ledger.keyring import SigningKeys
from schemas import SchemaStore
from stream.admission_config import admission_of, dead_letters_of
from stream.approval_changelog import ChangelogFollower
from stream.approval_join import ApprovalJoin
from stream.failpoints import from_environment as failpoints_from_environment
from stream.ocsf import OcsfProduct
from stream.ocsf_feed import OcsfFeed
from stream.partition_reader import tail_consumer
from stream.recovery import ShardRecovery
from stream.sequencer import LedgerSequencer, RawEvent

log = logging.getLogger("auditledger.stream")

GROUP_ID = "auditledger-stream"
SEND_OFFSETS_TIMEOUT_S = 30.0
COMMIT_TIMEOUT_S = 60.0
STALL_GRACE_S = 15.0  # past a call's own timeout: it will not return (stream/writer_supervisor.py rebuilds)
# Throughput settings (benchmarks/path_benchmark.py measures the produce cost with PRODUCER_TUNING).
PRODUCER_TUNING: dict[str, int | str] = {
    "linger.ms": 5,
    "batch.size": 1024 * 1024,
    "compression.type": "lz4",
    "message.max.bytes": 16 * 1024 * 1024,
}
CONSUMER_TUNING: dict[str, int | str] = {
    "fetch.max.bytes": 16 * 1024 * 1024,
    # Prefetch at most 8 MB (about 8,000 events, several batches) instead of librdkafka's 64 MB, which a lagging
    # worker fills (peak RSS over 150k events at max rate: 272 -> 218 MiB, benchmarks/path_benchmark.py).
    "queued.max.messages.kbytes": 8 * 1024,
}


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
                           "alerts": topics.alerts, "approvals_state": topics.approvals_state,
                           "siem": topics.siem}  # fmt: skip
        self._source_role = {topics.events: "events", topics.approvals: "approvals"}
        kafka_config = {**client_security(settings), **(kafka_config or {})}  # TLS/SASL: every client below
        common = {"bootstrap.servers": settings.kafka_bootstrap, **kafka_config}
        self._consumer = Consumer(
            {
                **common,
                "group.id": GROUP_ID,
                "group.instance.id": f"{GROUP_ID}-{worker_id}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10000,
                # An input partition's end, as read_committed sees it: past a transactional producer's commit
                # marker, which takes an offset below the high watermark (producers/background_delivery.py).
                "enable.partition.eof": True,
                **CONSUMER_TUNING,
                # range: partition p of audit.events and of audit.approvals go to the same worker, the owner of shard p
                "partition.assignment.strategy": "range",
            }
        )
        self._producer = Producer(
            {
                **common,
                "transactional.id": f"auditledger-ledger-{worker_id}",
                "enable.idempotence": True,
                "transaction.timeout.ms": 10000,
                **PRODUCER_TUNING,
            }
        )
        self._recovery = ShardRecovery(settings.kafka_bootstrap, topics.ledger, topics.checkpoints, self._store,
                                       consumer_config=dict(kafka_config or {}))  # fmt: skip
        admission = admission_of(settings)  # refuse to start on a bad policy or a missing masking key
        dead_letters = dead_letters_of(settings, self._store, admission)
        signing_keys = SigningKeys(settings.signing_keys_dir)
        signing_keys.signers(datetime.now(UTC))  # refuse to start without a usable key (missing, or readable by others)
        self._state_reader = tail_consumer(settings.kafka_bootstrap, "auditledger-approvals-state", kafka_config)
        self._approvals_follower = ChangelogFollower(self._state_reader, topics.approvals_state, self._store)
        self._sequencer = LedgerSequencer(
            self._store,
            self._recover,
            log_origin=settings.log_origin,
            source_topic=topics.events,
            signers=signing_keys.signers,
            admission=admission,
            dead_letters=dead_letters,
            state_partitions=settings.partitions,
            checkpoint_every_records=settings.checkpoint_every_records,
            checkpoint_every_ms=settings.checkpoint_every_ms,
            siem=OcsfFeed(OcsfProduct.installed(settings.log_origin)),
        )
        self._assignment_changed = False
        self._reported: dict[int, float] = {}
        self._failpoints = failpoints_from_environment()  # tests only; off unless set (stream/failpoints.py)
        self._call_deadline: float | None = None  # set while a transactional call with a timeout is under way

    def _recover(self, shard: int):
        chain = self._recovery(shard)
        log.warning("shard %d recovered from its output: next seq %d, last input offset %d",
                    shard, chain.next_seq, chain.last_source_offset)  # fmt: skip
        return chain

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assignment_changed = True

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assignment_changed = True

    def _load_approvals(self) -> None:
        """(Re)read the whole approval table from its changelog; between rebalances it follows it (run)."""
        book = self._approvals_follower.load()
        self._sequencer.approvals = ApprovalJoin(self._sequencer.approvals.policy, book)
        log.warning("approval table loaded from its changelog: %d requests", len(book))

    def _drained(self, last: dict[tuple[str, int], int], ended: set[tuple[str, int]]) -> set[int]:
        """Shards whose every input read in this batch is at its end: the consumer said so (`ended`), or
        nothing lies past the last offset read (a commit marker lies past it when the input was written in
        transactions, so the watermark alone would never call that partition drained)."""
        behind = set()
        for (topic, shard), offset in last.items():
            if (topic, shard) in ended:
                continue
            try:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, shard), cached=True)
            except KafkaException:
                high = -1
            if high >= 0 and offset + 1 < high:
                behind.add(shard)
        return {shard for _, shard in last} - behind

    def _rewind_to_committed(self) -> None:
        """After an aborted transaction, re-read from what was committed and rebuild every shard."""
        assignment = self._consumer.assignment()
        if assignment:
            for tp in self._consumer.committed(assignment, timeout=30):
                self._consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))
        self._sequencer.rollback()

    def process(self, messages: list[Message]) -> None:
        raws: list[RawEvent] = []
        last: dict[tuple[str, int], int] = {}
        ended: set[tuple[str, int]] = set()  # partitions at their end after this batch's messages
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.fatal():  # e.g. a static member fenced after a broker restart: rebuild (stream/services.py)
                    raise KafkaException(err)
                if err.code() == KafkaError._PARTITION_EOF:
                    ended.add((msg.topic(), msg.partition()))
                else:  # transient (broker away): librdkafka retries
                    self._report_transient(err)
                continue
            role = self._source_role[msg.topic()]
            raws.append(RawEvent(msg.partition(), msg.offset(), msg.value(), _appended_at(msg), topic=role))
            last[(msg.topic(), msg.partition())] = msg.offset()
            ended.discard((msg.topic(), msg.partition()))
        if raws:
            result = self._sequencer.process(raws, idle=self._drained(last, ended))
        elif ended:  # the end came in a batch of its own: anchor the tails the last batch left open
            result = self._sequencer.anchor_idle({shard for _, shard in ended})
            if not result.outputs:
                return
        else:
            return
        if any(out.role == "checkpoints" for out in result.outputs):
            self._failpoints.hit("checkpoint_signed")
        self._producer.begin_transaction()
        try:
            for out in result.outputs:
                self._produce(self._out_topic[out.role], out.value, out.partition, out.key)
            offsets = [TopicPartition(topic, p, o + 1) for (topic, p), o in last.items()]
            if offsets:
                self._expect_return_within(SEND_OFFSETS_TIMEOUT_S)
                self._producer.send_offsets_to_transaction(offsets, self._consumer.consumer_group_metadata(),
                                                           SEND_OFFSETS_TIMEOUT_S)  # fmt: skip
            self._failpoints.hit("batch_before_commit")
            self._expect_return_within(COMMIT_TIMEOUT_S)
            self._producer.commit_transaction(COMMIT_TIMEOUT_S)
            self._call_deadline = None
            self._sequencer.commit()
        except KafkaException as exc:
            self._call_deadline = None
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

    def _expect_return_within(self, timeout_s: float) -> None:
        self._call_deadline = time.monotonic() + timeout_s + STALL_GRACE_S

    def stalled(self) -> bool:
        """A transactional call has overrun its own timeout by STALL_GRACE_S: the client is stuck, not slow.

        Seen on this stack after a broker restart: send_offsets_to_transaction(..., 30) still blocked minutes
        later (probably librdkafka#5511, a group coordinator cached from before the restart). The supervisor
        then abandons this writer and builds a new one, whose transactional id and static member id fence it."""
        deadline = self._call_deadline
        return deadline is not None and time.monotonic() > deadline

    def _report_transient(self, err: KafkaError) -> None:
        """Log a transient consumer error once per kind and minute, not once per poll."""
        now = time.monotonic()
        if now - self._reported.get(err.code(), -60.0) >= 60.0:
            self._reported[err.code()] = now
            log.warning("consumer: %s (transient; retrying)", err.str())

    def _produce(self, topic: str, value: bytes | None, partition: int, key: bytes | None = None) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, partition=partition)
                return
            except BufferError:
                self._producer.poll(0.05)

    def run(self, stop: threading.Event) -> None:
        self._producer.init_transactions(60)
        topics = self.settings.topics
        self._consumer.subscribe([topics.events, topics.approvals], on_assign=self._on_assign,
                                 on_revoke=self._on_revoke)  # fmt: skip
        try:
            while not stop.is_set():
                messages = self._consumer.consume(self.settings.stream_batch_size, self.settings.stream_batch_within_s)
                if self._assignment_changed:
                    # Another worker may have written these shards meanwhile: rebuild from the output.
                    self._sequencer.forget_all()
                    self._load_approvals()
                    self._assignment_changed = False
                # Steps other workers folded (their requests live on their partitions), before this batch is judged.
                self._approvals_follower.poll(self._sequencer.approvals.book)
                self.process(messages)
        finally:
            self.close()

    def close(self) -> None:
        try:
            self._consumer.close()
        finally:
            self._recovery.close()
            self._state_reader.close()
            self._producer.flush(10)
