"""Alerts as OCSF Detection Findings (2004) on audit.siem: every kind the stream raises is a valid finding that
names the record it concerns; approval sections ride on the records they belong to."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from schemas import SchemaStore
from stream.approvals.judgement import VIOLATION_KINDS
from stream.approvals.rules import ApprovalPolicy, ApprovalRule
from stream.masking.policy import default_policy
from stream.ocsf import epoch_ms
from stream.ocsf_findings import TITLES, detection_finding
from stream.sequencer import RawEvent
from tests.approval_state.test_join_in_sequencer import QUERY, step
from tests.identity.token_factory import TokenFactory
from tests.siem.feed import NOW, PRODUCT, agent_event, raw, run, sequencer
from tests.siem.ocsf_required import problems

APPROVALS = ApprovalPolicy(
    rules=(ApprovalRule("prod-ddl", ("dba",), 1, action_types=frozenset({"db.query"}), sql=frozenset({"ddl"})),),
    late_window_s=600,
)
ALERT_KINDS = ("identity_unverified", "identity_missing", *(f"approval_{v}" for v in VIOLATION_KINDS),
               "approval_violation_cleared")  # fmt: skip


def alert(kind: str, severity: str = "high") -> dict:
    return {"alert_id": str(uuid.uuid4()), "kind": kind, "severity": severity, "tenant": "acme",
            "event_id": str(uuid.uuid4()), "shard": 2, "seq": 41, "detected_at": NOW,
            "summary": f"{kind} on db.query", "details": {"rule": "prod-ddl"}}  # fmt: skip


@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_every_alert_kind_is_a_valid_titled_finding_naming_its_record(kind: str) -> None:
    datum = alert(kind)
    finding = detection_finding(datum, b"\x07" * 32, 600399, PRODUCT)
    assert problems(finding) == []
    assert kind in TITLES  # a SIEM user reads a title, not an identifier
    info = finding["finding_info"]
    assert (info["uid"], info["title"], info["types"], info["desc"]) == (
        datum["alert_id"], TITLES[kind], [kind], datum["summary"])  # fmt: skip
    assert info["related_events"] == [{"uid": datum["event_id"], "type_uid": 600399}]
    assert finding["metadata"]["uid"] == datum["alert_id"]
    assert finding["unmapped"]["ledger"] == {"shard": 2, "seq": 41, "leaf_hash": "07" * 32,
                                             "event_id": datum["event_id"]}  # fmt: skip
    assert (finding["class_uid"], finding["category_uid"], finding["type_uid"]) == (2004, 2, 200401)
    assert finding["time"] == info["created_time"] == epoch_ms(NOW)


@pytest.mark.parametrize(
    ("severity", "severity_id", "is_alert"),
    [("info", 1, False), ("low", 2, True), ("medium", 3, True), ("high", 4, True), ("critical", 5, True),
     ("weird", 99, True)],
)  # fmt: skip
def test_severity_follows_the_alert(severity: str, severity_id: int, is_alert: bool) -> None:
    finding = detection_finding(alert("approval_no_approval", severity), bytes(32), 600304, PRODUCT)
    assert (finding["severity_id"], finding["is_alert"]) == (severity_id, is_alert)
    assert finding["severity"] == {99: "weird"}.get(severity_id, finding["severity"])
    assert problems(finding) == []


def test_a_missing_identity_is_a_finding_on_the_record(store: SchemaStore) -> None:
    policy = replace(default_policy(), identity=replace(default_policy().identity, require_token=True))
    written = run(store, [raw(store, agent_event())], sequencer(store, policy))
    (activity,) = written.of_class(6003)
    (finding,) = written.of_class(2004)
    assert problems(activity) == [] and problems(finding) == []
    assert finding["finding_info"]["types"] == ["identity_missing"]
    assert finding["finding_info"]["uid"] == str(written.alerts[0]["alert_id"])
    assert finding["unmapped"]["ledger"] == {k: v for k, v in activity["unmapped"]["ledger"].items()
                                             if k != "source_topic"}  # fmt: skip
    assert finding["finding_info"]["related_events"] == [{"uid": activity["metadata"]["uid"],
                                                          "type_uid": activity["type_uid"]}]  # fmt: skip
    keys = [out.key for out, _ in written.siem]
    assert keys == [activity["metadata"]["uid"].encode(), finding["metadata"]["uid"].encode()]


def covered_action(store: SchemaStore, offset: int, rid: str | None) -> RawEvent:
    attributes = {"approval_request_id": rid} if rid else {}
    event = agent_event("db.query", "run_sql", payload={"query": QUERY, "attributes": attributes},
                        target={"kind": "database", "name": "pg://prod/main"})  # fmt: skip
    return raw(store, event, offset, partition=1)


def test_approval_steps_sections_violations_and_a_late_join_all_reach_the_feed(store: SchemaStore) -> None:
    seq = sequencer(store, approvals=APPROVALS)
    rid = str(uuid.uuid4())
    first = run(store, [covered_action(store, 0, rid), step(store, "requested", rid, "alice", 0)], seq)
    seq.commit()
    activities = first.of_class(6003)
    requested, action = activities
    assert (requested["api"]["operation"], requested["activity_id"]) == ("approval.requested", 1)
    assert requested["unmapped"]["ledger"]["source_topic"] == "approvals"
    assert (action["activity_id"], action["severity_id"]) == (4, 4)  # DROP: Delete; violations: High
    assert action["unmapped"]["approval"]["violations"] == ["no_approval"]
    assert action["unmapped"]["approval"]["rule"] == "prod-ddl"
    assert {r["type"] for r in action["resources"]} == {"database", "tool"}
    (violation,) = first.of_class(2004)
    assert violation["finding_info"]["types"] == ["approval_no_approval"]
    assert violation["unmapped"]["ledger"]["seq"] == action["unmapped"]["ledger"]["seq"]
    assert violation["unmapped"]["details"]["rule"] == "prod-ddl"

    # bob approves late; no credential, so his approval is unverified and cannot clear anything...
    late = run(store, [step(store, "approved", rid, "bob", 1)], seq)
    approved = late.of_class(6003)[0]
    assert approved["activity_id"] == 3 and approved["unmapped"]["approval"]["decisions"][0]["subject"] == "bob"
    decided_at = approved["unmapped"]["approval"]["decisions"][0]["decided_at"]
    assert decided_at == epoch_ms(NOW)
    for _, ocsf in first.siem + late.siem:
        assert problems(ocsf) == []


def test_a_late_approval_that_clears_is_an_informational_finding(store: SchemaStore, tmp_path) -> None:
    idp = TokenFactory()
    policy = replace(default_policy(), identity=replace(default_policy().identity, issuers=(
        idp.issuer_config(jwks_file=str(idp.write_jwks(tmp_path / "jwks.json"))),)))  # fmt: skip
    seq = sequencer(store, policy, approvals=APPROVALS)
    rid = str(uuid.uuid4())
    run(store, [covered_action(store, 0, rid), step(store, "requested", rid, "alice", 0)], seq)
    seq.commit()
    approval = step(store, "approved", rid, "bob", 1)
    datum = store.decode(approval.value, reader="ApprovalEvent")
    datum["credential"] = {"kind": "oidc_id_token", "token": idp.mint(NOW, subject="bob", claims={"groups": ["dba"]})}
    late = run(store, [replace(approval, value=store.encode("ApprovalEvent", datum), received_at=NOW)], seq)
    follow_up = [o for o in late.of_class(6003) if o["api"]["operation"] == "approval.late_join"]
    assert len(follow_up) == 1 and follow_up[0]["unmapped"]["approval"]["status"] == "approved_late"
    (cleared,) = late.of_class(2004)
    assert cleared["finding_info"]["types"] == ["approval_violation_cleared"]
    assert (cleared["severity_id"], cleared["is_alert"]) == (1, False)
    assert cleared["unmapped"]["ledger"]["seq"] == follow_up[0]["unmapped"]["ledger"]["seq"]
    assert cleared["unmapped"]["details"]["covers_event_id"]
    for _, ocsf in late.siem:
        assert problems(ocsf) == []
