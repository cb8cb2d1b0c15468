"""Fuzzing the stream's decode -> validate -> admit (mask) -> append path as the sequencer runs it (no Kafka).

Inputs: arbitrary bytes; valid encodings mutated (bit flips, truncations, extensions, another writer
fingerprint); events with hostile strings (deep JSON, huge fields, invalid UTF-8 and surrogate bytes,
control characters, far timestamps); and events carrying planted secrets in odd places.

Properties: every input becomes exactly one ledger entry or one dead letter (the sequencer turns
`RejectedEvent` into a dead letter; anything else escaping is a crash of the batch); no example takes
long (a hang); an admitted entry holds no raw secret the masking policy detects.

Bounded for CI: a few hundred examples per test, about 15 s in all on the 2-core machine.
"""

from __future__ import annotations

import copy
import io
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas.single_object import frame
from tests.fuzz.sequencer_harness import NOW, Outcome, run_one, store
from tests.masking.secret_values import SecretValue, events_with_secrets, secret_values, sensitive_leaks

PER_EXAMPLE = timedelta(seconds=20)  # far above any real example: only a hang or a quadratic blow-up reaches it
# derandomize: CI runs the same examples every time, so a red build names a real regression, not a new draw.
# For a longer, random search: pytest tests/fuzz --hypothesis-seed=random, or raise max_examples locally.
BUDGET = settings(max_examples=150, deadline=PER_EXAMPLE, suppress_health_check=[HealthCheck.too_slow],
                  derandomize=True)  # fmt: skip
ERROR_KINDS = {"undecodable", "unknown_schema", "invalid", "unscannable"}
VALID = [store().encode("AuditEvent", event_from_json(e)) for e in demo_events(40, seed=11)]
HEADER = VALID[0][:10]  # C3 01 + the AuditEvent fingerprint


def assert_well_formed(outcome: Outcome) -> None:
    if outcome.dead_letter is not None:
        assert outcome.dead_letter["error_kind"] in ERROR_KINDS
        assert outcome.dead_letter["reason"]
    else:
        assert outcome.entry is not None and outcome.entry["event"]["credential"] is None


@BUDGET
@given(st.one_of(st.binary(max_size=512), st.binary(max_size=512).map(lambda b: HEADER + b)))
def test_arbitrary_bytes_are_recorded_or_dead_lettered(raw: bytes) -> None:
    assert_well_formed(run_one(raw))


def mutate(raw: bytes, rnd: random.Random) -> bytes:
    """One of: flip bits, truncate, extend, replace the fingerprint, splice two encodings."""
    data = bytearray(raw)
    kind = rnd.randrange(5)
    if kind == 0:
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
    elif kind == 1:
        del data[rnd.randrange(len(data)) :]
    elif kind == 2:
        data += rnd.randbytes(rnd.randint(1, 64))
    elif kind == 3:
        data[2:10] = rnd.randbytes(8)
    else:
        other = rnd.choice(VALID)
        data = data[: rnd.randrange(len(data))] + other[rnd.randrange(10, len(other)) :]
    return bytes(data)


@BUDGET
@given(st.sampled_from(VALID), st.integers(0, 2**32).map(random.Random))
def test_mutated_encodings_are_recorded_or_dead_lettered(raw: bytes, rnd: random.Random) -> None:
    assert_well_formed(run_one(mutate(raw, rnd)))


def test_wrong_fingerprint_is_unknown_schema() -> None:
    outcome = run_one(HEADER[:2] + b"\x01" * 8 + VALID[0][10:])
    assert outcome.dead_letter is not None and outcome.dead_letter["error_kind"] == "unknown_schema"


# ------------------------------------------------------------------------------- hostile event content

MARKER = "\u2603SUR"  # 6 UTF-8 bytes, replaced in the encoding by bytes that are not UTF-8
NOT_UTF8 = (b"\xed\xa0\x80\xed\xb0\x80", b"\xff\xfe\xfd\xfc\xfb\xfa", b"\xc0\xaf\xc0\xaf\xc0\xaf")


def nested(depth: int, leaf: str) -> str:
    return "[" * depth + json.dumps(leaf) + "]" * depth


hostile_text = st.one_of(
    st.text(max_size=64),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp", "Co"]), max_size=64),
    st.sampled_from([1_048_577, 1_500_000]).map(lambda n: "A" * n),
    st.just(MARKER),
)
depths = st.one_of(st.sampled_from([63, 64, 65, 999, 1000, 1001, 5000, 200_000]), st.integers(1, 3000))
hostile_json = st.one_of(
    depths.map(lambda d: nested(d, "x")),
    depths.map(lambda d: '{"a":' * d + "1" + "}" * d),
    st.integers(1, 200).map(lambda d: "[" * d),  # unbalanced
    st.sampled_from(['"\\ud800"', '{"\\udfff": 1}', "[1e999999]", "NaN", '{"a": -Infinity}', "\ufeff{}", "{}" * 3]),
    st.just("[" + "0," * 100_001 + "0]"),  # more values than max_nodes
    hostile_text.map(json.dumps),
)
JSON_FIELDS = ("parameters", "tool_arguments", "response")
TEXT_PATHS = (("payload", "prompt"), ("payload", "query"), ("outcome", "error"), ("target", "name"),
              ("action", "name"), ("source", "host"), ("correlation", "run_id"))  # fmt: skip
far_times = st.sampled_from([datetime(1970, 1, 1, tzinfo=UTC), datetime(1999, 12, 31, tzinfo=UTC),
                             NOW + timedelta(days=2), datetime(9999, 12, 31, tzinfo=UTC), NOW])  # fmt: skip


@st.composite
def hostile_events(draw: st.DrawFn) -> bytes:
    event = event_from_json(draw(st.sampled_from(list(demo_events(20, seed=5)))))
    for field in draw(st.lists(st.sampled_from(JSON_FIELDS), max_size=3, unique=True)):
        event["payload"][field] = draw(hostile_json)
    for outer, inner in draw(st.lists(st.sampled_from(TEXT_PATHS), max_size=3, unique=True)):
        event[outer][inner] = draw(hostile_text)
    if draw(st.booleans()):
        count = draw(st.integers(1, 3))
        event["payload"]["attributes"] = {draw(hostile_text): draw(hostile_text) for _ in range(count)}
    event["occurred_at"] = draw(far_times)
    raw = store().encode("AuditEvent", event)
    marker = MARKER.encode()
    while marker in raw:
        raw = raw.replace(marker, draw(st.sampled_from(NOT_UTF8)), 1)
    return raw


@settings(BUDGET, max_examples=120)
@given(hostile_events())
def test_hostile_events_are_recorded_or_dead_lettered(raw: bytes) -> None:
    assert_well_formed(run_one(raw))


# ------------------------------------------------------------------------------------ planted secrets

ODD_PLACES = ("attribute_key", "target_name", "outcome_error", "escaped_json", "deep_json", "prompt_with_controls")


def plant(event: dict[str, Any], secret: SecretValue, place: str, rnd: random.Random) -> None:
    """Put `secret` where agents do put them but the masking tests do not usually look."""
    payload = event["payload"]
    if place == "attribute_key":
        payload["attributes"] = {**payload["attributes"], f"{secret.text}": "1"}
    elif place == "target_name":
        event["target"]["name"] = f"crm {secret.text}"
    elif place == "outcome_error":
        event["outcome"] = {"status": "failure", "error": f"Traceback:\n  ValueError({secret.text!r})"}
    elif place == "escaped_json":  # every character \u-escaped: the raw text never shows the secret
        escaped = "".join(f"\\u{ord(c):04x}" for c in secret.text)
        payload["tool_arguments"] = '{"note": "' + escaped + '"}'
    elif place == "deep_json":
        payload["response"] = nested(rnd.randint(1, 60), secret.text)
    else:
        payload["prompt"] = f"\x00\x1b[31m\x1b{secret.text}\x07\u2028\x7f"  # control characters are boundaries


@settings(BUDGET, max_examples=200)
@given(events_with_secrets(max_secrets=3), secret_values(), st.sampled_from(ODD_PLACES), st.integers(0, 2**32))
def test_admitted_entries_hold_no_detected_secret(
    sample: tuple[dict, list[SecretValue]], odd: SecretValue, place: str, seed: int
) -> None:
    event, secrets = sample
    plant(event, odd, place, random.Random(seed))
    outcome = run_one(store().encode("AuditEvent", event))
    assert_well_formed(outcome)
    if outcome.entry is None:
        return  # refused (e.g. too deep to scan in strict mode): nothing reached the ledger
    assert outcome.entry_bytes is not None
    planted = [*secrets, odd]
    assert not sensitive_leaks(outcome.entry["event"], planted)
    for s in planted:
        assert s.sensitive.encode() not in outcome.entry_bytes, (s.kind, place)


def test_far_timestamps_are_dead_lettered_with_the_reason() -> None:
    event = event_from_json(next(demo_events(1)))
    for when, words in ((datetime(1970, 1, 1, tzinfo=UTC), "before"), (datetime(9999, 1, 1, tzinfo=UTC), "ahead")):
        event["occurred_at"] = when
        outcome = run_one(store().encode("AuditEvent", event))
        assert outcome.dead_letter is not None and outcome.dead_letter["error_kind"] == "invalid"
        assert words in outcome.dead_letter["reason"]


def test_a_timestamp_past_what_python_can_hold_is_undecodable() -> None:
    """occurred_at of 2**62 microseconds (year ~146,000): Avro allows it, datetime cannot hold it."""
    event = event_from_json(next(demo_events(1)))
    schema = copy.deepcopy(store().schema("AuditEvent").parsed)
    for field in schema["fields"]:
        if field["name"] == "occurred_at":
            field["type"] = "long"
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, {**event, "occurred_at": 2**62})
    outcome = run_one(frame(store().schema("AuditEvent").fingerprint, body.getvalue()))
    assert outcome.dead_letter is not None and outcome.dead_letter["error_kind"] == "undecodable"
