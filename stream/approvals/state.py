"""One approval request's state, folded from its steps; pure, so the stream, the CLI and tests share it.

A state is a plain dict in the ApprovalState schema (schemas/ApprovalState.avsc), so it goes to and
from the changelog topic without translation. Decisions are kept as they arrived, valid or not; the
status is derived from them by one rule (`status_of`), so a reader of the state never has to guess
which decisions counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DECISION_KINDS = ("approved", "rejected", "revoked", "executed", "expired")
PLACEHOLDER_PREFIX = "unrequested:"


@dataclass(frozen=True)
class ApprovalStep:
    """One ApprovalEvent as the stream admitted it: identity verified, text masked, ledger position known."""

    kind: str
    request_id: str
    tenant: str
    event_id: str
    occurred_at: datetime
    claimed_subject: str
    identity: Mapping[str, Any]  # VerifiedIdentity datum for the actor's credential
    request: Mapping[str, Any] | None  # masked ApprovalRequest, on `requested` only
    comment: str | None  # masked
    partition: int
    offset: int
    shard: int
    seq: int

    @property
    def subject(self) -> str:
        """Who acted: the verified subject, else the claimed one (which then counts for nothing)."""
        return (self.identity.get("subject") if self.verified else None) or self.claimed_subject

    @property
    def verified(self) -> bool:
        return self.identity.get("status") == "verified"


def placeholder_id(tenant: str, fingerprint: str) -> str:
    """Key of the state that holds covered actions seen before any request with their fingerprint."""
    return f"{PLACEHOLDER_PREFIX}{tenant}:{fingerprint}"


def empty_state(request_id: str, tenant: str, partition: int, offset: int, now: datetime) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "tenant": tenant,
        "status": "placeholder",
        "requester": None,
        "requester_subject": None,
        "requested_at": None,
        "request": None,
        "rule": None,
        "required": 0,
        "approver_groups": [],
        "decisions": [],
        "awaiting": [],
        "source_partition": partition,
        "source_offset": offset,
        "updated_at": now,
    }


def fold_step(
    state: Mapping[str, Any] | None,
    step: ApprovalStep,
    rule_name: str | None,
    required: int,
    approver_groups: Iterable[str],
) -> dict[str, Any]:
    """The state after one step. `rule_name`, `required` and `approver_groups` are the policy's terms for the
    requested action (used on `requested`). A step of another tenant than the request's changes nothing."""
    if state is not None and state["tenant"] != step.tenant:
        return dict(state)
    new = dict(state) if state is not None else empty_state(step.request_id, step.tenant, step.partition,
                                                            step.offset, step.occurred_at)  # fmt: skip
    new["source_partition"], new["source_offset"], new["updated_at"] = step.partition, step.offset, step.occurred_at
    if step.kind == "requested":
        if new["request"] is None and step.request is not None:  # the first request wins; a re-send changes nothing
            new.update(
                requester=dict(step.identity),
                requester_subject=step.claimed_subject,
                requested_at=step.occurred_at,
                request=dict(step.request),
                rule=rule_name,
                required=required,
                approver_groups=list(approver_groups),
            )
    else:
        decision = {
            "kind": step.kind,
            "subject": step.subject,
            "verified": step.verified,
            "groups": list(step.identity.get("groups") or []) if step.verified else [],
            "decided_at": step.occurred_at,
            "event_id": step.event_id,
            "shard": step.shard,
            "seq": step.seq,
            "comment": step.comment,
        }
        new["decisions"] = [*new["decisions"], decision]
    new["status"] = status_of(new)
    return new


def is_requester(state: Mapping[str, Any], subject: str) -> bool:
    requester = state.get("requester") or {}
    claimed = state.get("requester_subject")
    return subject in {s for s in (requester.get("subject"), claimed) if s}


def in_groups(decision: Mapping[str, Any], groups: Iterable[str]) -> bool:
    """No groups: a request no policy rule covers (asked for voluntarily), which any verified approver may grant."""
    wanted = set(groups)
    return not wanted or bool(set(decision["groups"]) & wanted)


def tally(state: Mapping[str, Any], approver_groups: Iterable[str] | None = None) -> tuple[list[str], str | None]:
    """(approvers who count, the decision that closed the request or None), walking decisions in order.

    An approval counts when verified, not by the requester, and from an allowed group (`approver_groups`
    defaults to the request's own rule); one subject counts once. A rejection closes the request when an
    allowed approver made it; a revocation when an allowed approver or the requester made it; `expired`
    (the requester's gate gave up) when the approvals were not complete by then. Unverified decisions
    close nothing. The first closing decision is final.
    """
    groups = list(state["approver_groups"] if approver_groups is None else approver_groups)
    required = max(1, state["required"])
    counted: dict[str, None] = {}
    for decision in state["decisions"]:
        if not decision["verified"]:
            continue
        kind, subject = decision["kind"], decision["subject"]
        requester = is_requester(state, subject)
        allowed = in_groups(decision, groups) and not requester
        if kind == "approved" and allowed:
            counted[subject] = None
        elif kind == "rejected" and allowed:
            return list(counted), "rejected"
        elif kind == "revoked" and (allowed or requester):
            return list(counted), "revoked"
        elif kind == "expired" and requester and len(counted) < required:
            return list(counted), "expired"
    return list(counted), None


def status_of(state: Mapping[str, Any]) -> str:
    """placeholder, pending, approved, rejected, revoked, expired or executed (as of the decisions, not the clock)."""
    if state["request"] is None:
        return "placeholder"
    counted, closing = tally(state)
    if closing is not None:
        return closing
    if len(counted) < max(1, state["required"]):
        return "pending"
    executed = any(d["kind"] == "executed" and is_requester(state, d["subject"]) for d in state["decisions"])
    return "executed" if executed else "approved"


def expired_at(state: Mapping[str, Any], at: datetime) -> bool:
    request = state.get("request")
    return request is not None and at > request["expires_at"]
