"""Ledger records as OCSF API Activity (6003) on audit.siem: valid for the class, one per record in the
ledger's order and partition, naming the record's ledger position; activity, status and severity rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from schemas import SchemaStore
from stream.masking.policy import default_policy
from stream.ocsf import OCSF_VERSION, epoch_ms
from stream.ocsf_activity import api_activity, sql_activity
from tests.identity.token_factory import TokenFactory
from tests.siem.feed import NOW, PRODUCT, agent_event, raw, run, sequencer
from tests.siem.ocsf_required import problems

ACTION_TYPES = ("llm.request", "llm.response", "tool.call", "tool.result", "db.query", "chain.start", "chain.end",
                "node.start", "node.end", "retriever.query", "retriever.result")  # fmt: skip


@pytest.mark.parametrize("outcome", ["success", "failure", "blocked"])
def test_every_action_type_and_outcome_is_a_valid_api_activity_at_its_ledger_position(
    store: SchemaStore, outcome: str
) -> None:
    events = [agent_event(t, payload={"query": "SELECT 1"} if t == "db.query" else {"prompt": "hi"},
                          outcome={"status": outcome, "error": None if outcome == "success" else "timed out"})
              for t in ACTION_TYPES]  # fmt: skip
    written = run(store, [raw(store, e, i, partition=i % 3) for i, e in enumerate(events)])
    assert len(written.siem) == len(written.ledger) == len(ACTION_TYPES)
    for (out, ocsf), record, entry in zip(written.siem, written.ledger, written.entries, strict=True):
        assert problems(ocsf) == []
        event_id = str(entry["event"]["event_id"])
        assert (ocsf["class_uid"], ocsf["category_uid"], ocsf["metadata"]["uid"]) == (6003, 6, event_id)
        assert (out.partition, out.key) == (record["shard"], event_id.encode())
        assert ocsf["unmapped"]["ledger"] == {"shard": record["shard"], "seq": record["seq"],
                                              "leaf_hash": record["leaf_hash"].hex(), "event_id": event_id,
                                              "source_topic": "events"}  # fmt: skip
        assert ocsf["api"]["operation"] == entry["event"]["action"]["type"]
        assert ocsf["metadata"]["version"] == OCSF_VERSION
        assert ocsf["metadata"]["logged_time"] == epoch_ms(NOW)
        assert ocsf["time"] == epoch_ms(entry["event"]["occurred_at"])
        assert ocsf["metadata"]["correlation_uid"] == "sess-1"
        assert ocsf["metadata"]["log_name"] == f"{PRODUCT.log_origin}/shard/{record['shard']}"
        assert ocsf["src_endpoint"] == {"svc_name": "copilot", "hostname": "worker-1", "ip": "10.1.2.3"}


def test_siem_messages_follow_the_ledger_order_within_each_shard(store: SchemaStore) -> None:
    written = run(store, [raw(store, agent_event(), i, partition=i % 2) for i in range(8)])
    for shard in (0, 1):
        ledger_order = [r["seq"] for r in written.ledger if r["shard"] == shard]
        siem_order = [o["unmapped"]["ledger"]["seq"] for out, o in written.siem if out.partition == shard]
        assert siem_order == ledger_order == list(range(4))


@pytest.mark.parametrize(
    ("query", "activity"),
    [
        ("SELECT * FROM orders", 2),
        ("  -- who\n/* list */ select 1", 2),
        ("WITH t AS (SELECT 1) SELECT * FROM t", 2),
        ("WITH t AS (DELETE FROM orders RETURNING *) SELECT * FROM t", 99),
        ("INSERT INTO orders VALUES (1)", 1),
        ("CREATE TABLE x (a int)", 1),
        ("UPDATE orders SET a = 1 WHERE id = 2", 3),
        ("ALTER TABLE orders ADD COLUMN b int", 3),
        ("GRANT ALL ON orders TO bob", 3),
        ("DELETE FROM orders", 4),
        ("DROP TABLE orders", 4),
        ("TRUNCATE orders", 4),
        ("SELECT 1; DROP TABLE orders", 99),
        ("VACUUM", 99),
        ("", 99),
    ],
)
def test_a_db_query_activity_follows_its_statement(store: SchemaStore, query: str, activity: int) -> None:
    assert sql_activity(query) == activity
    written = run(store, [raw(store, agent_event("db.query", "run_sql", payload={"query": query or None}))])
    ocsf = written.siem[0][1]
    assert (ocsf["activity_id"], ocsf["type_uid"]) == (activity, 600300 + activity)
    assert problems(ocsf) == []


@pytest.mark.parametrize(
    ("action_type", "activity"),
    [("retriever.query", 2), ("retriever.result", 2), ("llm.request", 99), ("tool.call", 99), ("chain.end", 99)],
)
def test_other_actions_are_reads_or_other(store: SchemaStore, action_type: str, activity: int) -> None:
    ocsf = run(store, [raw(store, agent_event(action_type))]).siem[0][1]
    assert (ocsf["activity_id"], ocsf["type_uid"], ocsf["activity_name"]) == (
        activity, 600300 + activity, {2: "Read", 99: "Other"}[activity])  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "status_id", "status", "severity_id"),
    [("success", 1, "Success", 1), ("failure", 2, "Failure", 2), ("blocked", 99, "Blocked", 3)],
)
def test_status_and_severity_follow_the_outcome_with_a_masked_detail(
    store: SchemaStore, outcome: str, status_id: int, status: str, severity_id: int
) -> None:
    error = "refused for ana.lopez@example.org" if outcome != "success" else None
    ocsf = run(store, [raw(store, agent_event(outcome={"status": outcome, "error": error}))]).siem[0][1]
    assert (ocsf["status_id"], ocsf["status"], ocsf["severity_id"]) == (status_id, status, severity_id)
    if outcome == "success":
        assert "status_detail" not in ocsf
    else:
        assert ocsf["status_detail"].startswith("refused for [HASH:email:")


def test_a_verified_actor_is_named_by_the_token_and_an_unverified_one_by_its_claim(
    store: SchemaStore, tmp_path
) -> None:
    idp = TokenFactory()
    policy = replace(default_policy(), identity=replace(default_policy().identity, issuers=(
        idp.issuer_config(jwks_file=str(idp.write_jwks(tmp_path / "jwks.json"))),)))  # fmt: skip
    good = idp.mint(NOW, claims={"groups": ["ops"], "email": "alice@acme.example"})
    bad = idp.expired(NOW)
    claimed = {"subject": "alice", "kind": "agent", "groups": ["support"]}
    events = [{**agent_event(actor=claimed), "credential": {"kind": "oidc_id_token", "token": t}} for t in (good, bad)]
    written = run(store, [raw(store, e, i) for i, e in enumerate(events)], sequencer(store, policy))
    verified, unverified = written.of_class(6003)
    assert verified["actor"]["user"] == {"uid": "alice", "name": "alice", "type_id": 99, "type": "Agent",
                                         "email_addr": "alice@acme.example", "groups": [{"name": "ops"}]}  # fmt: skip
    assert verified["unmapped"]["identity"]["verified"] is True
    assert verified["unmapped"]["identity"]["issuer"] == idp.issuer
    assert verified["severity_id"] == 1
    assert unverified["actor"]["user"]["groups"] == [{"name": "support"}]  # the claimed groups, not the token's
    assert "email_addr" not in unverified["actor"]["user"]
    assert unverified["unmapped"]["identity"]["verified"] is False
    assert unverified["unmapped"]["identity"]["reason"].startswith("expired:")
    assert unverified["severity_id"] == 4  # the record raised an identity alert
    for ocsf in (verified, unverified):
        assert problems(ocsf) == []
        assert ocsf["actor"]["app_name"] == "copilot"


def test_no_credential_or_token_reaches_the_feed(store: SchemaStore, tmp_path) -> None:
    idp = TokenFactory()
    token = idp.mint(NOW)
    secrets = ("ana.lopez@example.org", "4111 1111 1111 1111", "sk-proj-Zq8vR2mT5xW9yB3nK7pL1cF4")
    event = {**agent_event(payload={"prompt": " ".join(secrets), "attributes": {"note": secrets[0]}},
                           outcome={"status": "failure", "error": f"bad key {secrets[2]}"}),
             "credential": {"kind": "oidc_id_token", "token": token}}  # fmt: skip
    written = run(store, [raw(store, event)])
    feed = b"".join(out.value for out, _ in written.siem)
    assert len(written.siem) == 2  # the record, and its identity finding (no trusted issuer: unverified)
    for forbidden in (token, *token.split("."), *secrets, "credential", "Bearer"):
        assert forbidden.encode() not in feed


def test_resources_name_the_target_and_what_acted() -> None:
    event = agent_event("llm.request", "gpt-4o", target={"kind": "model_endpoint", "name": "azure/eu"})
    entry = {"shard": 0, "seq": 3, "sequenced_at": NOW, "source_topic": "events", "event": event,
             "identity": {"status": "absent", "reason": "", "issuer": None, "groups": []},
             "masking": {"policy_digest": "d", "items": []}, "approval": None}  # fmt: skip
    ocsf = api_activity(entry, bytes(32), PRODUCT)
    assert ocsf["resources"] == [{"name": "azure/eu", "type": "model_endpoint"}, {"name": "gpt-4o", "type": "model"}]
    tool = {**entry, "event": agent_event("tool.call", "crm")}
    assert api_activity(tool, bytes(32), PRODUCT)["resources"] == [{"name": "crm", "type": "tool"}]


def test_a_masked_source_ip_stays_out_of_the_endpoint() -> None:
    event = agent_event(source={"service": "copilot", "ip": "[HASH:ipv4:mk-default:0a1b2c]"})
    entry = {"shard": 0, "seq": 0, "sequenced_at": NOW, "source_topic": "events", "event": event,
             "identity": {"status": "absent", "reason": "", "issuer": None, "groups": []},
             "masking": {"policy_digest": "d", "items": []}, "approval": None}  # fmt: skip
    ocsf = api_activity(entry, bytes(32), PRODUCT)
    assert ocsf["src_endpoint"] == {"svc_name": "copilot"}
    assert ocsf["unmapped"]["source_ip"] == "[HASH:ipv4:mk-default:0a1b2c]"
    assert problems(ocsf) == []
