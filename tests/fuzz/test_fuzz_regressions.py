"""Inputs the fuzz tests found, each kept as a test named after it (both failed on the code before the fix)."""

from __future__ import annotations

import pytest

from producers.demo_session import demo_events
from producers.event_json import event_from_json
from stream.masking.engine import mask_text
from tests.fuzz.sequencer_harness import run_one, store
from tests.ledger_path import admission


@pytest.mark.parametrize("field", ["parameters", "tool_arguments"])
def test_json_nested_5000_deep_is_dead_lettered_not_a_crash(field: str) -> None:
    """json.loads raised RecursionError (not ValueError) in validation, which ended the whole batch."""
    event = event_from_json(next(demo_events(1)))
    event["payload"][field] = '{"a":' * 5000 + "1" + "}" * 5000
    outcome = run_one(store().encode("AuditEvent", event))
    assert outcome.dead_letter is not None
    assert outcome.dead_letter["error_kind"] == "invalid"
    assert outcome.dead_letter["reason"] == f"payload.{field} is JSON nested too deep to parse"


def test_parenthesised_phone_right_after_a_letter_is_masked() -> None:
    """`\\x1b[31m(594) 976-6890`: the colour code's `m` touched the `(` and the phone passed unmasked."""
    plan = admission().plan({"tenant": "acme", "action": {"type": "tool.call"}})
    masked, _ = mask_text("\x1b[31m(594) 976-6890\x1b[0m", plan, "payload.prompt")
    assert "976-6890" not in masked


@pytest.mark.parametrize("separator", ["\\t", "%20"])
def test_bearer_token_behind_an_escaped_separator_is_masked(separator: str) -> None:
    """`ValueError('BEARER\\tbpcA_...')`: a repr writes the tab as backslash-t, which the scheme did not accept."""
    token = "bpcA_e_xN3gxakJ2zYVnAl7vzoEmiWKqUHTfE6N-nl19E9J4G6yEjkv-J="
    plan = admission().plan({"tenant": "acme", "action": {"type": "tool.call"}})
    masked, _ = mask_text(f"Traceback:\n  ValueError('BEARER{separator}{token}')", plan, "outcome.error")
    assert token not in masked and "BEARER" in masked
