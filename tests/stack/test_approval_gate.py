"""The gate for agent code on the real stack: a wrapped tool waits for `auditledger approvals approve` run in
another process, and runs only then; rejected or timed out it never runs, and the ledger records the refusal."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from auditledger.config import Settings
from producers.approval_gate import ApprovalDenied, ApprovalGate, gated
from producers.emitter import AuditEmitter
from tests.stack.approval_flow import Approvals, alerts_of, steps_of, stored_records
from tests.stack.conftest import wait_for
from tests.stack.test_end_to_end import run_verify, wait_anchored

pytestmark = pytest.mark.stack


def approvals_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), "approvals", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


class Refunds:
    """A tool that moves money, wrapped by the gate; `calls` is what actually ran."""

    def __init__(self, settings: Settings, flow: Approvals, timeout_s: float) -> None:
        self.calls: list[dict] = []
        self.emitter = AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events)
        gate = ApprovalGate(settings, "acme", {"subject": "alice", "kind": "agent"}, "refund-agent",
                            id_token=lambda: flow.token("alice"))  # fmt: skip
        self.refund = gated(self._refund, gate, name="refund_payment", risk="high", timeout_s=timeout_s,
                            emitter=self.emitter)  # fmt: skip

    def _refund(self, order: str, amount: int) -> str:
        self.calls.append({"order": order, "amount": amount})
        return f"refunded {amount} on {order}"

    def call_in_background(self, **kwargs) -> tuple[threading.Thread, dict]:
        result: dict = {}

        def run() -> None:
            try:
                result["value"] = self.refund(**kwargs)
            except ApprovalDenied as denied:
                result["denied"] = denied.outcome
            finally:
                self.emitter.flush(30)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, result


def pending_request(settings: Settings, order: str) -> str:
    """The request id of the pending refund for `order`, as an approver finds it with `approvals pending`."""

    def find() -> str | None:
        proc = approvals_cli(settings, "pending", "--tenant", "acme", "--json")
        assert proc.returncode == 0, proc.stderr
        rows = [r for r in json.loads(proc.stdout) if r["action_name"] == "refund_payment"]
        return next((r["request_id"] for r in rows if r["requester"] == "alice" and order in _show(settings, r)), None)

    return wait_for(find, 60, f"the refund of {order} in `approvals pending`", interval_s=0.5)


def _show(settings: Settings, row: dict) -> str:
    proc = approvals_cli(settings, "show", row["request_id"], "--json")
    return proc.stdout


def token_file(flow: Approvals, tmp_path: Path, subject: str) -> Path:
    path = tmp_path / f"{subject}.jwt"
    path.write_text(flow.token(subject), encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def flow(settings: Settings, idp) -> Approvals:
    return Approvals(settings, idp)


def test_wrapped_tool_runs_only_after_approve_in_another_process(flow, settings, ch, tmp_path) -> None:
    tool = Refunds(settings, flow, timeout_s=90)
    thread, result = tool.call_in_background(order="ord-approve", amount=120)
    rid = pending_request(settings, "ord-approve")
    assert thread.is_alive() and tool.calls == []  # waiting for a human
    proc = approvals_cli(settings, "approve", rid, "--token-file", str(token_file(flow, tmp_path, "fay")),
                         "--comment", "ok per ticket FIN-9", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    thread.join(60)
    assert result.get("value") == "refunded 120 on ord-approve"
    assert tool.calls == [{"order": "ord-approve", "amount": 120}]
    actions = wait_for(lambda: stored_records(ch, "action_type = 'tool.call' AND approval_request_id = {r:String}",
                                              {"r": rid}), 60, "the refund's record")  # fmt: skip
    assert [(a["approval_status"], a["approvers"]) for a in actions] == [("approved", ["fay"])]
    steps = steps_of(ch, rid, 3)
    assert [s["action_type"] for s in steps] == ["approval.requested", "approval.approved", "approval.executed"]
    event_id = wait_for(lambda: ch.query("SELECT toString(event_id) FROM ledger_records WHERE action_type = "
                                         "'tool.call' AND approval_request_id = {r:String}",
                                         parameters={"r": rid}).result_rows, 30, "event id")[0][0]  # fmt: skip
    assert alerts_of(settings, event_id) == []


@pytest.mark.parametrize("ending", ["reject", "timeout"])
def test_rejected_or_timed_out_the_tool_never_runs_and_the_refusal_is_recorded(flow, settings, ch, tmp_path,
                                                                                ending) -> None:  # fmt: skip
    order = f"ord-{ending}"
    tool = Refunds(settings, flow, timeout_s=90 if ending == "reject" else 4)
    thread, result = tool.call_in_background(order=order, amount=999)
    rid = pending_request(settings, order)
    if ending == "reject":
        proc = approvals_cli(settings, "reject", rid, "--token-file", str(token_file(flow, tmp_path, "fay")))
        assert proc.returncode == 0, proc.stdout + proc.stderr
    thread.join(60)
    expected = "rejected" if ending == "reject" else "timeout"
    assert result["denied"].status == expected and tool.calls == []
    blocked = wait_for(lambda: stored_records(ch, "action_type = 'tool.call' AND approval_request_id = {r:String}",
                                              {"r": rid}), 60, "the blocked call's record")  # fmt: skip
    assert [(b["approval_status"], b["approval_violations"]) for b in blocked] == [("blocked", [])]
    last_step = "approval.rejected" if ending == "reject" else "approval.expired"
    steps = steps_of(ch, rid, 2)
    assert [s["action_type"] for s in steps] == ["approval.requested", last_step]
    wait_anchored(ch)
    assert run_verify(settings)[0] == 0
