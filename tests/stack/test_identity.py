"""Verified identity on the real stack: claims recorded and the token nowhere past audit.events; every kind
of bad token recorded as unverified with its reason and alerted once; issuer key rotation picked up live."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest

from auditledger.config import Settings
from auditledger.stack.local_stack import LocalStack
from auditledger.stack.processes import read_pid
from producers.emitter import AuditEmitter
from schemas import SchemaStore
from tests.identity.token_factory import BAD_VARIANT_CODES, SUBJECT, TokenFactory, ec_key
from tests.stack.conftest import idp_jwks_path, topic_bytes, wait_for

pytestmark = pytest.mark.stack
STORE = SchemaStore()


def event(token: str | None, subject: str = SUBJECT) -> dict:
    return {
        "event_id": str(uuid.uuid4()), "tenant": "acme",
        "actor": {"subject": subject, "kind": "user"},
        "action": {"type": "tool.call", "name": "crm_lookup"},
        "payload": {"tool_arguments": {"customer": 42}},
        "source": {"service": "support-copilot"},
        "correlation": {"session_id": f"sess-id-{uuid.uuid4()}"},
        "credential": token and {"kind": "oidc_id_token", "token": token},
    }  # fmt: skip


def emit(settings: Settings, events: list[dict]) -> None:
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for e in events:
            emitter.emit(e)


def stored_identity(ch, ids: list[str]) -> dict[str, dict]:
    rows = ch.query(
        "SELECT toString(event_id), identity_status, identity_reason, identity_subject, identity_issuer, "
        "identity_email, identity_groups, token_fingerprint FROM ledger_records WHERE has({ids:Array(String)}, "
        "toString(event_id))", parameters={"ids": ids}).result_rows  # fmt: skip
    names = ("status", "reason", "subject", "issuer", "email", "groups", "fingerprint")
    return {r[0]: dict(zip(names, r[1:], strict=True)) for r in rows}


def wait_stored(ch, ids: list[str]) -> dict[str, dict]:
    return wait_for(lambda: len(found := stored_identity(ch, ids)) == len(ids) and found, 90, "events in ClickHouse")


def alerts_by_event(settings: Settings) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for value in topic_bytes(settings, settings.topics.alerts):
        alert = STORE.decode(value, reader="Alert")
        found.setdefault(alert["event_id"], []).append(alert)
    return found


def everywhere_past_the_raw_topic(settings: Settings, ch, ids: list[str]) -> bytes:
    """Every byte that left the stream for these events (and all of the ledger's other outputs)."""
    topics = (settings.topics.ledger, settings.topics.alerts, settings.topics.deadletter, settings.topics.checkpoints)
    kafka = b"".join(v for t in topics for v in topic_bytes(settings, t))
    rows = ch.raw_query("SELECT * FROM ledger_records WHERE has({ids:Array(String)}, toString(event_id))",
                        parameters={"ids": ids}, fmt="RowBinary")  # fmt: skip
    logs = b"".join(p.read_bytes() for p in settings.home.glob("*.log"))
    return kafka + rows + logs


def test_valid_tokens_store_verified_claims_and_the_token_goes_nowhere(settings: Settings, ch, idp) -> None:
    now = datetime.now(UTC)
    tokens = [idp.mint(now, claims={"groups": ["support", "oncall"]}), idp.mint(now, key=idp.ec)]
    events = [event(t) for t in tokens]
    emit(settings, events)
    ids = [e["event_id"] for e in events]
    stored = wait_stored(ch, ids)
    for e, token in zip(events, tokens, strict=True):
        row = stored[e["event_id"]]
        assert row["status"] == "verified", row["reason"]
        assert (row["subject"], row["issuer"], row["email"]) == (SUBJECT, idp.issuer, f"{SUBJECT}@corp.test.example")
        assert row["fingerprint"] == hashlib.sha256(token.encode()).hexdigest()
    assert stored[ids[0]]["groups"] == ["support", "oncall"]
    raw = b"".join(topic_bytes(settings, settings.topics.events))
    assert all(t.encode() in raw for t in tokens), "control: the emitter did send the tokens"
    leaked = everywhere_past_the_raw_topic(settings, ch, ids)
    for token in tokens:
        assert token.encode() not in leaked
        assert token.split(".")[2].encode() not in leaked  # not even the signature part
    assert not any(e in alerts_by_event(settings) for e in ids)


def test_each_bad_token_is_recorded_unverified_with_its_reason_and_alerted_once(settings: Settings, ch, idp) -> None:
    now = datetime.now(UTC)
    bad = {name: token for name, token in idp.bad_variants(now).items()}
    events = {name: event(token) for name, token in bad.items()}
    events["claims_to_be_someone_else"] = event(idp.mint(now), subject="mallory")
    emit(settings, list(events.values()))
    ids = [e["event_id"] for e in events.values()]
    stored = wait_stored(ch, ids)
    expected = {**BAD_VARIANT_CODES, "claims_to_be_someone_else": "subject_mismatch"}
    for name, e in events.items():
        row = stored[e["event_id"]]
        assert row["status"] == "unverified", name
        assert row["reason"].startswith(expected[name] + ":"), (name, row["reason"])
        if name in ("tampered", "unknown_key", "alg_none", "wrong_issuer"):  # no valid signature: no claims
            assert (row["subject"], row["email"], row["groups"]) == ("", "", []), name
    alerts = wait_for(lambda: (a := alerts_by_event(settings)) and all(i in a for i in ids) and a, 60, "alerts")
    for name, e in events.items():
        mine = alerts[e["event_id"]]
        assert len(mine) == 1, (name, mine)
        assert mine[0]["kind"] == "identity_unverified" and mine[0]["severity"] == "high"
        assert mine[0]["details"]["reason_code"] == expected[name]
    leaked = everywhere_past_the_raw_topic(settings, ch, ids)
    for token in bad.values():
        assert token.encode() not in leaked


def test_a_new_issuer_key_in_the_jwks_is_used_without_restarting_the_stream(
    settings: Settings, ch, idp: TokenFactory, stack: LocalStack
) -> None:
    pid = read_pid(stack.pid_file("stream"))
    rotated = ec_key("ec-2026-11", "ES256")
    before = event(idp.mint(datetime.now(UTC), key=rotated))
    emit(settings, [before])
    assert wait_stored(ch, [before["event_id"]])[before["event_id"]]["reason"].startswith("unknown_key:")
    idp.keys.append(rotated)
    idp.write_jwks(idp_jwks_path(settings))
    after = event(idp.mint(datetime.now(UTC), key=rotated))
    emit(settings, [after])
    assert wait_stored(ch, [after["event_id"]])[after["event_id"]]["status"] == "verified"
    assert read_pid(stack.pid_file("stream")) == pid, "the stream worker was not restarted"
