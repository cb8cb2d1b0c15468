"""The masking engine: field rules, actions, manifest, JSON handling, limits, idempotence, paths."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from stream.masking.actions import hash_token, normalise, partial_token
from stream.masking.engine import MaskedEvent, UnscannableField, mask_event, mask_text
from stream.masking.paths import ANY_INDEX, ANY_KEY, INDEX, KEY, format_path, match_path, parse_path
from stream.masking.plan import DETECTOR_NAMES, DetectorSetting, FieldRule, MaskingPlan, ScanLimits

KEY_A = b"A" * 32
KEY_B = b"B" * 32
CARD = "4111 1111 1111 1111"
EMAIL = "jane.roe@example.com"


def make_event(**payload: Any) -> dict[str, Any]:
    base_payload: dict[str, Any] = {
        "prompt": None,
        "parameters": None,
        "tool_arguments": None,
        "query": None,
        "response": None,
        "attributes": {},
    }
    base_payload.update(payload)
    return {
        "event_id": "0b6c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3",
        "tenant": "acme",
        "occurred_at": datetime(2024, 5, 1, 12, 30, 45, tzinfo=UTC),
        "actor": {"subject": "agent-7", "issuer": None, "groups": ["support"], "kind": "agent"},
        "action": {"type": "tool.call", "name": "lookup"},
        "target": {"kind": "tool", "name": "crm"},
        "payload": base_payload,
        "outcome": {"status": "success", "error": None},
        "source": {"service": "agent-runtime", "host": "worker-3", "ip": "10.1.2.3"},
        "correlation": {
            "session_id": "s-1",
            "run_id": None,
            "parent_run_id": None,
            "graph_node": None,
            "trace_id": None,
        },
    }


def make_plan(
    action: str = "redact",
    rules: tuple[FieldRule, ...] = (),
    detectors: dict[str, DetectorSetting] | None = None,
    **kw: Any,
) -> MaskingPlan:
    if detectors is None:
        detectors = {name: DetectorSetting(action) for name in DETECTOR_NAMES}
    kw.setdefault("hash_key", KEY_A)
    kw.setdefault("hash_key_id", "mk-1")
    return MaskingPlan(tenant="acme", detectors=detectors, field_rules=rules, **kw)


def rule(path: str, action: str = "redact", rule_id: str = "r1", keep: int = 4) -> FieldRule:
    return FieldRule(rule_id=rule_id, path=path, action=action, keep=keep)  # type: ignore[arg-type]


def items(masked: MaskedEvent) -> list[tuple[str, str, str, int]]:
    return [(i.path, i.rule, i.action, i.count) for i in masked.manifest]


def payload_json(masked: MaskedEvent, field: str) -> Any:
    return json.loads(masked.event["payload"][field])


# --------------------------------------------------------------------------------------------- field rules


def test_field_rule_with_list_wildcard_into_json_text() -> None:
    rows = [{"name": "a", "ssn": "123-45-6789"}, {"name": "b", "ssn": "987-65-4320"}, {"name": "c"}]
    event = make_event(response=json.dumps({"rows": rows}))
    masked = mask_event(event, make_plan(detectors={}, rules=(rule("payload.response.rows[*].ssn"),)))
    assert payload_json(masked, "response") == {
        "rows": [{"name": "a", "ssn": "[REDACTED:field]"}, {"name": "b", "ssn": "[REDACTED:field]"}, {"name": "c"}]
    }
    assert items(masked) == [("payload.response.rows[*].ssn", "field:r1", "redact", 2)]


def test_field_rule_masks_regardless_of_content_and_type() -> None:
    event = make_event(tool_arguments=json.dumps({"customer": {"id": 7, "tags": ["x", "y"]}, "note": "hello"}))
    plan = make_plan(detectors={}, rules=(rule("payload.tool_arguments.customer"), rule("payload.tool_arguments.note")))
    args = payload_json(mask_event(event, plan), "tool_arguments")
    assert args == {"customer": "[REDACTED:field]", "note": "[REDACTED:field]"}


def test_field_rule_on_event_fields_and_wildcard_keys() -> None:
    event = make_event(attributes={"user.email": EMAIL, "user.phone": "+1 415 555 2671", "step": "3"})
    plan = make_plan(detectors={}, rules=(rule("source.ip", "hash"), rule("payload.attributes.*", "redact", "r2")))
    masked = mask_event(event, plan)
    assert masked.event["source"]["ip"] == hash_token("field", "10.1.2.3", KEY_A, "mk-1")
    assert masked.event["payload"]["attributes"] == dict.fromkeys(
        ("user.email", "user.phone", "step"), "[REDACTED:field]"
    )
    assert ("source.ip", "field:r1", "hash", 1) in items(masked)
    assert ('payload.attributes["user.email"]', "field:r2", "redact", 1) in items(masked)


def test_field_rule_index_and_any_key() -> None:
    doc = {"rows": [{"a": 1, "b": 2}, {"a": 3, "b": 4}], "meta": {"x": 1}}
    event = make_event(response=json.dumps(doc))
    plan = make_plan(detectors={}, rules=(rule("payload.response.rows[1].*", "drop"),))
    assert payload_json(mask_event(event, plan), "response") == {"rows": [{"a": 1, "b": 2}, {}], "meta": {"x": 1}}


def test_first_matching_rule_wins_and_masking_once() -> None:
    event = make_event(response=json.dumps({"ssn": "123-45-6789"}))
    plan = make_plan(
        detectors={}, rules=(rule("payload.response.ssn", "redact"), rule("payload.response.*", "hash", "r2"))
    )
    masked = mask_event(event, plan)
    assert payload_json(masked, "response") == {"ssn": "[REDACTED:field]"}
    assert items(masked) == [("payload.response.ssn", "field:r1", "redact", 1)]


def test_rule_naming_a_protected_field_is_refused() -> None:
    for path in ("event_id", "tenant", "occurred_at", "actor.kind", "outcome.status"):
        with pytest.raises(ValueError, match="cannot be masked"):
            mask_event(make_event(), make_plan(rules=(rule(path),)))
    # A wildcard passes over them.
    masked = mask_event(make_event(), make_plan(detectors={}, rules=(rule("*"),)))
    assert masked.event["event_id"] == make_event()["event_id"]
    assert masked.event["tenant"] == "acme"
    assert masked.event["outcome"]["status"] == "success"
    assert masked.event["actor"]["subject"] == "[REDACTED:field]"


# --------------------------------------------------------------------------------------------- actions


def test_action_formats_in_text() -> None:
    text = f"card {CARD} mail {EMAIL}"
    for action, card_out, email_out in (
        ("redact", "[REDACTED:payment_card]", "[REDACTED:email]"),
        ("partial", "[PARTIAL:payment_card:****1111]", "[PARTIAL:email:****com]"),
        ("hash", hash_token("payment_card", CARD, KEY_A, "mk-1"), hash_token("email", EMAIL, KEY_A, "mk-1")),
        ("drop", "", ""),
    ):
        masked, manifest = mask_text(text, make_plan(action), "reason")
        assert masked == f"card {card_out} mail {email_out}", action
        assert [(i.path, i.rule, i.action, i.count) for i in manifest] == [
            ("reason", "detector:email", action, 1),
            ("reason", "detector:payment_card", action, 1),
        ]


def test_hash_token_is_hmac_of_kind_and_normalised_value() -> None:
    expected = hmac.new(KEY_A, b"payment_card\x004111111111111111", hashlib.sha256).digest()[:12].hex()
    assert hash_token("payment_card", CARD, KEY_A, "mk-1") == f"[HASH:payment_card:mk-1:{expected}]"
    assert len(expected) == 24


def test_hash_is_stable_normalised_and_keyed() -> None:
    same = [
        hash_token("payment_card", "4111 1111 1111 1111", KEY_A, "k"),
        hash_token("payment_card", "4111-1111-1111-1111", KEY_A, "k"),
        hash_token("payment_card", "4111111111111111", KEY_A, "k"),
    ]
    assert len(set(same)) == 1
    assert hash_token("email", "Jane.Roe@Example.com", KEY_A, "k") == hash_token("email", EMAIL, KEY_A, "k")
    assert hash_token("iban", "DE89 3704 0044 0532 0130 00", KEY_A, "k") == hash_token(
        "iban", "de89370400440532013000", KEY_A, "k"
    )
    assert hash_token("phone", "(415) 555-2671", KEY_A, "k") == hash_token("phone", "415.555.2671", KEY_A, "k")
    assert hash_token("email", EMAIL, KEY_A, "k") != hash_token("email", EMAIL, KEY_B, "k")  # another tenant
    assert hash_token("email", EMAIL, KEY_A, "k") != hash_token("field", EMAIL, KEY_A, "k")  # kind is hashed in
    assert normalise("us_ssn", "123-45-6789") == "123456789"
    assert normalise("jwt", "AbC") == "AbC"

    event = make_event(prompt=f"card {CARD}", query=f"WHERE card = '{CARD.replace(' ', '')}'")
    a = mask_event(event, make_plan("hash")).event["payload"]
    b = mask_event(event, make_plan("hash", hash_key=KEY_B)).event["payload"]
    token_a = a["prompt"].removeprefix("card ")
    assert token_a in a["query"]  # joinable within the tenant
    assert token_a not in b["prompt"] and b["prompt"].startswith("card [HASH:payment_card:mk-1:")


def test_hash_without_a_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="hash key"):
        mask_event(make_event(), make_plan("hash", hash_key=b""))
    with pytest.raises(ValueError, match="hash key"):
        mask_event(make_event(), make_plan(detectors={}, rules=(rule("source.ip", "hash"),), hash_key=b""))
    with pytest.raises(ValueError, match="hash key"):
        hash_token("email", EMAIL, b"", "k")
    # A plan that never hashes needs no key.
    mask_event(make_event(prompt=EMAIL), make_plan("redact", hash_key=b""))


def test_partial_keeps_at_most_a_quarter() -> None:
    assert partial_token("payment_card", "4111111111111111", 4) == "[PARTIAL:payment_card:****1111]"
    assert partial_token("payment_card", "4111111111111111", 10) == "[PARTIAL:payment_card:****1111]"
    assert partial_token("field", "123-45-6789", 4) == "[PARTIAL:field:****89]"
    assert partial_token("field", "abc", 4) == "[PARTIAL:field:****]"
    assert partial_token("field", "abcdefgh", 0) == "[PARTIAL:field:****]"
    assert partial_token("email", "a@b.co.uk", 4) == "[PARTIAL:email:****uk]"  # stops at non-alphanumerics
    event = make_event(response=json.dumps({"ssn": "123-45-6789"}))
    plan = make_plan(detectors={}, rules=(rule("payload.response.ssn", "partial", keep=2),))
    assert payload_json(mask_event(event, plan), "response") == {"ssn": "[PARTIAL:field:****89]"}


def test_detector_partial_keep_is_per_detector() -> None:
    plan = make_plan(detectors={"payment_card": DetectorSetting("partial", keep=2)})
    assert mask_text(f"c {CARD}", plan)[0] == "c [PARTIAL:payment_card:****11]"


# --------------------------------------------------------------------------------------------- drop


def test_drop_semantics() -> None:
    doc = {"rows": [{"ssn": "1", "n": "a"}, {"ssn": "2", "n": "b"}, {"n": "c"}], "keep": True}
    event = make_event(
        response=json.dumps(doc),
        tool_arguments=json.dumps(["x", "secret", "y"]),
        attributes={"secret": "s", "other": "o"},
    )
    plan = make_plan(
        detectors={},
        rules=(
            rule("payload.response.rows[*].ssn", "drop"),
            rule("payload.response.rows[1]", "drop", "r2"),
            rule("payload.tool_arguments[1]", "drop", "r3"),
            rule("payload.attributes.secret", "drop", "r4"),
            rule("source.ip", "drop", "r5"),
            rule("actor.subject", "drop", "r6"),
            rule("actor.groups", "drop", "r7"),
            rule("payload.query", "drop", "r8"),
        ),
    )
    masked = mask_event(event, plan)
    assert payload_json(masked, "response") == {"rows": [{"n": "a"}, {"n": "c"}], "keep": True}
    assert payload_json(masked, "tool_arguments") == ["x", "y"]
    assert masked.event["payload"]["attributes"] == {"other": "o"}
    assert masked.event["source"]["ip"] is None  # nullable
    assert masked.event["actor"]["subject"] == ""  # not nullable
    assert masked.event["actor"]["groups"] == []
    assert masked.event["payload"]["query"] is None  # was None: nothing to drop
    assert ("payload.response.rows[*].ssn", "field:r1", "drop", 2) in items(masked)
    assert ("payload.response.rows[*]", "field:r2", "drop", 1) in items(masked)
    assert not any(i[1] == "field:r8" for i in items(masked))


def test_drop_inside_text_removes_the_value() -> None:
    assert mask_text(f"pay {CARD} now", make_plan("drop"))[0] == "pay  now"
    event = make_event(tool_arguments=json.dumps({"to": EMAIL, "cc": [EMAIL, "x"]}))
    assert payload_json(mask_event(event, make_plan("drop")), "tool_arguments") == {"to": "", "cc": ["", "x"]}


# --------------------------------------------------------------------------------------------- JSON walking


def test_untouched_json_keeps_its_exact_text() -> None:
    params = '{ "temperature" : 0.20,\n  "model": "gpt-4o",  "stop": ["\\n"], "n": 1.0e3 }'
    event = make_event(parameters=params, tool_arguments="[1, 2,  3]", response="plain text answer 42")
    masked = mask_event(event, make_plan("redact"))
    assert masked.event["payload"]["parameters"] == params
    assert masked.event["payload"]["tool_arguments"] == "[1, 2,  3]"
    assert masked.event["payload"]["response"] == "plain text answer 42"
    assert masked.manifest == ()
    assert masked.fields_touched == 0


def test_changed_json_is_reserialised_compactly() -> None:
    event = make_event(tool_arguments=json.dumps({"to": EMAIL, "note": "ünïcode"}, indent=2))
    masked = mask_event(event, make_plan("redact"))
    assert masked.event["payload"]["tool_arguments"] == '{"to":"[REDACTED:email]","note":"ünïcode"}'


def test_number_leaves_are_scanned() -> None:
    event = make_event(tool_arguments=json.dumps({"card": 4111111111111111, "qty": 2, "price": 19.99}))
    masked = mask_event(event, make_plan("redact"))
    assert payload_json(masked, "tool_arguments") == {"card": "[REDACTED:payment_card]", "qty": 2, "price": 19.99}
    assert items(masked) == [("payload.tool_arguments.card", "detector:payment_card", "redact", 1)]


def test_keys_are_scanned_and_collisions_made_unique() -> None:
    doc = {"alice@example.com": {"phone": "415-555-2671"}, "bob@example.org": 2, "[REDACTED:email]": 3, "n": 1}
    event = make_event(response=json.dumps(doc), attributes={"carol@example.net": "10.0.0.1", "k": "v"})
    masked = mask_event(event, make_plan("redact"))
    assert payload_json(masked, "response") == {
        "[REDACTED:email]#2": {"phone": "[REDACTED:phone]"},
        "[REDACTED:email]#3": 2,
        "[REDACTED:email]": 3,
        "n": 1,
    }
    assert masked.event["payload"]["attributes"] == {"[REDACTED:email]": "[REDACTED:ipv4]", "k": "v"}
    assert items(masked) == [
        ('payload.attributes["[REDACTED:email]"]', "detector:email", "redact", 1),
        ('payload.attributes["[REDACTED:email]"]', "detector:ipv4", "redact", 1),
        ('payload.response["[REDACTED:email]#2"]', "detector:email", "redact", 1),
        ('payload.response["[REDACTED:email]#2"].phone', "detector:phone", "redact", 1),
        ('payload.response["[REDACTED:email]#3"]', "detector:email", "redact", 1),
    ]


def test_manifest_paths_generalise_indices_and_never_carry_values() -> None:
    secrets = [EMAIL, CARD, "123-45-6789", "ghp_" + "aB3" * 12]
    doc = {"rows": [{"email": EMAIL, "x": [CARD]}, {"email": "x@example.org"}], EMAIL: secrets[2], "t": secrets[3]}
    event = make_event(
        tool_arguments=json.dumps(doc),
        prompt=f"mail {EMAIL}",
        attributes={EMAIL: CARD},
        error=None,
    )
    masked = mask_event(event, make_plan("partial"))
    paths = {i.path for i in masked.manifest}
    assert "payload.tool_arguments.rows[*].email" in paths
    assert "payload.tool_arguments.rows[*].x[*]" in paths
    assert ("payload.tool_arguments.rows[*].email", "detector:email", "partial", 2) in items(masked)
    text = repr(masked.manifest)
    for secret in secrets:
        assert secret not in text
    for item in masked.manifest:
        assert "jane" not in item.path and "4111" not in item.path


def test_response_text_and_json_detection() -> None:
    masked = mask_event(make_event(response=f"  not json {{ {EMAIL}"), make_plan("redact"))
    assert masked.event["payload"]["response"] == "  not json { [REDACTED:email]"
    masked = mask_event(make_event(response=f'\n  ["{EMAIL}"]'), make_plan("redact"))
    assert masked.event["payload"]["response"] == '["[REDACTED:email]"]'
    masked = mask_event(make_event(response=f'"{EMAIL}"'), make_plan("redact"))  # a JSON string: scanned as text
    assert masked.event["payload"]["response"] == '"[REDACTED:email]"'


def test_scanned_fields_and_not_scanned_fields() -> None:
    event = make_event(prompt=EMAIL, query=EMAIL)
    event["outcome"]["error"] = f"failed for {EMAIL}"
    event["target"]["name"] = EMAIL
    event["actor"]["subject"] = EMAIL  # not a scanned field: only a field rule masks it
    masked = mask_event(event, make_plan("redact"))
    out = masked.event
    assert out["payload"]["prompt"] == out["payload"]["query"] == out["target"]["name"] == "[REDACTED:email]"
    assert out["outcome"]["error"] == "failed for [REDACTED:email]"
    assert out["actor"]["subject"] == EMAIL
    assert out["source"]["ip"] == "10.1.2.3"
    assert masked.fields_touched == 4


def test_counts() -> None:
    event = make_event(prompt="hello", tool_arguments=json.dumps({"a": EMAIL, "b": [1, 22]}), attributes={"k": "v"})
    masked = mask_event(event, make_plan("redact"))
    # prompt; target.name; keys a, b; value EMAIL (1 and 22 are too short to hold anything); attribute key, value
    assert masked.fields_scanned == 7
    assert masked.fields_touched == 1


def test_only_enabled_detectors_run() -> None:
    plan = make_plan(detectors={"email": DetectorSetting("redact")})
    assert mask_text(f"{EMAIL} {CARD}", plan)[0] == f"[REDACTED:email] {CARD}"
    with pytest.raises(ValueError, match="unknown detector"):
        mask_text("x", make_plan(detectors={"passport": DetectorSetting("redact")}))


def test_unknown_fields_are_copied_through() -> None:
    event = make_event(prompt=EMAIL)
    event["credential"] = {"kind": "oidc_id_token", "token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}
    masked = mask_event(event, make_plan("redact"))
    assert masked.event["credential"] == event["credential"]
    assert masked.event["credential"] is not event["credential"]
    event["credential"] = None
    assert mask_event(event, make_plan("redact")).event["credential"] is None
    del event["credential"]
    assert "credential" not in mask_event(event, make_plan("redact")).event
    # A field rule can still reach it.
    event["credential"] = {"kind": "oidc_id_token", "token": "t0k3n"}
    masked = mask_event(event, make_plan(detectors={}, rules=(rule("credential", "drop"),)))
    assert masked.event["credential"] is None


def test_input_is_never_mutated() -> None:
    doc = {"rows": [{"ssn": "123-45-6789", "email": EMAIL}], EMAIL: 1}
    event = make_event(prompt=EMAIL, response=json.dumps(doc), attributes={EMAIL: CARD})
    before = copy.deepcopy(event)
    plan = make_plan("hash", rules=(rule("payload.response.rows[*].ssn", "drop"), rule("source.ip", "drop", "r2")))
    masked = mask_event(event, plan)
    assert event == before
    assert masked.event is not event
    assert masked.event["payload"] is not event["payload"]


# --------------------------------------------------------------------------------------------- limits


def test_max_field_bytes_strict_and_not() -> None:
    big = "é" * 600 + f" {EMAIL}"  # 1,200+ bytes of UTF-8 in 620 characters
    event = make_event(prompt=big, query=f"hi {EMAIL}")
    plan = make_plan("redact", limits=ScanLimits(max_field_bytes=1000))
    with pytest.raises(UnscannableField) as info:
        mask_event(event, plan)
    assert info.value.path == "payload.prompt"
    assert "max_field_bytes" in info.value.reason
    assert EMAIL not in str(info.value) and "é" not in str(info.value)
    assert EMAIL not in repr(info.value.args)
    masked = mask_event(event, replace(plan, strict=False))
    assert masked.event["payload"]["prompt"] == "[WITHHELD:max_field_bytes]"
    assert masked.event["payload"]["query"] == "hi [REDACTED:email]"
    assert items(masked) == [
        ("payload.prompt", "limit:max_field_bytes", "redact", 1),
        ("payload.query", "detector:email", "redact", 1),
    ]


def test_oversized_attribute_value() -> None:
    event = make_event(attributes={"blob": "x" * 50, "ok": EMAIL})
    plan = make_plan("redact", strict=False, limits=ScanLimits(max_field_bytes=40))
    masked = mask_event(event, plan)
    assert masked.event["payload"]["attributes"] == {"blob": "[WITHHELD:max_field_bytes]", "ok": "[REDACTED:email]"}
    assert ("payload.attributes.blob", "limit:max_field_bytes", "redact", 1) in items(masked)
    with pytest.raises(UnscannableField, match="payload.attributes.blob"):
        mask_event(event, replace(plan, strict=True))


def test_max_depth() -> None:
    deep: Any = EMAIL
    for _ in range(10):
        deep = {"a": deep}
    event = make_event(tool_arguments=json.dumps(deep), prompt=EMAIL)
    plan = make_plan("redact", limits=ScanLimits(max_depth=5))
    with pytest.raises(UnscannableField) as info:
        mask_event(event, plan)
    assert info.value.path == "payload.tool_arguments" and info.value.reason.startswith("max_depth")
    masked = mask_event(event, replace(plan, strict=False))
    assert masked.event["payload"]["tool_arguments"] == "[WITHHELD:max_depth]"
    assert masked.event["payload"]["prompt"] == "[REDACTED:email]"
    assert ("payload.tool_arguments", "limit:max_depth", "redact", 1) in items(masked)
    # Exactly at the limit is fine.
    ok = make_event(tool_arguments=json.dumps({"a": {"b": {"c": {"d": {"e": EMAIL}}}}}))
    assert "[REDACTED:email]" in mask_event(ok, plan).event["payload"]["tool_arguments"]


def test_json_too_deep_for_the_parser() -> None:
    text = "[" * 100_000 + "]" * 100_000
    plan = make_plan("redact", strict=False, limits=ScanLimits(max_depth=10**6, max_field_bytes=10**7))
    masked = mask_event(make_event(tool_arguments=text), plan)
    assert masked.event["payload"]["tool_arguments"] == "[WITHHELD:max_depth]"


def test_max_nodes_counts_the_whole_event() -> None:
    event = make_event(parameters=json.dumps(list(range(60))), tool_arguments=json.dumps(list(range(60))))
    plan = make_plan("redact", limits=ScanLimits(max_nodes=100))
    with pytest.raises(UnscannableField) as info:
        mask_event(event, plan)
    assert info.value.path == "payload.tool_arguments" and "max_nodes" in info.value.reason
    masked = mask_event(event, replace(plan, strict=False))
    assert masked.event["payload"]["parameters"] == json.dumps(list(range(60)))
    assert masked.event["payload"]["tool_arguments"] == "[WITHHELD:max_nodes]"


def test_withheld_field_drops_its_rule_items() -> None:
    event = make_event(response=json.dumps({"ssn": "1", "pad": "x" * 100}))
    plan = make_plan("redact", strict=False, limits=ScanLimits(max_depth=0), rules=(rule("payload.response.ssn"),))
    masked = mask_event(event, plan)
    assert masked.event["payload"]["response"] == "[WITHHELD:max_depth]"
    assert items(masked) == [("payload.response", "limit:max_depth", "redact", 1)]


def test_mask_text_limits() -> None:
    plan = make_plan("redact", limits=ScanLimits(max_field_bytes=10))
    with pytest.raises(UnscannableField, match="reason: cannot be scanned: max_field_bytes"):
        mask_text(EMAIL, plan, "reason")
    text, manifest = mask_text(EMAIL, replace(plan, strict=False), "reason")
    assert text == "[WITHHELD:max_field_bytes]"
    assert [(i.path, i.rule) for i in manifest] == [("reason", "limit:max_field_bytes")]


# --------------------------------------------------------------------------------------------- idempotence


@pytest.mark.parametrize("action", ["redact", "partial", "hash", "drop"])
def test_masking_twice_changes_nothing(action: str) -> None:
    doc = {
        "rows": [{"email": EMAIL, "card": 4111111111111111, "ssn": "123-45-6789"}],
        "conn": "postgres://app:S3cretPassw0rd@db.internal/x",
        "auth": "Authorization: Bearer abcDEF123456789xyz",
        EMAIL: "key",
        "ip": "2001:db8::1:2 and 10.0.0.1",
    }
    event = make_event(
        tool_arguments=json.dumps(doc),
        prompt=f"call +1 415 555 2671 or mail {EMAIL}; IBAN DE89 3704 0044 0532 0130 00",
        attributes={"k": "AKIAIOSFODNN7EXAMPLE"},
    )
    plan = make_plan(
        action,
        rules=(rule("payload.tool_arguments.rows[*].ssn", action), rule("source.ip", action, "r2")),
    )
    once = mask_event(event, plan)
    assert once.manifest
    twice = mask_event(once.event, plan)
    assert twice.event == once.event
    assert twice.manifest == ()


# --------------------------------------------------------------------------------------------- paths


def test_parse_path() -> None:
    assert parse_path("payload.response.rows[*].ssn").steps == (
        (KEY, "payload"),
        (KEY, "response"),
        (KEY, "rows"),
        (ANY_INDEX, None),
        (KEY, "ssn"),
    )
    assert parse_path("a.*[2][*]").steps == ((KEY, "a"), (ANY_KEY, None), (INDEX, 2), (ANY_INDEX, None))
    assert parse_path('payload.attributes["user.email"]').steps[-1] == (KEY, "user.email")
    assert parse_path("source.ip").text == "source.ip"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty path"),
        ("a..b", "empty name"),
        (".a", "empty name"),
        ("a.", "empty name after the last dot"),
        ("a[", "unclosed"),
        ("a[x]", "bad index"),
        ("a[-1]", "negative index"),
        ("a[]", "empty brackets"),
        ("ab*", "must be a whole name"),
        ("*b", "must be a whole name"),
        ("a b", "unexpected character"),
        (" a", "whitespace"),
        ("[0]", "must start with a name"),
        ("a.[0]", "after a dot"),
        ('a["b]', "unclosed quoted name"),
    ],
)
def test_parse_path_errors(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("[", r"\[")):
        parse_path(text)


def test_match_and_format_path() -> None:
    path = parse_path("payload.response.rows[*].*")
    assert match_path(path, ["payload", "response", "rows", 3, "ssn"])
    assert not match_path(path, ["payload", "response", "rows", "3", "ssn"])
    assert not match_path(path, ["payload", "response", "rows", 3])
    assert parse_path("a[1]").matches(["a", 1]) and not parse_path("a[1]").matches(["a", 0])
    assert format_path(["payload", "response", "rows", 3, "ssn"]) == "payload.response.rows[*].ssn"
    assert format_path(["payload", "attributes", "user.email", None]) == 'payload.attributes["user.email"][*]'
    assert parse_path(format_path(["a", "x.y", 0])).steps == ((KEY, "a"), (KEY, "x.y"), (ANY_INDEX, None))


def test_bad_rule_path_in_a_plan() -> None:
    with pytest.raises(ValueError, match="field rule r1: bad path"):
        mask_event(make_event(), make_plan(rules=(rule("a..b"),)))


def test_keys_in_rule_and_limit_paths_are_shown_masked() -> None:
    event = make_event(response=json.dumps({EMAIL: {"note": "x"}, "other": 1}))
    masked = mask_event(event, make_plan("redact", rules=(rule("payload.response.*.note", "drop"),)))
    assert EMAIL not in repr(masked.manifest)
    assert ('payload.response["[REDACTED:email]"].note', "field:r1", "drop", 1) in items(masked)

    event = make_event(attributes={EMAIL: "y" * 50, "k": "v"})
    plan = make_plan("redact", strict=False, limits=ScanLimits(max_field_bytes=40))
    masked = mask_event(event, plan)
    assert EMAIL not in repr(masked.manifest)
    assert ('payload.attributes["[REDACTED:email]"]', "limit:max_field_bytes", "redact", 1) in items(masked)
    with pytest.raises(UnscannableField) as info:
        mask_event(event, replace(plan, strict=True))
    assert EMAIL not in str(info.value) and info.value.path == 'payload.attributes["[REDACTED:email]"]'
