"""Publishing audit events to Kafka so that no delivery failure can go unnoticed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from auditledger.kafka_security import client_security
from producers.event_json import event_from_json
from schemas import SchemaStore

DEFAULT_TOPIC = "audit.events"


class DeliveryError(RuntimeError):
    """Some events were not confirmed by the broker; `failures` lists (event_id, reason)."""

    def __init__(self, failures: list[tuple[str, str]], pending: int = 0) -> None:
        self.failures = failures
        self.pending = pending
        parts = [f"{len(failures)} event(s) not delivered"]
        if pending:
            parts.append(f"{pending} still unconfirmed at timeout")
        if failures:
            parts.append("first: " + "; ".join(f"{eid}: {why}" for eid, why in failures[:3]))
        super().__init__(", ".join(parts))


@dataclass(frozen=True)
class Delivered:
    event_id: str
    partition: int
    offset: int


class AuditEmitter:
    """Idempotent, acks=all producer of AuditEvents keyed by session id (one session stays in order).

    `emit` queues; `flush` waits for every confirmation and raises DeliveryError if any failed.
    Used as a context manager, leaving the block flushes, so a failure cannot pass silently.
    `id_token`: a callable returning the caller's current OIDC ID token (or a service account's); it is
    attached to every event that has no credential of its own, and the stream verifies it.
    `spool_dir`: spool events on disk (at most `spool_max_bytes`) and deliver them from a thread, as
    BackgroundDelivery does, so an outage of any length loses nothing; `emit` then raises SpoolFullError
    when the spool is at its bound (what is spooled is kept), and `flush` raises DeliveryPending.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str = DEFAULT_TOPIC,
        store: SchemaStore | None = None,
        extra_config: Mapping[str, Any] | None = None,
        id_token: Callable[[], str | None] | None = None,
        spool_dir: str | Path | None = None,
        spool_max_bytes: int | None = None,
    ) -> None:
        self.topic = topic
        self._id_token = id_token
        self._store = store or SchemaStore()
        self._spooled = None
        if spool_dir is not None:  # events go to a bounded disk spool; a thread delivers them (BackgroundDelivery)
            from producers.background_delivery import BackgroundDelivery  # it imports this module
            from producers.spool import DEFAULT_MAX_BYTES

            self._spooled = BackgroundDelivery(bootstrap, spool_dir, topic=topic, store=self._store,
                                               max_bytes=spool_max_bytes or DEFAULT_MAX_BYTES,
                                               extra_config=extra_config)  # fmt: skip
            self._rejected_seen = 0
            return
        config = {
            "bootstrap.servers": bootstrap,
            **client_security(),  # TLS/SASL from the configuration; extra_config below still wins
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 5,
            "message.timeout.ms": 60000,
            "compression.type": "lz4",
        }
        config.update(extra_config or {})
        self._producer = Producer(config)
        self._lock = threading.Lock()
        self._failures: list[tuple[str, str]] = []
        self._delivered: list[Delivered] = []
        self._pending = 0

    def _on_delivery(self, event_id: str):
        def report(err: KafkaError | None, msg: Message) -> None:
            with self._lock:
                self._pending -= 1
                if err is not None:
                    self._failures.append((event_id, err.str()))
                else:
                    self._delivered.append(Delivered(event_id, msg.partition(), msg.offset()))

        return report

    def emit(self, event: Mapping[str, Any]) -> str:
        """Queue one event (JSON form, see producers.event_json); returns its event id."""
        datum = event_from_json(event)
        return self.emit_datum(datum)

    def emit_datum(self, datum: Mapping[str, Any]) -> str:
        if self._id_token is not None and not datum.get("credential"):
            token = self._id_token()
            if token:
                datum = {**datum, "credential": {"kind": "oidc_id_token", "token": token}}
        if self._spooled is not None:
            return self._spooled.submit(datum)  # raises SpoolFullError at the bound; what is spooled stays
        value = self._store.encode("AuditEvent", datum)
        event_id = str(datum["event_id"])
        key = datum["correlation"]["session_id"].encode()
        with self._lock:
            self._pending += 1
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key, on_delivery=self._on_delivery(event_id))
                break
            except BufferError:  # local queue full: serve callbacks and retry
                self._producer.poll(0.1)
        self._producer.poll(0)
        return event_id

    def flush(self, timeout_s: float = 60.0) -> list[Delivered]:
        """Wait for every confirmation; return what was delivered since the last flush, or raise.

        With a spool: waits until the spool is drained (DeliveryPending if not, events stay spooled), raises
        DeliveryError for events Kafka refused for good (set aside under <spool>/rejected), and returns []."""
        if self._spooled is not None:
            self._spooled.flush(timeout_s)
            rejected, self._rejected_seen = self._spooled.rejected[self._rejected_seen :], len(self._spooled.rejected)
            if rejected:
                raise DeliveryError([(r.event_id, r.reason) for r in rejected])
            return []
        remaining = self._producer.flush(timeout_s)
        with self._lock:
            failures, self._failures = self._failures, []
            delivered, self._delivered = self._delivered, []
            pending = max(remaining, self._pending)
        if failures or pending:
            raise DeliveryError(failures, pending)
        return delivered

    def pending(self) -> int:
        """Events emitted and not yet confirmed by the broker (with a spool: still in it)."""
        if self._spooled is not None:
            return self._spooled.pending()
        with self._lock:
            return self._pending

    def __enter__(self) -> AuditEmitter:
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what can be delivered in `timeout_s`; with a spool, what is left stays there for the next run."""
        if self._spooled is not None:
            self._spooled.close(timeout_s)
        else:
            self._producer.flush(timeout_s)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._spooled is not None:
            try:
                if exc_type is None:
                    self.flush()
            finally:
                self._spooled.close()
            return
        if exc_type is None:
            self.flush()
        else:
            self._producer.flush(10)
