"""Judging a covered action: one test per violation kind, the clean case, and the late join."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stream.approvals.judgement import RuleTerms, awaiting_entry, judge_action, late_joins
from stream.approvals.state import fold_step
from tests.approval_state.steps import FP, T0, requested_state, step, unverified, verified

ONE = RuleTerms("prod-ddl", ("dba",), 1)
TWO = RuleTerms("prod-ddl", ("dba",), 2)
BOB = ("approved", "bob", verified("bob", "dba"))
DAN = ("approved", "dan", verified("dan", "dba"))


@pytest.mark.parametrize(
    ("rule", "decisions", "fingerprint", "at", "expected"),
    [
        (ONE, [BOB], FP, T0, []),
        (TWO, [BOB, DAN], FP, T0, []),
        (ONE, [], FP, T0, ["no_approval"]),
        (ONE, [("rejected", "bob", verified("bob", "dba"))], FP, T0, ["rejected"]),
        (ONE, [BOB, ("revoked", "bob", verified("bob", "dba"))], FP, T0, ["revoked"]),
        (ONE, [BOB], FP, T0 + timedelta(hours=2), ["expired"]),
        (ONE, [("expired", "alice", verified("alice"))], FP, T0, ["expired"]),
        (ONE, [BOB], "cd" * 32, T0, ["fingerprint_mismatch"]),
        (ONE, [("approved", "alice", verified("alice", "dba"))], FP, T0, ["self_approval", "too_few_approvers"]),
        (ONE, [("approved", "carol", verified("carol", "dev"))], FP, T0, ["approver_not_allowed", "too_few_approvers"]),
        (ONE, [("approved", "bob", unverified())], FP, T0, ["approver_unverified", "too_few_approvers"]),
        (TWO, [BOB], FP, T0, ["too_few_approvers"]),
    ],
    ids=["approved", "two-approved", "no_approval", "rejected", "revoked", "expired-by-clock", "expired-by-gate",
         "fingerprint", "self", "outside-groups", "unverified", "too-few"],  # fmt: skip
)
def test_violations(rule, decisions, fingerprint, at, expected) -> None:
    judgement = judge_action(rule, requested_state(*decisions, required=rule.approvals), fingerprint, at)
    assert list(judgement.violations) == expected
    assert judgement.section["status"] == ("violation" if expected else "approved")
    assert judgement.section["rule"] == "prod-ddl" and judgement.section["fingerprint"] == fingerprint


def test_no_request_at_all() -> None:
    judgement = judge_action(ONE, None, FP, T0)
    assert judgement.violations == ("no_approval",) and judgement.clearable
    assert judgement.section["request_id"] is None


def test_the_action_rule_decides_who_counts_not_the_request_rule() -> None:
    state = requested_state(("approved", "bob", verified("bob", "ops")), groups=("ops",))
    assert state["status"] == "approved"
    assert judge_action(ONE, state, FP, T0).violations == ("approver_not_allowed", "too_few_approvers")


def test_late_approval_within_the_window_clears_and_after_it_does_not() -> None:
    pending = requested_state()
    early = judge_action(ONE, pending, FP, T0)
    assert early.violations == ("no_approval",) and early.clearable
    waiting = awaiting_entry(0, 7, "ev-7", ONE, early, T0)
    state = {**pending, "awaiting": [waiting]}
    state = fold_step(state, step(*BOB, at=60, offset=3), None, 0, ())
    cleared, remaining = late_joins(state, T0 + timedelta(minutes=5), timedelta(minutes=15))
    assert remaining == []
    assert [(w["seq"], s["status"], s["covers"]) for w, s in cleared] == [
        (7, "approved_late", {"shard": 0, "seq": 7, "event_id": "ev-7"})
    ]
    too_late, kept = late_joins(state, T0 + timedelta(minutes=16), timedelta(minutes=15))
    assert too_late == [] and kept == []


def test_late_join_does_not_clear_what_an_approval_cannot_fix() -> None:
    state = requested_state(("approved", "alice", verified("alice", "dba")))
    judgement = judge_action(ONE, state, FP, T0)
    assert not judgement.clearable  # self-approval stands whatever comes later
    pending = requested_state(required=2)
    waiting = awaiting_entry(0, 1, "ev-1", TWO, judge_action(TWO, pending, FP, T0), T0)
    one_of_two = fold_step({**pending, "awaiting": [waiting]}, step(*BOB, at=1, offset=1), None, 0, ())
    cleared, remaining = late_joins(one_of_two, T0 + timedelta(minutes=1), timedelta(minutes=15))
    assert cleared == [] and remaining == [waiting]
