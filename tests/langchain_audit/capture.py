"""An in-memory delivery for the handler's unit tests, and a handler wired to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.langchain_audit import AuditCallbackHandler


class CapturingDelivery:
    """Keeps every submitted AuditEvent datum, in order; optionally fails like a full spool."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_with = fail_with

    def submit(self, datum: Mapping[str, Any]) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.events.append(dict(datum))
        return str(datum["event_id"])

    def kinds(self) -> list[str]:
        return [e["action"]["type"] for e in self.events]

    def of(self, action_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["action"]["type"] == action_type]


def make_handler(delivery: Any, **overrides: Any) -> AuditCallbackHandler:
    options: dict[str, Any] = {
        "tenant": "acme",
        "actor_subject": "svc-support",
        "actor_kind": "service",
        "actor_groups": ["agents"],
        "source_service": "unit-test",
        "source_host": "host-1",
    }
    options.update(overrides)
    return AuditCallbackHandler(delivery, **options)
