"""The approval table forgets requests idle for the policy's forget_after_s, through its changelog."""

from __future__ import annotations

import uuid
from datetime import timedelta

from schemas import SchemaStore
from stream.approval_join import ApprovalJoin
from stream.approvals.book import ApprovalBook
from stream.approvals.rules import ApprovalPolicy
from stream.approvals.state import empty_state
from stream.sequencer import FORGET_SWEEP_EVERY_S, LedgerSequencer
from stream.shard_chain import ShardChain
from tests.approval_state.test_join_in_sequencer import NOW, POLICY, SIGNER, action, entries, step
from tests.ledger_path import sequencer_parts

DAY = timedelta(days=1)


def test_only_states_idle_since_the_cutoff_are_forgotten_and_a_rollback_restores_them() -> None:
    book = ApprovalBook()
    book.load("old", empty_state("old", "acme", 0, 1, NOW - 8 * DAY))
    book.load("fresh", empty_state("fresh", "acme", 0, 2, NOW - DAY))
    assert book.forget_idle(NOW - 7 * DAY) == 1
    assert book.get("old") is None and book.get("fresh") is not None
    assert book.changes() == [("old", None)]  # a tombstone for the changelog
    book.rollback()
    assert book.get("old") is not None and book.changes() == []


class Clock:
    def __init__(self) -> None:
        self.now, self.tick = NOW, 0.0


def sequencer(store: SchemaStore, clock: Clock) -> LedgerSequencer:
    policy = ApprovalPolicy(rules=POLICY.rules, late_window_s=POLICY.late_window_s, forget_after_s=7 * 86400)
    return LedgerSequencer(store, lambda s: ShardChain(shard=s), "test.example/log", "audit.events",
                           signers=lambda now: [SIGNER], clock=lambda: clock.now, monotonic=lambda: clock.tick,
                           state_partitions=3, approvals=ApprovalJoin(policy, ApprovalBook()),
                           **sequencer_parts(store))  # fmt: skip


def state_keys(result) -> list[tuple[bytes | None, bool]]:
    return [(o.key, o.value is None) for o in result.outputs if o.role == "approvals_state"]


def test_a_request_idle_past_the_horizon_no_longer_covers_the_action_that_names_it() -> None:
    store, clock, rid = SchemaStore(), Clock(), str(uuid.uuid4())
    seq = sequencer(store, clock)
    first = seq.process([step(store, "requested", rid, "ana", 0)], idle=True)
    seq.commit()
    assert state_keys(first) == [(rid.encode(), False)]

    clock.now, clock.tick = NOW + 6 * DAY, 1.0  # inside the horizon, and the sweep is not due yet
    kept = seq.process([action(store, 0, rid)], idle=True)
    seq.commit()
    assert entries(store, kept)[0]["approval"]["request_id"] == rid
    assert "expired" in entries(store, kept)[0]["approval"]["violations"]  # judged against the request it names

    clock.now, clock.tick = NOW + 8 * DAY, 1.0 + FORGET_SWEEP_EVERY_S  # the next sweep: 8 days without a step
    swept = seq.process([action(store, 1, rid)], idle=True)
    seq.commit()
    assert entries(store, swept)[0]["approval"]["violations"] == ["no_approval"]  # the request is forgotten
    fresh = seq.approvals.book.get(rid)  # what remains is only this action, awaiting a late approval
    assert fresh is not None and fresh["request"] is None and len(fresh["awaiting"]) == 1


def test_the_sweep_runs_at_most_once_a_minute_and_writes_tombstones_in_the_batch() -> None:
    store, clock, rid = SchemaStore(), Clock(), str(uuid.uuid4())
    seq = sequencer(store, clock)
    seq.process([step(store, "requested", rid, "ana", 0)], idle=True)
    seq.commit()
    clock.now, clock.tick = NOW + 30 * DAY, FORGET_SWEEP_EVERY_S / 2  # long idle, but swept under a minute ago
    seq.process([action(store, 0, None)], idle=True)
    seq.commit()
    assert seq.approvals.book.get(rid) is not None
    clock.tick = FORGET_SWEEP_EVERY_S + 1
    swept = seq.process([action(store, 1, None)], idle=True)
    assert seq.approvals.book.get(rid) is None
    assert (rid.encode(), True) in state_keys(swept)  # the changelog forgets it too, in the same transaction
    seq.rollback()  # the batch was not written: the request is back
    assert seq.approvals.book.get(rid) is not None
