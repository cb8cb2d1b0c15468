"""The approval gate against a fake stream: what it publishes, when it lets an action run, what it records."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from producers import ApprovalDenied, ApprovalGate, ApprovalOutcome, gated
from producers.approval_gate import arguments_json, outcome_of
from producers.event_json import EventFormatError
from schemas import SchemaStore
from schemas.action_fingerprint import action_fingerprint, event_fingerprint
from tests.approvals_gate.fake_stream import FakeStream, RecordingEmitter, unsigned_token

AGENT = {"subject": "agent-7", "issuer": "https://idp.test.example", "groups": ["agents"], "kind": "agent"}
AGENT_TOKEN = unsigned_token("agent-7", ["agents"])
SECRET = "hunter2-do-not-leak"


@pytest.fixture
def stream(store: SchemaStore) -> FakeStream:
    return FakeStream(store, trusted={"agent-7", "bob", "carol"})


def make_gate(stream: FakeStream, **kwargs: Any) -> ApprovalGate:
    kwargs.setdefault("poll_interval_s", 0)
    return ApprovalGate("unused:9092", "acme", AGENT, "support-copilot", id_token=lambda: AGENT_TOKEN,
                        publisher=stream, states=stream, **kwargs)  # fmt: skip


def decide_on_first_poll(stream: FakeStream, kind: str, subject: str = "bob", groups: tuple[str, ...] = ("sre",)):
    def decide(request_id: str, poll: int) -> None:
        if poll == 1:
            stream.decide(request_id, kind, subject, groups)

    stream.on_poll = decide


class Tool:
    """A tool function that remembers its calls."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        if self.fail:
            raise ValueError("the tool failed")
        return "done"


def delete_user_tool(tool: Tool):
    def delete_user(**kwargs: Any) -> str:
        return tool(**kwargs)

    return delete_user


def test_request_publishes_a_valid_step_with_the_fingerprint_of_exactly_what_it_sent(stream: FakeStream) -> None:
    gate = make_gate(stream)
    request_id = gate.request("tool.call", "delete_user", {"user_id": "u-17", "hard": True}, resource="users/u-17",
                              risk="high", reason="GDPR erasure", session_id="s-1", ttl_s=60)  # fmt: skip
    [(key, step)] = stream.published
    assert key == request_id and str(step["request_id"]) == request_id
    assert step["kind"] == "requested" and step["tenant"] == "acme"
    assert step["actor"] == AGENT
    assert step["credential"] == {"kind": "oidc_id_token", "token": AGENT_TOKEN}
    request = step["request"]
    assert request["arguments"] == json.dumps({"user_id": "u-17", "hard": True}, sort_keys=True)
    assert request["fingerprint"] == action_fingerprint("tool.call", "delete_user", request["arguments"], None)
    assert (request["resource"], request["risk"], request["reason"], request["session_id"]) == (
        "users/u-17", "high", "GDPR erasure", "s-1")  # fmt: skip
    assert timedelta(seconds=59) < request["expires_at"] - step["occurred_at"] <= timedelta(seconds=60)
    assert stream.states[request_id]["status"] == "pending"


def test_text_arguments_and_queries_are_sent_and_fingerprinted_as_given(stream: FakeStream) -> None:
    gate = make_gate(stream)
    gate.request("db.query", "warehouse", None, query="  DELETE FROM orders WHERE id = 7 ")
    gate.request("tool.call", "echo", '{"b": 1,  "a": 2}')
    (_, query_step), (_, text_step) = stream.published
    assert query_step["request"]["fingerprint"] == action_fingerprint(
        "db.query", "warehouse", None, "DELETE FROM orders WHERE id = 7")  # fmt: skip
    assert text_step["request"]["arguments"] == '{"b": 1,  "a": 2}'
    assert text_step["request"]["fingerprint"] == action_fingerprint("tool.call", "echo", '{"a":2,"b":1}')


def test_bad_requests_are_refused_before_anything_is_published(stream: FakeStream) -> None:
    gate = make_gate(stream)
    with pytest.raises(ValueError, match="risk"):
        gate.request("tool.call", "x", risk="extreme")
    with pytest.raises(ValueError, match="ttl_s"):
        gate.request("tool.call", "x", ttl_s=0)
    with pytest.raises(EventFormatError, match="actor.subject"):
        ApprovalGate("k:9092", "acme", {"kind": "agent"}, "svc", publisher=stream, states=stream)
    assert stream.published == []


def test_approved_call_runs_once_records_executed_and_emits_the_action(store: SchemaStore, stream: FakeStream) -> None:
    decide_on_first_poll(stream, "approved")
    tool, emitter = Tool(), RecordingEmitter(store)
    delete_user = gated(delete_user_tool(tool), make_gate(stream), risk="high", resource="users/u-17",
                        emitter=emitter, session_id="s-9")  # fmt: skip

    assert delete_user(user_id="u-17", token=SECRET) == "done"

    assert tool.calls == [{"user_id": "u-17", "token": SECRET}]
    assert stream.kinds() == ["requested", "executed"]
    request_id = stream.published[0][0]
    assert stream.published[1][0] == request_id
    assert stream.states[request_id]["status"] == "executed"
    [event] = emitter.events
    arguments = json.dumps({"user_id": "u-17", "token": SECRET}, sort_keys=True)
    assert event["payload"]["tool_arguments"] == arguments
    assert event["payload"]["attributes"] == {"approval_request_id": request_id}
    assert event["outcome"] == {"status": "success", "error": None}
    assert event["action"] == {"type": "tool.call", "name": "delete_user"}
    assert event["correlation"]["session_id"] == "s-9"
    assert event["credential"] == {"kind": "oidc_id_token", "token": AGENT_TOKEN}
    # The property the stream relies on: the executed action has the request's fingerprint.
    assert event_fingerprint(event) == stream.published[0][1]["request"]["fingerprint"]


def test_rejected_call_never_runs_and_is_emitted_as_blocked(store: SchemaStore, stream: FakeStream) -> None:
    decide_on_first_poll(stream, "rejected")
    tool, emitter = Tool(), RecordingEmitter(store)
    delete_user = gated(delete_user_tool(tool), make_gate(stream), emitter=emitter)

    with pytest.raises(ApprovalDenied) as denied:
        delete_user(user_id="u-17", token=SECRET)

    assert tool.calls == []
    request_id = stream.published[0][0]
    assert denied.value.outcome == ApprovalOutcome(request_id, "rejected", ())
    assert str(denied.value) == f"approval rejected for request {request_id}"
    assert SECRET not in str(denied.value) and SECRET not in repr(denied.value)
    assert stream.kinds() == ["requested"]
    [event] = emitter.events
    assert event["outcome"] == {"status": "blocked", "error": "approval rejected"}
    assert event["payload"]["attributes"]["approval_request_id"] == request_id
    assert event_fingerprint(event) == stream.published[0][1]["request"]["fingerprint"]


def test_no_answer_in_time_is_a_refusal_recorded_as_expired(store: SchemaStore, stream: FakeStream) -> None:
    tool, emitter = Tool(), RecordingEmitter(store)
    delete_user = gated(delete_user_tool(tool), make_gate(stream), timeout_s=0, emitter=emitter)

    with pytest.raises(ApprovalDenied) as denied:
        delete_user(user_id="u-17")

    assert tool.calls == []
    assert denied.value.outcome.status == "timeout" and not denied.value.outcome.approved
    assert stream.kinds() == ["requested", "expired"]
    expired = stream.published[1][1]
    assert expired["actor"] == AGENT and expired["credential"]["token"] == AGENT_TOKEN
    # The stream takes the requester's verified `expired` as closing the request: a late approval is too late.
    request_id = denied.value.outcome.request_id
    assert stream.states[request_id]["status"] == "expired"
    assert stream.decide(request_id, "approved", "bob", ["sre"])["status"] == "expired"
    assert emitter.events[0]["outcome"] == {"status": "blocked", "error": "approval timeout"}


def test_the_tool_failing_after_approval_is_recorded_and_re_raised(store: SchemaStore, stream: FakeStream) -> None:
    decide_on_first_poll(stream, "approved")
    tool, emitter = Tool(fail=True), RecordingEmitter(store)
    delete_user = gated(delete_user_tool(tool), make_gate(stream), emitter=emitter)

    with pytest.raises(ValueError, match="the tool failed"):
        delete_user(user_id="u-17")

    assert len(tool.calls) == 1
    assert stream.kinds() == ["requested", "executed"]
    assert emitter.events[0]["outcome"] == {"status": "failure", "error": "ValueError"}


def test_only_approvals_the_stream_counts_let_the_call_through(stream: FakeStream) -> None:
    """Self-approval, an approver outside the groups and an unverified token all leave the request pending."""
    gate = make_gate(stream)
    request_id = gate.request("tool.call", "delete_user", {"user_id": "u-1"})
    stream.decide(request_id, "approved", "agent-7", ["sre"])  # the requester
    stream.decide(request_id, "approved", "carol", ["marketing"])  # not an approver group
    stream.decide(request_id, "approved", "mallory", ["sre"])  # token does not verify
    outcome = gate.wait(request_id, timeout_s=0)
    assert outcome.status == "timeout" and outcome.approvers == ()
    assert stream.kinds() == ["requested", "expired"]


def test_two_required_approvals_wait_for_the_second(store: SchemaStore) -> None:
    stream = FakeStream(store, trusted={"agent-7", "bob", "carol"}, required=2)
    gate = make_gate(stream)
    request_id = gate.request("tool.call", "delete_user", {"user_id": "u-1"})
    stream.decide(request_id, "approved", "bob", ["sre"])
    stream.decide(request_id, "approved", "bob", ["sre"])  # one subject counts once
    assert gate.check(request_id) is None
    stream.decide(request_id, "approved", "carol", ["sre"])
    assert gate.check(request_id) == ApprovalOutcome(request_id, "approved", ("bob", "carol"))


def test_revoked_after_approval_denies(stream: FakeStream) -> None:
    gate = make_gate(stream)
    request_id = gate.request("tool.call", "delete_user", {"user_id": "u-1"})
    stream.decide(request_id, "approved", "bob", ["sre"])
    stream.decide(request_id, "revoked", "carol", ["sre"])
    outcome = gate.wait(request_id, timeout_s=5)
    assert outcome.status == "revoked" and outcome.approvers == ("bob",)
    assert stream.kinds() == ["requested"]  # a decided request needs no `expired`


def test_an_approval_past_the_requests_expiry_does_not_count(stream: FakeStream) -> None:
    clock = [datetime(2026, 11, 23, 10, 0, tzinfo=UTC)]
    gate = make_gate(stream, now=lambda: clock[0])
    request_id = gate.request("tool.call", "delete_user", {"user_id": "u-1"}, ttl_s=60)
    stream.decide(request_id, "approved", "bob", ["sre"], at=clock[0] + timedelta(seconds=10))
    clock[0] += timedelta(seconds=61)
    assert gate.wait(request_id, timeout_s=5).status == "expired"
    assert stream.kinds() == ["requested"]


def test_a_pending_request_past_its_expiry_is_given_up_at_once(stream: FakeStream) -> None:
    clock = [datetime(2026, 11, 23, 10, 0, tzinfo=UTC)]
    gate = make_gate(stream, now=lambda: clock[0])
    request_id = gate.request("tool.call", "delete_user", {"user_id": "u-1"}, ttl_s=60)
    clock[0] += timedelta(seconds=61)
    assert gate.wait(request_id, timeout_s=300).status == "expired"
    assert stream.kinds() == ["requested", "expired"]


def test_a_state_of_another_tenant_decides_nothing(stream: FakeStream) -> None:
    gate = make_gate(stream)
    request_id = gate.request("tool.call", "delete_user", {"user_id": "u-1"})
    stream.decide(request_id, "approved", "bob", ["sre"])
    stream.states[request_id] = {**stream.states[request_id], "tenant": "other"}
    assert gate.check(request_id) is None


def test_gated_calls_take_keyword_arguments_only(stream: FakeStream) -> None:
    tool = Tool()
    call = gated(delete_user_tool(tool), make_gate(stream))
    with pytest.raises(TypeError, match="keyword arguments only"):
        call("u-17")
    assert stream.published == [] and tool.calls == []


def test_async_gated_call_runs_after_approval(store: SchemaStore, stream: FakeStream) -> None:
    decide_on_first_poll(stream, "approved")
    emitter = RecordingEmitter(store)
    calls: list[dict[str, Any]] = []

    async def send_email(**kwargs: Any) -> str:
        calls.append(kwargs)
        await asyncio.sleep(0)
        return "sent"

    send = gated(send_email, make_gate(stream), emitter=emitter, name="mailer.send")
    assert asyncio.iscoroutinefunction(send)
    assert asyncio.run(send(to="a@example.com", body="hi")) == "sent"
    assert calls == [{"to": "a@example.com", "body": "hi"}]
    assert stream.kinds() == ["requested", "executed"]
    assert emitter.events[0]["action"]["name"] == "mailer.send"
    assert emitter.events[0]["outcome"]["status"] == "success"


def test_async_timeout_denies_without_blocking_the_loop(stream: FakeStream) -> None:
    ran: list[bool] = []

    async def send_email(**kwargs: Any) -> None:
        ran.append(True)

    send = gated(send_email, make_gate(stream, poll_interval_s=0.01), timeout_s=0.05)

    async def main() -> tuple[ApprovalDenied, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        try:
            with pytest.raises(ApprovalDenied) as denied:
                await send(to="a@example.com")
        finally:
            task.cancel()
        return denied.value, ticks

    denied, ticks = asyncio.run(main())
    assert denied.outcome.status == "timeout" and ran == []
    assert ticks > 1  # the event loop kept running while the gate waited
    assert stream.kinds() == ["requested", "expired"]


def test_arequest_approval_returns_the_outcome(stream: FakeStream) -> None:
    decide_on_first_poll(stream, "approved")
    outcome = asyncio.run(make_gate(stream).arequest_approval("tool.call", "x", {"a": 1}, timeout_s=5))
    assert outcome.approved and outcome.approvers == ("bob",)


def test_outcome_of_reads_only_decided_requests() -> None:
    assert outcome_of("r", None, datetime.now(UTC)) is None
    assert arguments_json({"b": 1, "a": [1, 2]}) == '{"a": [1, 2], "b": 1}'
    assert arguments_json(None) is None
    with pytest.raises(TypeError):
        arguments_json([1, 2])  # type: ignore[arg-type]
