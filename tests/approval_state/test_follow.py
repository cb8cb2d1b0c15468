"""Two workers writing one request's state: the merge keeps the later fold and both writers' awaiting actions,
a worker's uncommitted changes are never merged over, and re-reading its own records changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stream.approval_join import MAX_AWAITING
from stream.approvals.book import ApprovalBook
from stream.approvals.judgement import RuleTerms, awaiting_entry, judge_action
from stream.approvals.merge import MERGED_AWAITING_LIMIT, merged_state
from stream.approvals.state import empty_state, fold_step, placeholder_id
from tests.approval_state.steps import FP, T0, requested_state, step, verified

ONE = RuleTerms("prod-ddl", ("dba",), 1)
BOB = ("approved", "bob", verified("bob", "dba"))


def waiting_on(state: dict, seq: int, shard: int = 1) -> dict:
    """`state` with one more awaiting action (shard, seq), judged against it as the action's owner would."""
    at = T0 + timedelta(seconds=seq)
    entry = awaiting_entry(shard, seq, f"ev-{seq}", ONE, judge_action(ONE, state, FP, at), at)
    return {**state, "awaiting": [*state["awaiting"], entry]}


def seqs(state: dict) -> list[int]:
    return [w["seq"] for w in state["awaiting"]]


def test_the_later_fold_wins_whichever_copy_is_read_last() -> None:
    pending, approved = requested_state(), requested_state(BOB)
    stale_copy = waiting_on(pending, 5)  # the action's owner judged against the pending copy and wrote it back
    assert merged_state(approved, stale_copy)["status"] == "approved"
    assert merged_state(stale_copy, approved)["status"] == "approved"


def test_an_action_the_other_writer_added_is_kept_while_it_still_has_a_violation() -> None:
    pending = requested_state()
    owner_copy = waiting_on(pending, 3, shard=0)
    action_owner_copy = waiting_on(pending, 5, shard=1)
    assert seqs(merged_state(owner_copy, action_owner_copy)) == [3, 5]
    assert seqs(merged_state(action_owner_copy, owner_copy)) == [3, 5]


def test_an_action_the_fold_cleared_does_not_come_back_from_an_older_copy() -> None:
    """The step's owner cleared seq 5 with a late join; the other worker's copy still holds it."""
    with_action = waiting_on(requested_state(), 5)
    cleared = {**fold_step(with_action, step(*BOB, at=1, offset=1), None, 0, ()), "awaiting": []}
    assert merged_state(cleared, with_action)["awaiting"] == []
    assert merged_state(with_action, cleared)["awaiting"] == []


def test_an_action_both_copies_hold_stays_even_if_the_fold_would_clear_it() -> None:
    with_action = waiting_on(requested_state(), 5)
    approved_still_waiting = fold_step(with_action, step(*BOB, at=1, offset=1), None, 0, ())
    assert seqs(merged_state(with_action, approved_still_waiting)) == [5]


def test_a_copy_with_no_step_is_older_than_any_fold() -> None:
    """The action's owner never saw the request and created an empty state under its id."""
    empty = waiting_on(empty_state("r1", "acme", -1, -1, T0), 9)
    merged = merged_state(empty, requested_state())
    assert merged["request"] is not None and merged["status"] == "pending" and seqs(merged) == [9]


def test_another_tenants_copy_changes_nothing() -> None:
    ours = requested_state()
    assert merged_state(ours, {**requested_state(BOB), "tenant": "other"}) == ours


def test_the_merged_awaiting_list_is_bounded_like_the_joins() -> None:
    assert MERGED_AWAITING_LIMIT == MAX_AWAITING
    state = requested_state()
    many = {**state, "awaiting": [waiting_on(state, i)["awaiting"][0] for i in range(MAX_AWAITING)]}
    more = {**state, "awaiting": [waiting_on(state, MAX_AWAITING + i)["awaiting"][0] for i in range(10)]}
    merged = merged_state(many, more)
    assert len(merged["awaiting"]) == MAX_AWAITING and seqs(merged)[-1] == MAX_AWAITING + 9


def test_follow_refuses_to_merge_over_a_batchs_uncommitted_changes() -> None:
    book = ApprovalBook()
    book.put(requested_state())
    with pytest.raises(RuntimeError):
        book.follow("r1", requested_state(BOB))
    book.commit()
    assert book.follow("r1", requested_state(BOB)) and book.get("r1")["status"] == "approved"
    assert book.changes() == []  # followed, not a change to write back


def test_re_reading_this_workers_own_older_records_changes_nothing() -> None:
    book = ApprovalBook()
    history = [requested_state(), waiting_on(requested_state(), 4)]
    history.append({**fold_step(history[-1], step(*BOB, at=1, offset=1), None, 0, ()), "awaiting": []})
    for state in history:
        book.put(state)
        book.commit()
    assert not any(book.follow("r1", state) for state in history)
    assert book.get("r1") == history[-1]


def test_a_tombstone_is_not_followed_and_a_superseded_placeholder_is_ignored() -> None:
    book = ApprovalBook()
    book.load("r1", requested_state())
    assert not book.follow("r1", None) and book.get("r1") is not None
    key = placeholder_id("acme", FP)
    placeholder = waiting_on(empty_state(key, "acme", -1, -1, T0), 2)
    assert not book.follow(key, placeholder) and book.get(key) is None
    other = placeholder_id("acme", "cd" * 32)
    assert book.follow(other, {**placeholder, "request_id": other}) and book.get(other) is not None


def test_an_action_on_the_other_workers_shard_joins_a_followed_approval() -> None:
    """Worker A folded the approval; worker B judges its action no_approval until it follows A's record."""
    b_book = ApprovalBook()
    assert judge_action(ONE, b_book.for_action("acme", "r1", FP), FP, T0).violations == ("no_approval",)
    assert b_book.follow("r1", requested_state(BOB))
    assert judge_action(ONE, b_book.for_action("acme", "r1", FP), FP, T0).violations == ()
