"""Approvals on the real stack: each violation kind and the happy paths, judged by the stream and
asserted in the ledger record (ClickHouse), in audit.alerts and by `auditledger verify`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from auditledger.config import Settings
from tests.stack.approval_flow import Approvals, alerts_of, all_alerts, steps_of, stored_record, stored_records
from tests.stack.conftest import wait_for
from tests.stack.test_end_to_end import run_verify, wait_anchored

pytestmark = pytest.mark.stack
DROP = "DROP TABLE customers"


@pytest.fixture(scope="module")
def flow(settings: Settings, idp) -> Approvals:
    return Approvals(settings, idp)


def judged(flow: Approvals, ch, event: dict) -> tuple[dict, list[str]]:
    record = stored_record(ch, event["event_id"])
    kinds = sorted(a["kind"] for a in alerts_of(flow.settings, event["event_id"]))
    return record, kinds


def assert_intact(settings: Settings, ch) -> None:
    wait_anchored(ch)
    code, report = run_verify(settings)
    assert code == 0, report["problems"][:5]


def test_one_approver_happy_path(flow: Approvals, settings: Settings, ch) -> None:
    rid = flow.request(query=DROP)
    flow.step("approved", rid, "bob")
    state = flow.wait_state(rid, 1, "approved")
    assert [d["subject"] for d in state["decisions"]] == ["bob"] and state["rule"] == "prod-sql-writes"
    record, alerts = judged(flow, ch, flow.action(query=DROP, request_id=rid))
    assert (record["approval_status"], record["approval_violations"], alerts) == ("approved", [], [])
    assert (record["approval_request_id"], record["approval_rule"], record["approvers"]) == (
        rid, "prod-sql-writes", ["bob"])  # fmt: skip
    steps = steps_of(ch, rid, 2)
    assert [(s["action_type"], s["approval_status"]) for s in steps] == [
        ("approval.requested", "pending"), ("approval.approved", "approved")]  # fmt: skip
    assert_intact(settings, ch)


def test_two_approvers_happy_path_and_too_few(flow: Approvals, settings: Settings, ch) -> None:
    args = '{"database": "billing"}'
    rid = flow.request(tool="drop_database", arguments=args)
    flow.step("approved", rid, "bob")
    flow.wait_state(rid, 1, "pending")
    early, early_alerts = judged(flow, ch, flow.action(tool="drop_database", arguments=args, request_id=rid))
    assert early["approval_violations"] == ["too_few_approvers"] and early_alerts == ["approval_too_few_approvers"]
    flow.step("approved", rid, "dan")
    flow.wait_state(rid, 2, "approved")
    record, alerts = judged(flow, ch, flow.action(tool="drop_database", arguments=args, request_id=rid))
    assert (record["approval_status"], record["approval_required"], alerts) == ("approved", 2, [])
    assert sorted(record["approvers"]) == ["bob", "dan"]
    assert_intact(settings, ch)


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ([("rejected", "bob", None)], ["rejected"]),
        ([("approved", "bob", None), ("revoked", "bob", None)], ["revoked"]),
        ([("approved", "alice", ["dba"])], ["self_approval", "too_few_approvers"]),
        ([("approved", "carol", None)], ["approver_not_allowed", "too_few_approvers"]),
    ],
    ids=["rejected", "revoked", "self-approval", "approver-outside-groups"],
)
def test_decision_violations(flow: Approvals, settings: Settings, ch, decisions, expected) -> None:
    rid = flow.request(query=DROP)
    for kind, subject, groups in decisions:
        flow.step(kind, rid, subject, groups=groups)
    flow.wait_state(rid, len(decisions))
    record, alerts = judged(flow, ch, flow.action(query=DROP, request_id=rid))
    assert (record["approval_status"], record["approval_violations"]) == ("violation", expected)
    assert alerts == sorted(f"approval_{kind}" for kind in expected)
    assert_intact(settings, ch)


def test_no_approval_and_expired_and_fingerprint_mismatch(flow: Approvals, settings: Settings, ch) -> None:
    none, none_alerts = judged(flow, ch, flow.action(query="DELETE FROM customers"))
    assert (none["approval_violations"], none_alerts) == (["no_approval"], ["approval_no_approval"])
    assert none["approval_request_id"] == "" and none["approval_rule"] == "prod-sql-writes"

    short = flow.request(query=DROP, ttl_s=2)
    flow.step("approved", short, "bob")
    flow.wait_state(short, 1, "approved")
    time.sleep(2.5)
    expired, expired_alerts = judged(flow, ch, flow.action(query=DROP, request_id=short))
    assert (expired["approval_violations"], expired_alerts) == (["expired"], ["approval_expired"])

    rid = flow.request(query="DROP TABLE staging_copy")
    flow.step("approved", rid, "bob")
    flow.wait_state(rid, 1, "approved")
    swapped, swapped_alerts = judged(flow, ch, flow.action(query=DROP, request_id=rid))
    assert swapped["approval_violations"] == ["fingerprint_mismatch"]
    assert swapped_alerts == ["approval_fingerprint_mismatch"]

    read, read_alerts = judged(flow, ch, flow.action(query="SELECT * FROM customers"))
    assert (read["approval_status"], read_alerts) == ("", [])  # not covered: no section, no alert
    assert_intact(settings, ch)


def test_late_approval_is_joined_by_a_follow_up_that_clears_the_violation(flow: Approvals, settings: Settings,
                                                                          ch) -> None:  # fmt: skip
    rid = flow.request(query="TRUNCATE audit_scratch")
    flow.wait_state(rid, 0, "pending")
    action = flow.action(query="TRUNCATE audit_scratch", request_id=rid)
    record, alerts = judged(flow, ch, action)
    assert (record["approval_violations"], alerts) == (["no_approval"], ["approval_no_approval"])
    flow.step("approved", rid, "bob")
    follow_ups = wait_for(lambda: stored_records(ch, "action_type = 'approval.late_join' AND approval_request_id = "
                                                 "{rid:String}", {"rid": rid}), 60, "the follow-up record")  # fmt: skip
    assert len(follow_ups) == 1
    follow = follow_ups[0]
    assert follow["approval_status"] == "approved_late"
    assert follow["approval_covers"] == f"{record['shard']}/{record['seq']}"
    assert follow["attributes"]["covers_event_id"] == action["event_id"]
    assert stored_record(ch, action["event_id"])["approval_violations"] == ["no_approval"]  # not rewritten
    alerts_now = all_alerts(settings)
    cleared = [a for a in alerts_now if a["kind"] == "approval_violation_cleared"
               and a["details"]["covers_event_id"] == action["event_id"]]  # fmt: skip
    assert len(cleared) == 1
    original = [a for a in alerts_now if a["event_id"] == action["event_id"]]
    assert cleared[0]["details"]["cleared_alert_ids"] == str(original[0]["alert_id"])
    assert_intact(settings, ch)


def test_a_blocked_action_records_its_refusal_without_a_violation(flow: Approvals, settings: Settings, ch) -> None:
    rid = flow.request(tool="refund_payment", arguments='{"amount": 900}')
    flow.step("rejected", rid, "fay")
    flow.wait_state(rid, 1, "rejected")
    record, alerts = judged(flow, ch, flow.action(tool="refund_payment", arguments='{"amount": 900}',
                                                  request_id=rid, outcome="blocked"))  # fmt: skip
    assert (record["approval_status"], record["approval_violations"], alerts) == ("blocked", [], [])



def test_the_readme_auditor_queries_run_and_list_approved_actions(flow: Approvals, ch) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**For the auditor: every privileged action"):]
    sql = section[section.index("```sql") + len("```sql"):section.index("```", section.index("```sql") + 6)]
    rid = flow.request(query="GRANT SELECT ON payroll TO analyst")
    flow.step("approved", rid, "bob")
    flow.wait_state(rid, 1, "approved")
    event = flow.action(query="GRANT SELECT ON payroll TO analyst", request_id=rid)
    stored_record(ch, event["event_id"])
    period = ch.query("SELECT toString(toStartOfMonth(now())), toString(addMonths(toStartOfMonth(now()), 1))")
    start, end = period.result_rows[0]
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    assert len(statements) == 3
    privileged = statements[0].replace("2026-11-01", start).replace("2026-12-01", end)
    rows = ch.query(privileged).result_rows
    ours = [r for r in rows if r[6] == "pg://prod/main" and r[8] == "approved" and r[10] and r[10][0][0] == "bob"]
    assert ours, "the approved GRANT is not among the privileged actions of the month"
    ch.query(statements[1])
    life = ch.query(statements[2].replace("'…'", f"'{rid}'")).result_rows
    assert [r[1] for r in life] == ["approval.requested", "approval.approved"]
