"""Judging a covered action against its approval, and the approval section its ledger record carries.

Pure. The action's own policy rule decides which approvers count and how many are needed (not the
rule in force when the request was made): the ledger says whether the action was approved by the
rules it ran under.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stream.approvals.state import expired_at, in_groups, is_requester, tally

VIOLATION_KINDS = (
    "no_approval",
    "rejected",
    "revoked",
    "expired",
    "fingerprint_mismatch",
    "self_approval",
    "approver_not_allowed",
    "approver_unverified",
    "too_few_approvers",
)
CLEARABLE = frozenset({"no_approval", "too_few_approvers"})  # what a later approval can still make good
SEVERITY = {"fingerprint_mismatch": "critical", "self_approval": "critical", "approver_unverified": "medium"}


@dataclass(frozen=True)
class RuleTerms:
    """What a policy rule asks of an approval: its name, who may approve, how many must."""

    name: str
    approver_groups: tuple[str, ...]
    approvals: int


@dataclass(frozen=True)
class Judgement:
    violations: tuple[str, ...]
    section: dict[str, Any]  # ApprovalSection datum

    @property
    def clearable(self) -> bool:
        return bool(self.violations) and set(self.violations) <= CLEARABLE


def violations_of(rule: RuleTerms, state: Mapping[str, Any] | None, fingerprint: str, at: datetime) -> list[str]:
    if state is None or state["request"] is None:
        return ["no_approval"]
    found: list[str] = []
    counted, closing = tally(state, rule.approver_groups)
    if closing is not None:
        found.append(closing)
    elif expired_at(state, at):
        found.append("expired")
    if fingerprint != state["request"]["fingerprint"]:
        found.append("fingerprint_mismatch")
    approvals = [d for d in state["decisions"] if d["kind"] == "approved"]
    if any(is_requester(state, d["subject"]) for d in approvals):
        found.append("self_approval")
    if any(d["verified"] and not is_requester(state, d["subject"]) and not in_groups(d, rule.approver_groups)
           for d in approvals):  # fmt: skip
        found.append("approver_not_allowed")
    if any(not d["verified"] for d in approvals):
        found.append("approver_unverified")
    if closing is None:
        if not approvals:
            found.append("no_approval")
        elif len(counted) < rule.approvals:
            found.append("too_few_approvers")
    return found


def judge_action(rule: RuleTerms, state: Mapping[str, Any] | None, fingerprint: str, at: datetime) -> Judgement:
    """The approval section for an action the policy covers, judged at `at` (when it was sequenced)."""
    violations = tuple(violations_of(rule, state, fingerprint, at))
    requested = state is not None and state["request"] is not None
    section = {
        "status": "violation" if violations else "approved",
        "request_id": state["request_id"] if requested else None,
        "rule": rule.name,
        "required": rule.approvals,
        "approver_groups": list(rule.approver_groups),
        "decisions": list(state["decisions"]) if requested else [],
        "violations": list(violations),
        "fingerprint": fingerprint,
        "covers": None,
    }
    return Judgement(violations, section)


def step_section(state: Mapping[str, Any]) -> dict[str, Any]:
    """The approval section of an approval step's own record: the request as it stands after the step."""
    request = state["request"]
    return {
        "status": state["status"],
        "request_id": state["request_id"] if request is not None else None,
        "rule": state["rule"],
        "required": state["required"],
        "approver_groups": list(state["approver_groups"]),
        "decisions": list(state["decisions"]),
        "violations": [],
        "fingerprint": request["fingerprint"] if request is not None else None,
        "covers": None,
    }


def awaiting_entry(
    shard: int, seq: int, event_id: str, rule: RuleTerms, judgement: Judgement, at: datetime
) -> dict[str, Any]:
    """An action recorded with a clearable violation, kept with its request until the late window closes."""
    return {
        "shard": shard,
        "seq": seq,
        "event_id": event_id,
        "fingerprint": judgement.section["fingerprint"],
        "rule": rule.name,
        "required": rule.approvals,
        "approver_groups": list(rule.approver_groups),
        "violations": list(judgement.violations),
        "at": at,
    }


def late_joins(
    state: Mapping[str, Any], now: datetime, late_window: timedelta
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]]]:
    """Awaiting actions that the state now covers: ([(awaiting, follow-up section)], still awaiting).

    An action is cleared when, judged again at its own time with the decisions known now, it has no
    violation. One whose window has closed is dropped (its violation stands).
    """
    cleared: list[tuple[dict[str, Any], dict[str, Any]]] = []
    remaining: list[dict[str, Any]] = []
    for waiting in state["awaiting"]:
        if now - waiting["at"] > late_window:
            continue
        rule = RuleTerms(waiting["rule"], tuple(waiting["approver_groups"]), waiting["required"])
        again = judge_action(rule, state, waiting["fingerprint"], waiting["at"])
        if again.violations:
            remaining.append(waiting)
            continue
        section = {
            **again.section,
            "status": "approved_late",
            "covers": {"shard": waiting["shard"], "seq": waiting["seq"], "event_id": waiting["event_id"]},
        }
        cleared.append((waiting, section))
    return cleared, remaining


def bounded(awaiting: Sequence[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Keep the newest `limit` awaiting actions: a flood of unapproved actions must not grow one state forever."""
    return list(awaiting[-limit:])
