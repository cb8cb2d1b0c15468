"""The shortcut for events with nothing to mask never skips an event the full walk would mask."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from stream.masking.engine import _compile, clean_without_walking, mask_event
from stream.masking.plan import DETECTOR_NAMES, DetectorSetting, FieldRule, MaskingPlan
from tests.masking.secret_values import events_with_secrets

PLAN = MaskingPlan(tenant="acme", detectors={n: DetectorSetting("redact") for n in DETECTOR_NAMES})


def quiet_event(**payload) -> dict:
    return {"tenant": "acme", "payload": {"prompt": None, "parameters": None, "tool_arguments": None, "query": None,
                                          "response": None, "attributes": {}, **payload},
            "outcome": {"status": "success", "error": None}, "target": {"kind": None, "name": None}}  # fmt: skip


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(events_with_secrets())
def test_an_event_holding_a_secret_never_takes_the_shortcut(generated) -> None:
    event, _ = generated
    assert clean_without_walking(event, _compile(PLAN)) == 0


def test_an_ordinary_event_takes_the_shortcut_and_comes_back_unchanged() -> None:
    event = quiet_event(prompt="Summarise the refunds of last quarter.",
                        tool_arguments=json.dumps({"customer_id": 42, "rows": [{"status": "shipped"}]}))  # fmt: skip
    assert clean_without_walking(event, _compile(PLAN)) > 0
    masked = mask_event(event, PLAN)
    assert masked.event == event and masked.manifest == ()


def test_doubtful_events_take_the_full_walk() -> None:
    compiled = _compile(PLAN)
    doubtful = [
        quiet_event(tool_arguments='{"note": "caf\\u00e9"}'),  # an escape: parsed text differs from raw
        quiet_event(tool_arguments='{"card": 4.111111111111111e15}'),  # an exponent: parsed digits differ
        quiet_event(tool_arguments='{"ssn": "not a number"}'),  # a label word: keys pair with values
        quiet_event(tool_arguments="[" * 70 + "]" * 70),  # deeper than the limit could be
    ]
    for event in doubtful:
        assert clean_without_walking(event, compiled) == 0, event
    with_rule = MaskingPlan(tenant="acme", detectors={}, field_rules=(FieldRule("r", "payload.prompt", "redact"),))
    assert clean_without_walking(quiet_event(prompt="hello there"), _compile(with_rule)) == 0
