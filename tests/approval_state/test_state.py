"""The fold of a request's steps and the one rule for which decisions count."""

from __future__ import annotations

from stream.approvals.state import fold_step, status_of, tally
from tests.approval_state.steps import requested_state, step, unverified, verified


def test_a_request_alone_is_pending_and_one_allowed_approval_approves_it() -> None:
    assert requested_state()["status"] == "pending"
    state = requested_state(("approved", "bob", verified("bob", "dba")))
    assert state["status"] == "approved"
    assert tally(state) == (["bob"], None)


def test_approvals_that_do_not_count() -> None:
    self_approved = requested_state(("approved", "alice", verified("alice", "dba")))
    outsider = requested_state(("approved", "carol", verified("carol", "dev")))
    claimed = requested_state(("approved", "bob", unverified()))
    for state in (self_approved, outsider, claimed):
        assert state["status"] == "pending"
        assert tally(state)[0] == []


def test_two_required_needs_two_distinct_approvers() -> None:
    once = requested_state(("approved", "bob", verified("bob", "dba")), required=2)
    twice = requested_state(("approved", "bob", verified("bob", "dba")), ("approved", "bob", verified("bob", "dba")),
                            required=2)  # fmt: skip
    both = requested_state(("approved", "bob", verified("bob", "dba")), ("approved", "dan", verified("dan", "dba")),
                           required=2)  # fmt: skip
    assert (once["status"], twice["status"], both["status"]) == ("pending", "pending", "approved")


def test_closing_decisions() -> None:
    rejected = requested_state(("rejected", "bob", verified("bob", "dba")), ("approved", "dan", verified("dan", "dba")))
    revoked = requested_state(("approved", "bob", verified("bob", "dba")), ("revoked", "bob", verified("bob", "dba")))
    withdrawn = requested_state(("revoked", "alice", verified("alice")))
    outsider_reject = requested_state(("rejected", "carol", verified("carol", "dev")))
    timed_out = requested_state(("expired", "alice", verified("alice")))
    approved_then_timeout = requested_state(("approved", "bob", verified("bob", "dba")),
                                            ("expired", "alice", verified("alice")))  # fmt: skip
    assert rejected["status"] == "rejected"
    assert revoked["status"] == "revoked"
    assert withdrawn["status"] == "revoked"
    assert outsider_reject["status"] == "pending"
    assert timed_out["status"] == "expired"
    assert approved_then_timeout["status"] == "approved"


def test_decisions_before_the_request_are_kept_and_count_once_it_arrives() -> None:
    early = fold_step(None, step("approved", "bob", verified("bob", "dba")), None, 0, ())
    assert early["status"] == "placeholder" and early["request"] is None
    state = fold_step(early, step("requested", "alice", verified("alice"), offset=5), "prod-ddl", 1, ("dba",))
    assert state["status"] == "approved"
    assert status_of(state) == "approved"


def test_a_step_of_another_tenant_changes_nothing_and_a_second_request_is_ignored() -> None:
    state = requested_state()
    foreign = fold_step(state, step("approved", "bob", verified("bob", "dba"), tenant="other"), None, 0, ())
    assert foreign == state
    again = fold_step(state, step("requested", "mallory", verified("mallory"), fingerprint="cd" * 32), "x", 1, ())
    assert again["request"]["fingerprint"] == state["request"]["fingerprint"]
    assert again["requester_subject"] == "alice"
