"""The JSON form emitters send, and the errors that name the bad field."""

from __future__ import annotations

import json

import pytest

from producers.demo_session import demo_events
from producers.event_json import EventFormatError, event_from_json, event_to_json


def _good() -> dict:
    return next(demo_events(1))


def test_json_values_become_compact_json_text() -> None:
    data = _good()
    data["payload"] = {"tool_arguments": {"q": "ü", "n": 3}, "parameters": {"temperature": 0.2}}
    event = event_from_json(data)
    assert event["payload"]["tool_arguments"] == '{"q":"ü","n":3}'
    assert json.loads(event["payload"]["parameters"]) == {"temperature": 0.2}


def test_missing_id_and_time_are_filled() -> None:
    data = _good()
    del data["event_id"], data["occurred_at"]
    event = event_from_json(data)
    assert len(event["event_id"]) == 36
    assert event["occurred_at"].tzinfo is not None


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.pop("tenant"), "tenant"),
        (lambda d: d["actor"].pop("subject"), "actor.subject"),
        (lambda d: d["actor"].update(kind="robot"), "actor.kind"),
        (lambda d: d["correlation"].update(session_id=""), "correlation.session_id"),
        (lambda d: d.update(occurred_at="yesterday"), "occurred_at"),
        (lambda d: d.update(occurred_at="2026-01-01T00:00:00"), "occurred_at"),
        (lambda d: d.update(event_id="nope"), "event_id"),
        (lambda d: d["actor"].update(groups="admins"), "actor.groups"),
        (lambda d: d.pop("source"), "source"),
    ],
)
def test_bad_field_is_named(mutate, path: str) -> None:
    data = _good()
    mutate(data)
    with pytest.raises(EventFormatError, match=f"^{path}"):
        event_from_json(data)


def test_to_json_round_trips() -> None:
    data = _good()
    again = event_from_json(event_to_json(event_from_json(data)))
    assert again == event_from_json(data)
