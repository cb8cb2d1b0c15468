"""A stream worker killed and started again keeps its approval table (read back from audit.approvals.state):
joins made after the restart see decisions made before it, and no alert is lost or raised twice."""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest

from auditledger.config import Settings
from auditledger.stack.processes import pid_alive, read_pid
from tests.stack.approval_flow import Approvals, alerts_of, all_alerts, stored_record
from tests.stack.conftest import wait_for
from tests.stack.test_end_to_end import run_verify, wait_anchored

pytestmark = pytest.mark.stack
DROP = "DROP TABLE ledger_scratch"


def restart_worker(stack) -> None:
    pid = read_pid(stack.pid_file("stream"))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 30, "the worker to die")
    stack.start_stream_worker(stack.settings)


def test_approval_state_survives_a_restart_and_alerts_are_neither_lost_nor_doubled(stack, settings: Settings, ch,
                                                                                   idp) -> None:  # fmt: skip
    flow = Approvals(settings, idp)
    approved = flow.request(query=DROP)
    flow.step("approved", approved, "bob")
    flow.wait_state(approved, 1, "approved")
    half = flow.request(tool="drop_database", arguments='{"database": "scratch"}')
    flow.step("approved", half, "bob")
    flow.wait_state(half, 1, "pending")
    unapproved = flow.action(query="DELETE FROM scratch")  # an alert raised before the kill
    stored_record(ch, unapproved["event_id"])
    alerts_before = all_alerts(settings)
    try:
        restart_worker(stack)
    finally:
        pid = read_pid(stack.pid_file("stream"))
        if pid is None or not pid_alive(pid):
            stack.start_stream_worker(stack.settings)

    record = stored_record(ch, flow.action(query=DROP, request_id=approved)["event_id"])
    assert (record["approval_status"], record["approvers"]) == ("approved", ["bob"])  # decided before the restart
    flow.step("approved", half, "dan")  # the second approval, after the restart, completes the first
    state = flow.wait_state(half, 2, "approved")
    assert [d["subject"] for d in state["decisions"]] == ["bob", "dan"]
    action = flow.action(tool="drop_database", arguments='{"database": "scratch"}', request_id=half)
    record = stored_record(ch, action["event_id"])
    assert (record["approval_status"], sorted(record["approvers"])) == ("approved", ["bob", "dan"])
    assert alerts_of(settings, action["event_id"]) == []

    wait_anchored(ch)
    alerts_after = all_alerts(settings)
    ids_after = Counter(a["alert_id"] for a in alerts_after)
    assert [i for i, n in ids_after.items() if n > 1] == []  # none doubled
    assert {a["alert_id"] for a in alerts_before} <= set(ids_after)  # none lost
    assert [a["kind"] for a in alerts_of(settings, unapproved["event_id"])] == ["approval_no_approval"]
    code, report = run_verify(settings)
    assert code == 0, report["problems"][:5]
