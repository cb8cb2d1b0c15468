"""Building approval steps and states for the pure tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stream.approvals.state import ApprovalStep, fold_step

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FP = "ab" * 32


def verified(subject: str, *groups: str) -> dict[str, Any]:
    return {"status": "verified", "subject": subject, "groups": list(groups)}


def unverified() -> dict[str, Any]:
    return {"status": "unverified", "subject": None, "groups": []}


def step(kind: str, subject: str, identity: dict[str, Any], at: int = 0, offset: int = 0,
         request_id: str = "r1", tenant: str = "acme", fingerprint: str = FP) -> ApprovalStep:  # fmt: skip
    request = None
    if kind == "requested":
        request = {"action_type": "db.query", "action_name": "run_sql", "fingerprint": fingerprint, "arguments": None,
                   "query": "DROP TABLE t", "resource": "pg://prod", "risk": "high", "reason": None,
                   "expires_at": T0 + timedelta(hours=1), "session_id": None}  # fmt: skip
    return ApprovalStep(kind, request_id, tenant, f"e-{kind}-{subject}-{offset}", T0 + timedelta(seconds=at), subject,
                        identity, request, None, 0, offset, 0, offset)  # fmt: skip


def requested_state(*decisions: tuple[str, str, dict[str, Any]], required: int = 1,
                    groups: tuple[str, ...] = ("dba",)) -> dict[str, Any]:  # fmt: skip
    """A request by alice, then each (kind, subject, identity) decision in order."""
    state = fold_step(None, step("requested", "alice", verified("alice", "dev")), "prod-ddl", required, groups)
    for i, (kind, subject, identity) in enumerate(decisions, start=1):
        state = fold_step(state, step(kind, subject, identity, at=i, offset=i), None, 0, ())
    return state
