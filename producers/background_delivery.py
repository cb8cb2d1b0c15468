"""Delivering audit events to Kafka from a background thread through a disk spool, so callers never wait on Kafka.

`submit` encodes an event and appends it to the spool (`producers.spool.DiskSpool`), then returns: the
caller's cost is an Avro encode and a write to the OS. A thread reads the spool and produces to Kafka
(idempotent, acks=all, key = session id so a session stays in order, `message.timeout.ms` = 0 so a
broker that is away only delays delivery). At most `max_in_flight` events are in the producer at once;
the rest wait on disk, so memory stays bounded however long Kafka is away. Each confirmation
acknowledges the event in the spool; the cursor is committed every `sync_interval_s`.

Permanent errors (message too large, not authorised, ...) never block the queue and are never
dropped silently: the event is moved to `<spool dir>/rejected/<index>.avro` with a `.json` beside it
(event id, reason), logged (event id and reason only) and passed to `on_delivery_error(event_id, reason)`.

Exactly once (the default): each batch read from the spool is produced in one Kafka transaction together with
a cursor record on `audit.spool.cursors` (producers/delivery_cursor.py), and acknowledged in the spool only
after the commit. A restart (of the process, or of a producer after a fatal error) first fences and aborts
whatever its predecessor left open, then reads the committed cursor and resumes there: an event is in the
log once, whenever the process died. The stream reads audit.events read_committed, so an aborted batch is
never seen. The emitter's Kafka user needs write on the cursor topic and the `auditledger-spool-` transactional
ids (docker-compose.yml's ACL job).

`exactly_once=False` is plain idempotent delivery, for a cluster that grants no transactions. Restarts then
resend every event the spool's cursor does not acknowledge: an event Kafka confirmed whose acknowledgement was
not yet committed (at most `sync_interval_s` of confirmations, or what was in flight when the process died) is
sent again after a restart, with its event_id, so such a duplicate is recognisable; nothing is lost.
"""

from __future__ import annotations

import json
import logging
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from auditledger.config import Settings
from auditledger.kafka_security import client_security
from producers.delivery_cursor import (
    DEFAULT_CURSOR_TOPIC,
    committed_cursor,
    cursor_record,
    spool_identity,
    transactional_id,
)
from producers.emitter import DEFAULT_TOPIC
from producers.spool import DEFAULT_MAX_BYTES, DiskSpool
from schemas import SchemaStore

log = logging.getLogger(__name__)
# librdkafka's own log (a "connection refused" every backoff while the broker is away): for applications that
# configure logging; without configuration it stays quiet rather than flooding stderr. Our reports use `log`.
client_log = logging.getLogger(f"{__name__}.librdkafka")
client_log.addHandler(logging.NullHandler())

_FRAME_HEAD = struct.Struct(">BH")  # event id length, key length
_RETRY_CODES = {KafkaError._MSG_TIMED_OUT, KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT}
INIT_TIMEOUT_S = 3.0  # init_transactions while the broker is away: retried, and the stop flag checked, this often
BATCH_TIMEOUT_S = 30.0  # a batch not confirmed within this is aborted and sent again
TRANSACTION_TIMEOUT_MS = 60_000
_SECURITY_PREFIXES = ("bootstrap.servers", "security.", "sasl.", "ssl.", "client.id")

DeliveryErrorCallback = Callable[[str, str], None]


class DeliveryPending(RuntimeError):
    """`flush` timed out with events still in the spool; they are kept and delivered later."""

    def __init__(self, pending: int, timeout_s: float, directory: Path) -> None:
        self.pending = pending
        super().__init__(f"{pending} audit event(s) still spooled in {directory} after {timeout_s:.1f}s")


@dataclass(frozen=True)
class Rejection:
    index: int
    event_id: str
    reason: str


def frame(event_id: str, key: bytes, value: bytes) -> bytes:
    """The spool record of one event: [u8 len][event id][u16 len][key][Avro value]."""
    eid = event_id.encode()
    return _FRAME_HEAD.pack(len(eid), len(key)) + eid + key + value


def unframe(record: bytes) -> tuple[str, bytes, bytes]:
    id_len, key_len = _FRAME_HEAD.unpack_from(record)
    start = _FRAME_HEAD.size
    event_id = record[start : start + id_len].decode()
    key = record[start + id_len : start + id_len + key_len]
    return event_id, key, record[start + id_len + key_len :]


class BackgroundDelivery:
    """Spool-backed, asynchronous delivery of AuditEvent datums; `submit` from any thread."""

    def __init__(
        self,
        bootstrap: str,
        spool_dir: str | Path,
        *,
        topic: str = DEFAULT_TOPIC,
        max_bytes: int = DEFAULT_MAX_BYTES,
        extra_config: Mapping[str, Any] | None = None,
        on_delivery_error: DeliveryErrorCallback | None = None,
        store: SchemaStore | None = None,
        max_in_flight: int = 10_000,
        sync_interval_s: float = 0.05,
        exactly_once: bool = True,
        cursor_topic: str = DEFAULT_CURSOR_TOPIC,
    ) -> None:
        self.topic = topic
        self.spool = DiskSpool(spool_dir, max_bytes=max_bytes)
        self.rejected_dir = self.spool.directory / "rejected"
        self.on_delivery_error = on_delivery_error
        self._store = store or SchemaStore()
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            **client_security(),  # TLS/SASL from the configuration; extra_config below still wins
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "message.timeout.ms": 0,  # infinite: a broker that is away delays delivery, never fails it
            "linger.ms": 5,
            "compression.type": "lz4",
            "queue.buffering.max.messages": max(max_in_flight * 2, 1000),
            "logger": client_log,
            "error_cb": self._on_client_error,
        }
        self.exactly_once = exactly_once
        self._cursor_topic = cursor_topic
        self._identity = spool_identity(self.spool.directory) if exactly_once else None
        if exactly_once:  # a transaction bounds a message's life: no infinite timeout; a failed batch is resent
            self._config.update({"transactional.id": transactional_id(self._identity),
                                 "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
                                 "message.timeout.ms": TRANSACTION_TIMEOUT_MS - 5_000})  # fmt: skip
        self._config.update(extra_config or {})
        self._ready = False  # exactly once: transactions initialised and the committed cursor applied
        self._in_transaction = False
        self._max_in_flight = max_in_flight
        self._sync_interval_s = sync_interval_s
        self._in_flight = 0
        self._retry: list[tuple[int, bytes]] = []
        self._generation = 0
        self._fatal = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._commits = 0
        self._committed = threading.Condition()
        self.rejected: list[Rejection] = []
        self._reported_at = -60.0
        self._producer = Producer(self._config)
        self._thread = threading.Thread(target=self._run, name="auditledger-delivery", daemon=True)
        self._thread.start()

    @classmethod
    def for_settings(cls, settings: Settings, spool_name: str, **kwargs: Any) -> BackgroundDelivery:
        """Delivery to the settings' Kafka and events topic, spooling under `<home>/spool/<spool_name>`."""
        spool_dir = settings.home / "spool" / spool_name
        return cls(settings.kafka_bootstrap, spool_dir, topic=settings.topics.events,
                   cursor_topic=settings.topics.spool_cursors, **kwargs)  # fmt: skip

    # -- the caller's side -------------------------------------------------------------------------
    def submit(self, datum: Mapping[str, Any]) -> str:
        """Spool one AuditEvent datum and return its event id; never waits on Kafka.

        Raises SpoolFullError when the spool is at its bound (what is spooled is kept)."""
        value = self._store.encode("AuditEvent", datum)
        event_id = str(datum["event_id"])
        key = datum["correlation"]["session_id"].encode()
        self.spool.append(frame(event_id, key, value))
        self._wake.set()
        return event_id

    def pending(self) -> int:
        return self.spool.pending()

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until every spooled event is confirmed and the cursor is on disk; raise DeliveryPending if not."""
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        while self.spool.pending() > 0:
            if time.monotonic() >= deadline or not self._thread.is_alive():
                raise DeliveryPending(self.spool.pending(), timeout_s, self.spool.directory)
            time.sleep(0.01)
        with self._committed:
            target = self._commits + 1
            while self._commits < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    raise DeliveryPending(self.spool.pending(), timeout_s, self.spool.directory)
                self._committed.wait(min(remaining, 0.1))

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what can be delivered within `timeout_s`, then stop; anything left stays spooled."""
        try:
            self.flush(timeout_s)
        except DeliveryPending as exc:
            log.warning("closing with %d audit event(s) left in %s", exc.pending, self.spool.directory)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s + 5)
        self.spool.close()

    def __enter__(self) -> BackgroundDelivery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the delivery thread -------------------------------------------------------------------------
    def _run(self) -> None:
        if self.exactly_once:
            self._run_exactly_once()
        else:
            self._run_idempotent()

    def _run_exactly_once(self) -> None:
        """One transaction per batch: the events and the spool's cursor record commit together."""
        last_sync = time.monotonic()
        while not self._stop.is_set():
            try:
                if self._fatal.is_set():
                    self._recreate_producer()
                if self._in_transaction:
                    self._abort()  # until it succeeds: a new batch cannot begin before
                if not self._ready:
                    self._resume_from_committed_cursor()
                batch = self.spool.read(self._max_in_flight)
                if batch:
                    self._deliver_in_transaction(batch)
                if time.monotonic() - last_sync >= self._sync_interval_s:
                    self._sync_and_commit()
                    last_sync = time.monotonic()
                if not batch:
                    self._wake.wait(0.05)
                    self._wake.clear()
            except KafkaException as exc:
                error = exc.args[0]
                if error.fatal():
                    self._fatal.set()
                self._report_transient(error.str())
                self.spool.rewind()
                self._stop.wait(0.5)
            except Exception:  # keep delivering; the spool still holds every event
                log.exception("audit delivery loop error; retrying")
                self.spool.rewind()
                self._stop.wait(0.5)
        # An open batch is left to the next start's fencing, which aborts it: no waiting on an absent broker here.
        self._sync_and_commit()

    def _resume_from_committed_cursor(self) -> None:
        """Fence the predecessor (its open transaction is aborted), then skip what it committed."""
        self._producer.init_transactions(INIT_TIMEOUT_S)
        config = {k: v for k, v in self._config.items() if k.startswith(_SECURITY_PREFIXES)}
        consumer = Consumer({**config, "group.id": "auditledger-spool-cursor", "enable.auto.commit": False,
                             "isolation.level": "read_committed", "enable.partition.eof": True,
                             "logger": client_log})  # fmt: skip
        try:
            committed = committed_cursor(consumer, self._cursor_topic, self._identity, BATCH_TIMEOUT_S)
        finally:
            consumer.close()
        skipped = self.spool.acknowledge_below(committed)
        if skipped:
            log.warning("audit delivery: %d spooled event(s) were already committed to Kafka; not sent again",
                        skipped)  # fmt: skip
        self.spool.rewind()
        self._sync_and_commit()
        self._ready = True

    def _deliver_in_transaction(self, batch: list[tuple[int, bytes]]) -> None:
        failed: list[tuple[int, bytes, KafkaError]] = []
        self._producer.begin_transaction()
        self._in_transaction = True
        sent: list[int] = []
        for index, record in batch:
            event_id, key, value = unframe(record)

            def report(err: KafkaError | None, msg: Message, index: int = index, record: bytes = record) -> None:
                if err is not None:
                    failed.append((index, record, err))

            while True:
                try:
                    self._producer.produce(self.topic, value=value, key=key, on_delivery=report)
                    sent.append(index)
                    break
                except BufferError:
                    self._producer.poll(0.05)
                except KafkaException as exc:  # refused before sending (too large, ...): set aside
                    if exc.args[0].fatal() or exc.args[0].retriable():
                        raise
                    self._reject(index, record, event_id, exc.args[0].str())
                    break
        if not sent:  # everything was set aside: nothing to commit
            self._abort()
            return
        cursor_key, cursor_value = cursor_record(self._identity, batch[-1][0] + 1)
        self._producer.produce(self._cursor_topic, value=cursor_value, key=cursor_key, partition=0)
        if self._producer.flush(BATCH_TIMEOUT_S):
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "batch not confirmed in time; sent again"))
        refused = [(i, r, e) for i, r, e in failed if not (e.fatal() or e.retriable() or e.code() in _RETRY_CODES)]
        for index, record, err in refused:
            self._reject(index, record, unframe(record)[0], err.str())
        if failed:
            raise KafkaException(failed[0][2])  # abort; the rest of the batch is sent again
        self._producer.commit_transaction(BATCH_TIMEOUT_S)
        self._in_transaction = False
        for index in sent:
            self.spool.acknowledge(index)

    def _abort(self) -> None:
        self._producer.abort_transaction(BATCH_TIMEOUT_S)
        self._in_transaction = False
        self.spool.rewind()

    def _report_transient(self, reason: str) -> None:
        now = time.monotonic()
        if now - self._reported_at >= 60.0:
            self._reported_at = now
            log.warning("audit delivery: %s (events stay spooled; retrying)", reason)

    def _run_idempotent(self) -> None:
        last_sync = time.monotonic()
        while not self._stop.is_set():
            try:
                if self._fatal.is_set():
                    self._recreate_producer()
                self._producer.poll(0)
                self._produce_some()
                if time.monotonic() - last_sync >= self._sync_interval_s:
                    self._sync_and_commit()
                    last_sync = time.monotonic()
                if self._in_flight:
                    self._producer.poll(0.02)
                else:
                    self._wake.wait(0.05)
                    self._wake.clear()
            except Exception:  # keep delivering; the spool still holds every event
                log.exception("audit delivery loop error; retrying")
                time.sleep(0.5)
        self._producer.flush(1)
        self._sync_and_commit()

    def _sync_and_commit(self) -> None:
        self.spool.sync()
        self.spool.commit()
        with self._committed:
            self._commits += 1
            self._committed.notify_all()

    def _produce_some(self) -> None:
        room = self._max_in_flight - self._in_flight
        if room <= 0:
            return
        batch, self._retry = self._retry[:room], self._retry[room:]
        if len(batch) < room:
            batch += self.spool.read(room - len(batch))
        for n, (index, record) in enumerate(batch):
            event_id, key, value = unframe(record)
            try:
                self._producer.produce(
                    self.topic, value=value, key=key, on_delivery=self._on_delivery(index, record, self._generation)
                )
            except BufferError:
                self._retry = batch[n:] + self._retry
                return
            except KafkaException as exc:
                self._reject(index, record, event_id, exc.args[0].str())
                continue
            self._in_flight += 1

    def _on_delivery(self, index: int, record: bytes, generation: int) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, msg: Message) -> None:
            if generation != self._generation:
                return  # from a producer we replaced; the spool resends its events
            self._in_flight -= 1
            if err is None:
                self.spool.acknowledge(index)
            elif err.fatal():
                self._fatal.set()
            elif err.code() in _RETRY_CODES or err.retriable():
                self._retry.append((index, record))
            else:
                self._reject(index, record, unframe(record)[0], err.str())

        return report

    def _reject(self, index: int, record: bytes, event_id: str, reason: str) -> None:
        """Set a permanently refused event aside, acknowledge it so the queue moves on, and report it loudly."""
        self.rejected_dir.mkdir(exist_ok=True)
        _, _, value = unframe(record)
        (self.rejected_dir / f"{index:020d}.avro").write_bytes(value)
        note = {"event_id": event_id, "reason": reason, "rejected_at": datetime.now(UTC).isoformat()}
        (self.rejected_dir / f"{index:020d}.json").write_text(json.dumps(note), encoding="utf-8")
        self.spool.acknowledge(index)
        self.rejected.append(Rejection(index, event_id, reason))
        log.error("audit event %s was refused by Kafka and set aside in %s: %s", event_id, self.rejected_dir, reason)
        if self.on_delivery_error is not None:
            try:
                self.on_delivery_error(event_id, reason)
            except Exception:
                log.exception("on_delivery_error callback failed for audit event %s", event_id)

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            log.error("audit delivery: fatal producer error (%s); recreating the producer", err.str())
            self._fatal.set()
        else:
            log.debug("audit delivery: %s", err.str())

    def _recreate_producer(self) -> None:
        """A fatal (idempotence) error leaves the producer unusable: start a new one and resend what was unconfirmed."""
        self._fatal.clear()
        self._generation += 1
        old = self._producer
        old.purge()
        old.flush(0)
        self._producer = Producer(self._config)
        self._in_flight = 0
        self._retry = []
        self._ready = self._in_transaction = False  # exactly once: init again, which fences the old producer
        self.spool.rewind()
