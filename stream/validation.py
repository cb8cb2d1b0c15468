"""Accepting or refusing a raw message from audit.events, with a reason a person can act on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import DecodeError, FramingError, SchemaStore, UnknownSchemaError

ACTION_TYPES = frozenset(
    {
        "llm.request",
        "llm.response",
        "tool.call",
        "tool.result",
        "db.query",
        "chain.start",
        "chain.end",
        "node.start",
        "node.end",
        "retriever.query",
        "retriever.result",
        "agent.action",
        "agent.finish",
    }  # approval.* records come only from audit.approvals (stream.approvals.steps): an emitter cannot forge one
)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(days=1)


@dataclass(frozen=True)
class Rejection:
    kind: str  # undecodable | unknown_schema | invalid | unscannable
    reason: str


class RejectedEvent(Exception):
    """`event` is the decoded event when there was one (for a masked preview in the dead letter)."""

    def __init__(self, rejection: Rejection, event: dict[str, Any] | None = None) -> None:
        super().__init__(rejection.reason)
        self.rejection = rejection
        self.event = event


def decode_message(store: SchemaStore, raw: bytes | None, reader: str) -> dict[str, Any]:
    """Decode one raw input message under `reader`; raises RejectedEvent saying why it does not decode."""
    if not raw:
        raise RejectedEvent(Rejection("undecodable", "empty message"))
    try:
        return store.decode(raw, reader=reader)
    except FramingError as exc:
        raise RejectedEvent(Rejection("undecodable", f"not single-object Avro: {exc}")) from None
    except UnknownSchemaError as exc:
        raise RejectedEvent(Rejection("unknown_schema", str(exc))) from None
    except DecodeError as exc:
        raise RejectedEvent(Rejection("undecodable", str(exc))) from None


def decode_event(store: SchemaStore, raw: bytes | None, now: datetime) -> dict[str, Any]:
    """Decode and check one raw message; raises RejectedEvent with the first problem found."""
    event = decode_message(store, raw, "AuditEvent")
    problem = event_problem(event, now)
    if problem:
        raise RejectedEvent(Rejection("invalid", problem), event=event)
    return event


def event_problem(event: dict[str, Any], now: datetime) -> str | None:
    """The first semantic problem with a decoded event, or None. Never echoes field values."""
    for path, value in (
        ("tenant", event["tenant"]),
        ("actor.subject", event["actor"]["subject"]),
        ("source.service", event["source"]["service"]),
        ("correlation.session_id", event["correlation"]["session_id"]),
    ):
        if not value.strip():
            return f"{path} is empty"
    action_type = event["action"]["type"]
    if action_type not in ACTION_TYPES:
        return f"action.type is not a known action type ({len(action_type)} chars); known: {sorted(ACTION_TYPES)}"
    occurred = event["occurred_at"]
    if occurred < EARLIEST:
        return f"occurred_at {occurred.isoformat()} is before {EARLIEST.date()}"
    if occurred > now + MAX_CLOCK_SKEW:
        return f"occurred_at {occurred.isoformat()} is more than {MAX_CLOCK_SKEW} ahead of the stream's clock"
    parameters = event["payload"]["parameters"]
    if parameters is not None:
        try:
            if not isinstance(json.loads(parameters), dict):
                return "payload.parameters is JSON but not an object"
        except ValueError:
            return "payload.parameters is not valid JSON"
        except RecursionError:  # the json module recurses per level: thousands of levels exhaust the stack
            return "payload.parameters is JSON nested too deep to parse"
    arguments = event["payload"]["tool_arguments"]
    if arguments is not None:
        try:
            json.loads(arguments)
        except ValueError:
            return "payload.tool_arguments is not valid JSON"
        except RecursionError:
            return "payload.tool_arguments is JSON nested too deep to parse"
    return None
