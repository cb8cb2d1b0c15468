"""The ledger's batch step: raw events in; ledger records, alerts, dead letters and checkpoints out.

Pure apart from the `recover` callable it is given, so the same code runs under Faust, in tests
and in benchmarks. Each output names the topic role and the partition (= shard) it must go to.
Per event: decode and validate, admit (verify the credential, mask), then sequence and chain.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from ledger.signed_note import NoteSigner
from schemas import SchemaStore
from stream.admission import AlertDraft, EventAdmission
from stream.dead_letters import DeadLetterBuilder
from stream.shard_chain import ShardChain
from stream.validation import RejectedEvent, decode_event

OutputRole = Literal["ledger", "deadletter", "checkpoints", "alerts"]
ALERT_NAMESPACE = uuid.UUID("6f1d8a52-3c0e-4d5e-9a43-2b7c1f0e9d11")


@dataclass(frozen=True)
class RawEvent:
    """`received_at`: when the broker appended it (audit.events uses LogAppendTime), else None."""

    partition: int
    offset: int
    value: bytes | None
    received_at: datetime | None = None


@dataclass(frozen=True)
class Output:
    role: OutputRole
    partition: int
    value: bytes


@dataclass
class BatchResult:
    outputs: list[Output]
    appended: int = 0
    dead_lettered: int = 0
    skipped_redelivered: int = 0
    alerts: int = 0


class LedgerSequencer:
    """Holds the chains of the shards this worker owns; `recover(shard)` rebuilds one from Kafka."""

    def __init__(
        self,
        store: SchemaStore,
        recover: Callable[[int], ShardChain],
        log_origin: str,
        source_topic: str,
        signers: Callable[[datetime], Sequence[NoteSigner]],
        admission: EventAdmission,
        dead_letters: DeadLetterBuilder,
        checkpoint_every_records: int = 1000,
        checkpoint_every_ms: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._recover = recover
        self._origin = log_origin
        self._source_topic = source_topic
        self._signers = signers
        self._admission = admission
        self._dead_letters = dead_letters
        self._every_records = checkpoint_every_records
        self._every_ms = checkpoint_every_ms
        self._clock = clock
        self._monotonic = monotonic
        self._chains: dict[int, ShardChain] = {}

    def forget_all(self) -> None:
        """After a rebalance another worker may have written; the next batch recovers again."""
        self._chains.clear()

    def ensure_shard(self, shard: int) -> ShardChain:
        chain = self._chains.get(shard)
        if chain is None:
            chain = self._recover(shard)
            chain.last_checkpoint_at = self._monotonic()
            self._chains[shard] = chain
        return chain

    def process(self, batch: Iterable[RawEvent], idle: bool | Collection[int]) -> BatchResult:
        """Sequence a batch, then checkpoint the shards that are due.

        `idle` names the shards whose input is drained (True: all of them): their open tails are
        anchored with a checkpoint now, because no later batch may come to do it.
        """
        result = BatchResult(outputs=[])
        now = self._clock()
        touched: set[int] = set()
        for raw in batch:
            chain = self.ensure_shard(raw.partition)
            if chain.already_consumed(raw.offset):
                result.skipped_redelivered += 1
                continue
            touched.add(raw.partition)
            try:
                event = decode_event(self._store, raw.value, now)
                admitted = self._admission.admit(event, raw.received_at or now)
            except RejectedEvent as rejected:
                dead = self._dead_letters.build(raw.partition, raw.offset, raw.value, rejected, now)
                result.outputs.append(Output("deadletter", raw.partition, dead))
                chain.consume_without_entry(raw.offset)
                result.dead_lettered += 1
                continue
            seq, _, record = chain.append(
                self._store, admitted.event, raw.offset, now, identity=admitted.identity, masking=admitted.masking
            )
            result.outputs.append(Output("ledger", raw.partition, record))
            result.appended += 1
            for alert in admitted.alerts:
                message = self._alert(alert, admitted.event, chain, seq, now)
                result.outputs.append(Output("alerts", raw.partition, message))
                result.alerts += 1
        result.outputs.extend(self.due_checkpoints(touched, idle, now))
        return result

    def due_checkpoints(
        self, shards: Iterable[int], idle: bool | Collection[int], now: datetime | None = None
    ) -> list[Output]:
        now = now or self._clock()
        now_s = self._monotonic()
        outputs = []
        for shard in sorted(shards):
            chain = self._chains[shard]
            drained = idle if isinstance(idle, bool) else shard in idle
            if chain.checkpoint_due(now_s, self._every_records, self._every_ms, drained):
                signed = chain.checkpoint(self._store, self._origin, now, now_s, self._signers(now))
                outputs.append(Output("checkpoints", shard, signed))
        return outputs

    def _alert(self, alert: AlertDraft, event: dict, chain: ShardChain, seq: int, now: datetime) -> bytes:
        """Alert ids derive from the ledger position, so a replayed batch cannot raise a second alert."""
        alert_id = uuid.uuid5(ALERT_NAMESPACE, f"{self._origin}/{chain.shard}/{seq}/{alert.kind}")
        return self._store.encode(
            "Alert",
            {
                "alert_id": str(alert_id),
                "kind": alert.kind,
                "severity": alert.severity,
                "tenant": event["tenant"],
                "event_id": str(event["event_id"]),
                "shard": chain.shard,
                "seq": seq,
                "detected_at": now,
                "summary": alert.summary,
                "details": dict(alert.details),
            },
        )
