"""The admission step inside the ledger's batch step: masking evidence in the hashed entry, identity
verdicts and alerts, strict and non-strict handling of what cannot be scanned, and nothing unmasked out."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from ledger.entry import entry_leaf_hash
from ledger.signed_note import NoteSigner
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.masking.policy import default_policy
from stream.sealed_envelope import seal_context
from stream.sequencer import LedgerSequencer, RawEvent
from stream.shard_chain import ShardChain
from tests.identity.token_factory import TokenFactory
from tests.ledger_path import admission, dead_letters, recipient

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SIGNER = NoteSigner.generate("test.example/log")
EMAIL = "ana.lopez@example.org"
CARD = "4111 1111 1111 1111"
OPENAI = "sk-proj-Zq8vR2mT5xW9yB3nK7pL1cF4"


def sequencer(store: SchemaStore, policy=None) -> LedgerSequencer:
    gate = admission(policy)
    return LedgerSequencer(store, lambda s: ShardChain(shard=s), "test.example/log", "audit.events",
                           signers=lambda now: [SIGNER], admission=gate, dead_letters=dead_letters(store, gate),
                           clock=lambda: NOW)  # fmt: skip


def event(**payload) -> dict:
    return event_from_json({
        "tenant": "acme", "occurred_at": "2026-11-24T09:59:00Z",
        "actor": {"subject": "alice", "kind": "user"}, "action": {"type": "tool.call", "name": "crm"},
        "payload": payload, "source": {"service": "copilot"}, "correlation": {"session_id": "s-1"},
    })  # fmt: skip


def outputs(store: SchemaStore, result, role: str, reader: str) -> list[dict]:
    return [store.decode(o.value, reader=reader) for o in result.outputs if o.role == role]


def entries(store: SchemaStore, result) -> list[dict]:
    return [store.decode(r["entry"], reader="LedgerEntry") for r in outputs(store, result, "ledger", "LedgerRecord")]


def test_the_entry_is_masked_and_carries_the_manifest_under_its_leaf_hash(store: SchemaStore) -> None:
    raw = store.encode("AuditEvent", event(prompt=f"mail {EMAIL} now", tool_arguments={"card": CARD, "key": OPENAI}))
    result = sequencer(store).process([RawEvent(0, 0, raw)], idle=True)
    record = outputs(store, result, "ledger", "LedgerRecord")[0]
    for secret in (EMAIL, CARD, OPENAI, CARD.replace(" ", "")):
        assert secret.encode() not in b"".join(o.value for o in result.outputs)
    entry = store.decode(record["entry"], reader="LedgerEntry")
    assert "[HASH:email:mk-default:" in entry["event"]["payload"]["prompt"]
    assert json.loads(entry["event"]["payload"]["tool_arguments"])["key"] == "[REDACTED:openai_key]"
    manifest = {(m["path"], m["rule"], m["action"]) for m in entry["masking"]["items"]}
    assert manifest == {("payload.prompt", "detector:email", "hash"),
                        ("payload.tool_arguments.card", "detector:payment_card", "partial"),
                        ("payload.tool_arguments.key", "detector:openai_key", "redact")}  # fmt: skip
    assert entry["masking"]["policy_digest"] == default_policy().digest
    assert entry_leaf_hash(record["entry"]) == record["leaf_hash"]  # the manifest is inside what is hashed
    assert entry["identity"]["status"] == "absent" and entry["event"]["credential"] is None


def test_a_token_is_verified_stripped_and_a_failure_alerted_with_a_stable_id(store: SchemaStore, tmp_path) -> None:
    idp = TokenFactory()
    jwks = idp.write_jwks(tmp_path / "jwks.json")
    policy = replace(default_policy(), identity=replace(default_policy().identity,
                     issuers=(idp.issuer_config(jwks_file=str(jwks)),)))  # fmt: skip
    good, bad = idp.mint(NOW), idp.expired(NOW)
    raws = []
    for offset, token in enumerate((good, bad)):
        datum = {**event(prompt="hello"), "credential": {"kind": "oidc_id_token", "token": token}}
        raws.append(RawEvent(0, offset, store.encode("AuditEvent", datum), received_at=NOW))
    first = sequencer(store, policy).process(raws, idle=True)
    verified, unverified = (e["identity"] for e in entries(store, first))
    assert verified["status"] == "verified" and verified["subject"] == "alice" and verified["issuer"] == idp.issuer
    assert unverified["status"] == "unverified" and unverified["reason"].startswith("expired:")
    assert unverified["subject"] == "alice"  # signed by the issuer, so the claims are authentic, but expired
    everything = b"".join(o.value for o in first.outputs)
    assert good.encode() not in everything and bad.encode() not in everything
    alerts = outputs(store, first, "alerts", "Alert")
    assert [(a["kind"], a["seq"], a["details"]["reason_code"]) for a in alerts] == [
        ("identity_unverified", 1, "expired")
    ]
    again = outputs(store, sequencer(store, policy).process(raws, idle=True), "alerts", "Alert")
    assert [a["alert_id"] for a in again] == [a["alert_id"] for a in alerts]  # a replay cannot double an alert


def deep(depth: int, leaf: str) -> object:
    value: object = leaf
    for _ in range(depth):
        value = {"k": value}
    return value


def test_strict_mode_dead_letters_what_cannot_be_scanned_with_only_masked_text_in_the_clear(
    store: SchemaStore,
) -> None:
    datum = event(prompt=f"contact {EMAIL}", tool_arguments=deep(100, OPENAI))
    raw = store.encode("AuditEvent", datum)
    result = sequencer(store).process([RawEvent(0, 0, raw)], idle=True)
    assert result.appended == 0 and result.dead_lettered == 1
    dead = outputs(store, result, "deadletter", "DeadLetter")[0]
    assert dead["error_kind"] == "unscannable" and "payload.tool_arguments" in dead["reason"]
    assert "[WITHHELD:" in dead["masked_preview"] and "[HASH:email:" in dead["masked_preview"]
    message = b"".join(o.value for o in result.outputs)
    assert OPENAI.encode() not in message and EMAIL.encode() not in message
    context = seal_context("audit.events", 0, 0)
    assert recipient().open(dead["sealed_original"], context) == raw  # recoverable by the key holder, and only them


def test_non_strict_mode_records_the_event_with_the_field_withheld_and_says_so(store: SchemaStore) -> None:
    policy = replace(default_policy(), strict=False)
    raw = store.encode("AuditEvent", event(tool_arguments=deep(100, OPENAI)))
    result = sequencer(store, policy).process([RawEvent(0, 0, raw)], idle=True)
    (entry,) = entries(store, result)
    assert entry["event"]["payload"]["tool_arguments"].startswith("[WITHHELD:")
    assert [m["rule"] for m in entry["masking"]["items"]] == ["limit:max_depth"]
    assert OPENAI.encode() not in b"".join(o.value for o in result.outputs)
