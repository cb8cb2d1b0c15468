"""The ledger's batch step: raw events in; ledger records, alerts, dead letters and checkpoints out.

Pure apart from the `recover` callable it is given, so the same code runs under Faust, in tests
and in benchmarks. Each output names the topic role and the partition (= shard) it must go to.
Per event: decode and validate, admit (verify the credential, mask), judge its approval, then sequence
and chain. Approval steps (from audit.approvals) go first in a batch: they are folded into the approval
table and recorded like events; the table's changes are outputs too (its changelog).
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ledger.entry import NOTHING_MASKED
from ledger.signed_note import NoteSigner
from schemas import SchemaStore
from stream.admission import AlertDraft, EventAdmission
from stream.approval_join import ApprovalJoin
from stream.approvals.book import ApprovalBook
from stream.approvals.steps import decode_step, follow_up_event, masked_request, step_as_event
from stream.dead_letters import DeadLetterBuilder
from stream.ocsf_feed import OcsfFeed
from stream.shard_chain import ShardChain
from stream.validation import RejectedEvent, decode_event

OutputRole = Literal["ledger", "deadletter", "checkpoints", "alerts", "approvals_state", "siem"]
SourceTopic = Literal["events", "approvals"]
FORGET_SWEEP_EVERY_S = 60.0  # how often a batch also drops idle requests from the approval table
ALERT_NAMESPACE = uuid.UUID("6f1d8a52-3c0e-4d5e-9a43-2b7c1f0e9d11")


@dataclass(frozen=True)
class RawEvent:
    """`received_at`: when the broker appended it (audit.events uses LogAppendTime), else None."""

    partition: int
    offset: int
    value: bytes | None
    received_at: datetime | None = None
    topic: SourceTopic = "events"


@dataclass(frozen=True)
class Output:
    role: OutputRole
    partition: int
    value: bytes | None  # None: a tombstone (approvals_state only)
    key: bytes | None = None


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
        approvals: ApprovalJoin | None = None,
        state_partitions: int = 1,
        checkpoint_every_records: int = 1000,
        checkpoint_every_ms: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        siem: OcsfFeed | None = None,
    ) -> None:
        self._store = store
        self._recover = recover
        self._origin = log_origin
        self._source_topic = source_topic
        self._signers = signers
        self._admission = admission
        self._dead_letters = dead_letters
        self.approvals = approvals or ApprovalJoin(admission.policy.approvals, ApprovalBook())
        self._state_partitions = state_partitions
        self._every_records = checkpoint_every_records
        self._every_ms = checkpoint_every_ms
        self._clock = clock
        self._monotonic = monotonic
        self._chains: dict[int, ShardChain] = {}
        self._siem = siem  # audit.siem (OCSF JSON): one message per record and per alert, when given
        self._last_forget_s = float("-inf")  # the first batch sweeps the approval table for idle requests

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
        if self._monotonic() - self._last_forget_s >= FORGET_SWEEP_EVERY_S:
            self._last_forget_s = self._monotonic()
            self.approvals.forget_idle(now)  # before the batch: it is judged against the table it commits
        for raw in sorted(batch, key=lambda r: r.topic != "approvals"):  # steps first: actions join what they decided
            chain = self.ensure_shard(raw.partition)
            if chain.already_consumed(raw.offset, raw.topic):
                result.skipped_redelivered += 1
                continue
            touched.add(raw.partition)
            if raw.topic == "approvals":
                self._sequence_step(raw, chain, now, result)
                continue
            try:
                event = decode_event(self._store, raw.value, now)
                admitted = self._admission.admit(event, raw.received_at or now)
            except RejectedEvent as rejected:
                dead = self._dead_letters.build(raw.partition, raw.offset, raw.value, rejected, now)
                result.outputs.append(Output("deadletter", raw.partition, dead))
                chain.consume_without_entry(raw.offset)
                result.dead_lettered += 1
                continue
            approval, approval_alerts = self.approvals.judge(event, chain.shard, chain.next_seq, now)
            seq, _, record = chain.append(self._store, admitted.event, raw.offset, now, identity=admitted.identity,
                                          masking=admitted.masking, approval=approval)  # fmt: skip
            result.outputs.append(Output("ledger", raw.partition, record))
            self._feed_record(result, chain, seq, now, admitted.event, admitted.identity, admitted.masking, approval)
            result.appended += 1
            self._raise_alerts((*admitted.alerts, *approval_alerts), admitted.event, chain, seq, now, result)
        result.outputs.extend(self._state_changes())
        result.outputs.extend(self.due_checkpoints(touched, idle, now))
        return result

    def _sequence_step(self, raw: RawEvent, chain: ShardChain, now: datetime, result: BatchResult) -> None:
        """One approval step: recorded, folded into the table, and followed by the late joins it makes."""
        try:
            step = decode_step(self._store, raw.value, now)
            admitted = self._admission.admit(step_as_event(step), raw.received_at or now)
        except RejectedEvent as rejected:
            dead = self._dead_letters.build(raw.partition, raw.offset, raw.value, rejected, now, source="approvals")
            result.outputs.append(Output("deadletter", raw.partition, dead))
            chain.consume_without_entry(raw.offset, "approvals")
            result.dead_lettered += 1
            return
        attributes = admitted.event["payload"]["attributes"]
        position = (raw.partition, raw.offset, chain.shard, chain.next_seq)
        request = masked_request(step, admitted.event)
        section, joins = self.approvals.apply_step(step, admitted.identity, request, attributes.get("comment"),
                                                   position, now)  # fmt: skip
        seq, _, record = chain.append(self._store, admitted.event, raw.offset, now, identity=admitted.identity,
                                      masking=admitted.masking, source_topic="approvals", approval=section)  # fmt: skip
        result.outputs.append(Output("ledger", raw.partition, record))
        self._feed_record(result, chain, seq, now, admitted.event, admitted.identity, admitted.masking, section,
                          "approvals")  # fmt: skip
        result.appended += 1
        self._raise_alerts(admitted.alerts, admitted.event, chain, seq, now, result)
        for join in joins:
            follow = follow_up_event(admitted.event, step["request_id"], join.covers, join.cleared)
            seq, _, record = chain.append(self._store, follow, raw.offset, now, identity=admitted.identity,
                                          source_topic="approvals", approval=join.section)  # fmt: skip
            result.outputs.append(Output("ledger", raw.partition, record))
            self._feed_record(result, chain, seq, now, follow, admitted.identity, NOTHING_MASKED, join.section,
                              "approvals")  # fmt: skip
            result.appended += 1
            cleared_ids = [self.alert_id(join.covers["shard"], join.covers["seq"], f"approval_{kind}")
                           for kind in join.cleared]  # fmt: skip
            cleared = AlertDraft(
                "approval_violation_cleared",
                "info",
                f"a late approval of request {step['request_id']} covers the action recorded at "
                f"{join.covers['shard']}/{join.covers['seq']}: {', '.join(join.cleared)} cleared",
                {
                    "request_id": step["request_id"],
                    "covers_shard": str(join.covers["shard"]),
                    "covers_seq": str(join.covers["seq"]),
                    "covers_event_id": join.covers["event_id"],
                    "cleared_alert_ids": ",".join(str(i) for i in cleared_ids),
                },  # fmt: skip
            )
            self._raise_alerts((cleared,), follow, chain, seq, now, result)

    def _raise_alerts(
        self, alerts: Iterable[AlertDraft], event: dict, chain: ShardChain, seq: int, now: datetime,
        result: BatchResult,
    ) -> None:  # fmt: skip
        for alert in alerts:
            datum = self._alert(alert, event, chain, seq, now)
            result.outputs.append(Output("alerts", chain.shard, self._store.encode("Alert", datum)))
            result.alerts += 1
            if self._siem is not None:  # raised right after the record at seq was appended: its leaf is the last
                key, value = self._siem.finding(datum, chain.last_leaf_hash, event)
                result.outputs.append(Output("siem", chain.shard, value, key))

    def _feed_record(
        self, result: BatchResult, chain: ShardChain, seq: int, now: datetime, event: dict, identity: Mapping[str, Any],
        masking: Mapping[str, Any], approval: Mapping[str, Any] | None, source: SourceTopic = "events",
    ) -> None:  # fmt: skip
        """The audit.siem message of the record just appended at seq (so its leaf is the chain's last), beside it."""
        if self._siem is not None:
            key, value = self._siem.record(chain.shard, seq, chain.last_leaf_hash, now, event, identity, masking,
                                           approval, source)  # fmt: skip
            result.outputs.append(Output("siem", chain.shard, value, key))

    def _state_changes(self) -> list[Output]:
        """The approval table's changes as changelog records (a key always goes to the same partition)."""
        outputs = []
        for key, state in self.approvals.book.changes():
            partition = zlib.crc32(key.encode()) % self._state_partitions
            value = self._store.encode("ApprovalState", state) if state is not None else None
            outputs.append(Output("approvals_state", partition, value, key.encode()))
        return outputs

    def commit(self) -> None:
        """The batch's outputs are written: its approval table changes are now the committed state."""
        self.approvals.book.commit()

    def rollback(self) -> None:
        """The batch's outputs were not written: undo its approval table changes, forget the shards."""
        self.approvals.book.rollback()
        self.forget_all()

    def anchor_idle(self, shards: Collection[int]) -> BatchResult:
        """Checkpoints for the open tails of drained shards, when their end is learned after their last batch.

        A shard this writer has not seen yet is recovered first: a writer that restarts (or is rebuilt) after
        the last batch was committed but before its end was learned has nothing more to read, and the tail
        that batch left open must still be anchored."""
        for shard in shards:
            self.ensure_shard(shard)
        return BatchResult(outputs=self.due_checkpoints(shards, idle=True))

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

    def alert_id(self, shard: int, seq: int, kind: str) -> uuid.UUID:
        return uuid.uuid5(ALERT_NAMESPACE, f"{self._origin}/{shard}/{seq}/{kind}")

    def _alert(self, alert: AlertDraft, event: dict, chain: ShardChain, seq: int, now: datetime) -> dict[str, Any]:
        """Alert ids derive from the ledger position, so a replayed batch cannot raise a second alert."""
        alert_id = self.alert_id(chain.shard, seq, alert.kind)
        return {
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
        }
