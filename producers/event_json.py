"""The JSON form of an audit event (what `auditledger emit` reads) and its conversion to the Avro datum.

The JSON form mirrors AuditEvent's fields. Conveniences: `event_id` and `occurred_at` may be left
out (a UUID4 and the current time are filled in); `occurred_at` is ISO 8601; payload fields
`parameters`, `tool_arguments` and `response` may be JSON values, stored as compact JSON text.
`credential` is optional: {"kind": "oidc_id_token", "token": "<JWT>"}, or just the token as a string.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

ACTOR_KINDS = ("user", "service", "agent")
CREDENTIAL_KINDS = ("oidc_id_token",)
OUTCOME_STATUSES = ("success", "failure", "blocked")
JSON_TEXT_FIELDS = ("parameters", "tool_arguments", "response")
TEXT_FIELDS = ("prompt", "query")


class EventFormatError(ValueError):
    """The JSON form of an event is missing a field or has one of the wrong type; names the path."""


def _obj(parent: Mapping[str, Any], key: str, path: str, required: bool = True) -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise EventFormatError(f"{path}{key}: want an object, got {type(value).__name__}")
    return value


def _str(parent: Mapping[str, Any], key: str, path: str, required: bool = False) -> str | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise EventFormatError(f"{path}{key}: required")
        return None
    if not isinstance(value, str):
        raise EventFormatError(f"{path}{key}: want a string, got {type(value).__name__}")
    if required and not value:
        raise EventFormatError(f"{path}{key}: must not be empty")
    return value


def _choice(parent: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...], default: str) -> str:
    value = parent.get(key, default)
    if value not in choices:
        raise EventFormatError(f"{path}{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _timestamp(value: Any) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if not isinstance(value, str):
        raise EventFormatError(f"occurred_at: want an ISO 8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EventFormatError(f"occurred_at: {value!r} is not ISO 8601") from exc
    if parsed.tzinfo is None:
        raise EventFormatError(f"occurred_at: {value!r} has no timezone; add Z or an offset")
    return parsed.astimezone(UTC)


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _credential(value: Any) -> dict[str, str] | None:
    """Never echoes the token in an error: it is a secret."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"kind": "oidc_id_token", "token": value}
    if not isinstance(value, Mapping):
        raise EventFormatError(f"credential: want an object or a token string, got {type(value).__name__}")
    kind = _choice(value, "kind", "credential.", CREDENTIAL_KINDS, "oidc_id_token")
    token = value.get("token")
    if not isinstance(token, str) or not token:
        raise EventFormatError("credential.token: want a non-empty string")
    return {"kind": kind, "token": token}


def event_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Build the AuditEvent datum; raises EventFormatError naming the first bad field."""
    if not isinstance(data, Mapping):
        raise EventFormatError(f"event: want an object, got {type(data).__name__}")
    event_id = data.get("event_id") or str(uuid.uuid4())
    try:
        event_id = str(uuid.UUID(str(event_id)))
    except ValueError as exc:
        raise EventFormatError(f"event_id: {event_id!r} is not a UUID") from exc
    actor = _obj(data, "actor", "")
    action = _obj(data, "action", "")
    target = _obj(data, "target", "", required=False)
    payload = _obj(data, "payload", "", required=False)
    outcome = _obj(data, "outcome", "", required=False)
    source = _obj(data, "source", "")
    correlation = _obj(data, "correlation", "")
    groups = actor.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise EventFormatError("actor.groups: want a list of strings")
    attributes = payload.get("attributes", {})
    if not isinstance(attributes, Mapping) or not all(isinstance(v, str) for v in attributes.values()):
        raise EventFormatError("payload.attributes: want an object of strings")
    return {
        "event_id": event_id,
        "tenant": _str(data, "tenant", "", required=True),
        "occurred_at": _timestamp(data.get("occurred_at")),
        "actor": {
            "subject": _str(actor, "subject", "actor.", required=True),
            "issuer": _str(actor, "issuer", "actor."),
            "groups": list(groups),
            "kind": _choice(actor, "kind", "actor.", ACTOR_KINDS, "user"),
        },
        "action": {"type": _str(action, "type", "action.", required=True), "name": _str(action, "name", "action.")},
        "target": {"kind": _str(target, "kind", "target."), "name": _str(target, "name", "target.")},
        "payload": {
            **{f: _str(payload, f, "payload.") for f in TEXT_FIELDS},
            **{f: _json_text(payload.get(f)) for f in JSON_TEXT_FIELDS},
            "attributes": dict(attributes),
        },
        "outcome": {
            "status": _choice(outcome, "status", "outcome.", OUTCOME_STATUSES, "success"),
            "error": _str(outcome, "error", "outcome."),
        },
        "source": {
            "service": _str(source, "service", "source.", required=True),
            "host": _str(source, "host", "source."),
            "ip": _str(source, "ip", "source."),
        },
        "correlation": {
            "session_id": _str(correlation, "session_id", "correlation.", required=True),
            **{k: _str(correlation, k, "correlation.") for k in ("run_id", "parent_run_id", "graph_node", "trace_id")},
        },
        "credential": _credential(data.get("credential")),
    }


def event_to_json(event: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of a decoded AuditEvent datum (timestamps ISO 8601, UUIDs as text)."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return convert(event)
