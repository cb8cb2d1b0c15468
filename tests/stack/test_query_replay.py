"""`auditledger query` and `auditledger replay` as users run them (subprocesses) against the real stack: a small
session with nested runs and an email in a prompt goes through the whole path, then every filter, every
format, the replay timeline and the sandbox re-publish are checked against it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, TopicPartition

from auditledger.config import Settings
from producers.emitter import AuditEmitter
from schemas import SchemaStore
from tests.stack.conftest import wait_for

pytestmark = pytest.mark.stack
RAW_EMAIL = "ana.lopez@example.com"
ACTOR = "ana.lopez"  # the test issuer's tokens name this subject only when asked; here the actor is verified
KINDS = ["chain.start", "llm.request", "llm.response", "tool.call", "tool.result", "chain.end"]


def cli(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), *args],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def session_events(tenant: str, session: str, token: str) -> list[dict]:
    """chain.start -> llm.request -> llm.response -> tool.call -> tool.result -> chain.end, 10 ms apart."""
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    chain, llm, tool = (str(uuid.uuid4()) for _ in range(3))
    shapes = [
        ("chain.start", "AgentExecutor", chain, None, {"prompt": "Write to the customer"}),
        ("llm.request", "gpt-4o-mini", llm, chain, {"prompt": f"User: send the refund note to {RAW_EMAIL}",
                                                     "attributes": {"gen_ai.usage.input_tokens": "42"}}),
        ("llm.response", "gpt-4o-mini", llm, chain, {"response": '{"tool": "crm_lookup"}',
                                                      "attributes": {"gen_ai.usage.output_tokens": "7"}}),
        ("tool.call", "crm_lookup", tool, chain, {"tool_arguments": {"customer": 42}}),
        ("tool.result", "crm_lookup", tool, chain, {"response": {"rows": 1}}),
        ("chain.end", "AgentExecutor", chain, None, {"response": "Done."}),
    ]  # fmt: skip
    return [
        {"event_id": str(uuid.uuid4()), "tenant": tenant,
         "occurred_at": (t0 + timedelta(milliseconds=10 * i)).isoformat(),
         "actor": {"subject": ACTOR, "kind": "user"}, "action": {"type": kind, "name": name},
         "payload": payload, "source": {"service": "support-copilot"}, "credential": token,
         "correlation": {"session_id": session, "run_id": run, "parent_run_id": parent, "graph_node": "agent"}}
        for i, (kind, name, run, parent, payload) in enumerate(shapes)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def session(settings: Settings, ch, idp) -> dict:
    tenant, session_id = f"qr-{uuid.uuid4().hex[:8]}", f"sess-qr-{uuid.uuid4()}"
    events = session_events(tenant, session_id, idp.mint(subject=ACTOR))
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for e in events:
            emitter.emit(e)
    count = "SELECT count() FROM ledger_records WHERE session_id = {s:String}"
    wait_for(lambda: ch.command(count, parameters={"s": session_id}) >= len(events), 120, "the session in ClickHouse")
    return {"tenant": tenant, "session": session_id, "events": events, "ids": [e["event_id"] for e in events]}


def query_jsonl(settings: Settings, *args: str) -> list[dict]:
    proc = cli(settings, "query", "--format", "jsonl", "--columns", "event_id,action_type,prompt,actor_subject", *args)
    assert proc.returncode == 0, proc.stderr
    assert RAW_EMAIL not in proc.stdout
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_query_filters_select_exactly_the_matching_records_in_order(settings, session) -> None:
    t, s = session["tenant"], session["session"]
    assert [r["event_id"] for r in query_jsonl(settings, "--tenant", t, "--session", s)] == session["ids"]
    assert [r["event_id"] for r in query_jsonl(settings, "--tenant", t, "--actor", ACTOR)] == session["ids"]
    llm = query_jsonl(settings, "--tenant", t, "--action-type", "llm.*")
    assert [r["action_type"] for r in llm] == ["llm.request", "llm.response"]
    assert "[HASH:email:" in llm[0]["prompt"]
    both = query_jsonl(settings, "--tenant", t, "--action-type", "chain.start", "--action-type", "tool.*")
    assert [r["action_type"] for r in both] == ["chain.start", "tool.call", "tool.result"]
    assert len(query_jsonl(settings, "--tenant", t, "--status", "success", "--since", "1h")) == 6
    assert query_jsonl(settings, "--tenant", t, "--status", "failure") == []
    assert query_jsonl(settings, "--tenant", t, "--until", "2h") == []
    assert [r["event_id"] for r in query_jsonl(settings, "--tenant", t, "--newest-first", "--limit", "2")] == \
        session["ids"][::-1][:2]  # fmt: skip
    assert query_jsonl(settings, "--tenant", "no-such-tenant") == []


def test_query_formats(settings, session) -> None:
    base = ("query", "--tenant", session["tenant"], "--session", session["session"])
    table = cli(settings, *base)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:5] == ["occurred_at", "tenant", "actor_subject", "session_id", "action_type"]
    assert len(lines) == 7 and [line.split()[4] for line in lines[1:]] == KINDS
    rows = list(csv.reader(io.StringIO(cli(settings, *base, "--format", "csv", "--columns", "event_id,prompt").stdout)))
    assert rows[0] == ["event_id", "prompt"] and [r[0] for r in rows[1:]] == session["ids"]
    assert "[HASH:email:" in rows[2][1] and RAW_EMAIL not in rows[2][1]
    bad = cli(settings, "query", "--since", "last tuesday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_replay_json_is_the_session_in_order_nested_by_run_and_masked(settings, session) -> None:
    proc = cli(settings, "replay", session["session"], "--json")
    assert proc.returncode == 0, proc.stderr
    assert RAW_EMAIL not in proc.stdout
    docs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["event_id"] for d in docs] == session["ids"] and [d["action_type"] for d in docs] == KINDS
    assert [d["depth"] for d in docs] == [0, 1, 1, 1, 1, 0]
    assert [d["parent_event_id"] for d in docs] == [None] + [session["ids"][0]] * 4 + [None]
    assert len({d["shard"] for d in docs}) == 1 and [d["seq"] for d in docs] == sorted(d["seq"] for d in docs)
    prompt = docs[1]["payload"]["prompt"]
    assert prompt.startswith("User: send the refund note to [HASH:email:")
    assert {"path": "payload.prompt", "rule": "detector:email"}.items() <= docs[1]["masked"][0].items()
    assert docs[0]["identity_status"] == "verified" and docs[0]["graph_node"] == "agent"


def test_replay_text_view_and_unknown_session(settings, session) -> None:
    proc = cli(settings, "replay", session["session"], "--tenant", session["tenant"], "--width", "240")
    assert proc.returncode == 0, proc.stderr
    assert "[masked: payload.prompt detector:email]" in proc.stdout and RAW_EMAIL not in proc.stdout
    assert [line.split()[2] for line in proc.stdout.splitlines()[1:]] == KINDS
    missing = cli(settings, "replay", "sess-does-not-exist")
    assert missing.returncode == 3 and "no session" in missing.stderr


def test_replay_to_a_sandbox_topic_publishes_exactly_the_masked_events_in_order(settings, session) -> None:
    topic = f"sandbox.qr-{uuid.uuid4().hex[:8]}"
    proc = cli(settings, "replay", session["session"], "--to-topic", topic)
    assert proc.returncode == 0, proc.stderr
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"qr-{uuid.uuid4()}",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    messages = []
    try:
        wait_for(lambda: messages.extend(m for m in consumer.consume(10, 1.0) if not m.error()) or len(messages) >= 6,
                 60, "the sandbox topic's messages")  # fmt: skip
    finally:
        consumer.close()
    store = SchemaStore()
    events = [store.decode(m.value(), reader="AuditEvent") for m in messages]
    assert [str(e["event_id"]) for e in events] == session["ids"]
    assert all(e["credential"] is None for e in events)
    assert "[HASH:email:" in events[1]["payload"]["prompt"] and all(RAW_EMAIL not in m.value().decode("latin-1")
                                                                   for m in messages)  # fmt: skip
    positions = [dict(m.headers())["auditledger-ledger-position"].decode() for m in messages]
    assert len({p.split("/")[0] for p in positions}) == 1 and {m.key() for m in messages} == {
        session["session"].encode()
    }


def test_replay_refuses_a_production_topic(settings, session) -> None:
    for topic in (settings.topics.events, settings.topics.ledger):
        proc = cli(settings, "replay", session["session"], "--to-topic", topic)
        assert proc.returncode == 2 and "own topics" in proc.stderr
