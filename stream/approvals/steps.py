"""Approval steps from audit.approvals: decoded, checked, and put in the form every ledger record has.

A step becomes an AuditEvent-shaped record (action type `approval.<kind>`, target the request) so it
goes through the same admission as any event: its credential is verified and stripped, its free text
(arguments, query, reason, comment) masked by the same policy. The state keeps the masked copy.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas import SchemaStore
from stream.approvals.rules import APPROVAL_ACTION_PREFIX
from stream.validation import EARLIEST, MAX_CLOCK_SKEW, RejectedEvent, Rejection, decode_message

LATE_JOIN_ACTION = "approval.late_join"
FOLLOW_UP_NAMESPACE = uuid.UUID("0c8f5d2e-7a41-4b8e-b6f3-5e2d9a1c4f70")


def decode_step(store: SchemaStore, raw: bytes | None, now: datetime) -> dict[str, Any]:
    """Decode and check one message of audit.approvals; raises RejectedEvent with the first problem found."""
    step = decode_message(store, raw, "ApprovalEvent")
    step["event_id"], step["request_id"] = str(step["event_id"]), str(step["request_id"])  # uuid: used as text
    problem = step_problem(step, now)
    if problem:
        raise RejectedEvent(Rejection("invalid", problem), event=step_as_event(step))
    return step


def step_problem(step: Mapping[str, Any], now: datetime) -> str | None:
    """The first problem with a decoded step, or None. Never echoes field values."""
    for path, value in (("tenant", step["tenant"]), ("actor.subject", step["actor"]["subject"]),
                        ("source.service", step["source"]["service"])):  # fmt: skip
        if not value.strip():
            return f"{path} is empty"
    occurred = step["occurred_at"]
    if occurred < EARLIEST or occurred > now + MAX_CLOCK_SKEW:
        return f"occurred_at {occurred.isoformat()} is outside {EARLIEST.date()} .. now + {MAX_CLOCK_SKEW}"
    request = step["request"]
    if step["kind"] == "requested":
        if request is None:
            return "a requested step has no request"
        if len(request["fingerprint"]) != 64 or any(c not in "0123456789abcdef" for c in request["fingerprint"]):
            return "request.fingerprint is not a hex SHA-256"
        if request["expires_at"] <= occurred:
            return "request.expires_at is not after occurred_at"
        if request["arguments"] is not None:
            try:
                json.loads(request["arguments"])
            except ValueError:
                return "request.arguments is not valid JSON"
    elif request is not None:
        return f"a {step['kind']} step carries a request (only requested may)"
    return None


def step_as_event(step: Mapping[str, Any]) -> dict[str, Any]:
    """The AuditEvent form of a step: what admission masks and the ledger records."""
    request = step["request"] or {}
    attributes = {"request_id": step["request_id"]}
    for name in ("fingerprint", "resource", "risk", "reason", "session_id"):
        if request.get(name) is not None:
            attributes[name] = request[name]
    if request:
        attributes["requested_action_type"] = request["action_type"]
        attributes["expires_at"] = request["expires_at"].isoformat()
    if step["comment"] is not None:
        attributes["comment"] = step["comment"]
    return {
        "event_id": step["event_id"],
        "tenant": step["tenant"],
        "occurred_at": step["occurred_at"],
        "actor": dict(step["actor"]),
        "action": {"type": f"{APPROVAL_ACTION_PREFIX}{step['kind']}", "name": request.get("action_name")},
        "target": {"kind": "approval_request", "name": step["request_id"]},
        "payload": {
            "prompt": None,
            "parameters": None,
            "tool_arguments": request.get("arguments"),
            "query": request.get("query"),
            "response": None,
            "attributes": attributes,
        },
        "outcome": {"status": "success", "error": None},
        "source": dict(step["source"]),
        "correlation": {"session_id": request.get("session_id") or step["request_id"], "run_id": None,
                        "parent_run_id": None, "graph_node": None, "trace_id": None},  # fmt: skip
        "credential": step["credential"],
    }


def masked_request(step: Mapping[str, Any], masked_event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The step's request with its free text replaced by the masked copies from the admitted event."""
    request = step["request"]
    if request is None:
        return None
    payload = masked_event["payload"]
    attributes = payload["attributes"]
    return {
        **request,
        "arguments": payload["tool_arguments"],
        "query": payload["query"],
        "reason": attributes.get("reason"),
        "resource": attributes.get("resource", request["resource"]),
    }


def follow_up_event(
    decision_event: Mapping[str, Any], request_id: str, covers: Mapping[str, Any], cleared: list[str]
) -> dict[str, Any]:
    """The record that joins a late approval to an action recorded earlier without it (which stays as written)."""
    event_id = uuid.uuid5(FOLLOW_UP_NAMESPACE, f"{request_id}/{covers['event_id']}")
    return {
        **decision_event,
        "event_id": str(event_id),
        "action": {"type": LATE_JOIN_ACTION, "name": decision_event["action"]["name"]},
        "target": {"kind": "ledger_record", "name": f"{covers['shard']}/{covers['seq']}"},
        "payload": {
            **decision_event["payload"],
            "tool_arguments": None,
            "query": None,
            "attributes": {"request_id": request_id, "covers_event_id": covers["event_id"],
                           "covers_shard": str(covers["shard"]), "covers_seq": str(covers["seq"]),
                           "cleared": ",".join(cleared)},  # fmt: skip
        },
        "credential": None,
    }
