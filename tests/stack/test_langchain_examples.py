"""The two examples against the real stack: the exact sequence of each run's records in ClickHouse, parent
links, prompts, tool arguments and results, masked as the test policy says (default detectors on), and verify."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditledger.config import Settings
from examples import langchain_agent, langgraph_graph
from producers.background_delivery import BackgroundDelivery
from producers.langchain_audit import AuditCallbackHandler
from tests.stack.conftest import wait_for
from tests.stack.langchain_stack import RecordingDelivery, replay_json, session_rows, stored_counts, verify_ok

pytestmark = pytest.mark.stack

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"


@pytest.fixture
def delivery(settings: Settings, tmp_path: Path) -> Iterator[RecordingDelivery]:
    with BackgroundDelivery(settings.kafka_bootstrap, tmp_path / "spool", topic=settings.topics.events) as inner:
        yield RecordingDelivery(inner)


def handler_for(delivery: RecordingDelivery, **identity: str) -> AuditCallbackHandler:
    return AuditCallbackHandler(
        delivery,
        tenant=identity.get("tenant", "acme"),
        actor_subject=identity.get("subject", "ana@acme.example"),
        actor_kind="user",
        source_service="langchain-stack-test",
    )


def delivered_rows(ch, delivery: RecordingDelivery, session_id: str) -> list[dict]:
    delivery.inner.flush(120)
    ids = delivery.event_ids
    wait_for(lambda: len(stored_counts(ch, ids)) == len(ids), 180, f"{len(ids)} events of {session_id} in ClickHouse")
    rows = session_rows(ch, session_id)
    assert [r["event_id"] for r in rows] == ids  # exactly these events, once each, in the order they happened
    return rows


def no_raw_secret(rows: list[dict]) -> None:
    for row in rows:
        text = json.dumps({k: v for k, v in row.items() if k != "masked"}, default=str)
        assert EMAIL not in text and CARD not in text and "4111111111111111" not in text, row["action_type"]


def masked_places(row: dict) -> set[tuple[str, str]]:
    """(path, rule) of each place the stream masked in this record."""
    return {(m["path"], m["rule"]) for m in row["masked"]}


def test_langchain_agent_run_is_recorded_in_order_with_links_and_masking(settings, ch, delivery, tmp_path) -> None:
    outcome = langchain_agent.run(handler_for(delivery), tmp_path / "tickets.db")
    rows = delivered_rows(ch, delivery, outcome.session_id)

    # (1) the exact sequence of the run
    assert [(r["action_type"], r["action_name"]) for r in rows] == [
        ("chain.start", "support_agent"),
        ("llm.request", "FakeMessagesListChatModel"),
        ("llm.response", "FakeMessagesListChatModel"),
        ("tool.call", "create_ticket"),
        ("tool.result", "create_ticket"),
        ("llm.request", "FakeMessagesListChatModel"),
        ("llm.response", "FakeMessagesListChatModel"),
        ("chain.end", "support_agent"),
    ]
    # (2) parent links: everything hangs off the agent's run, which is the trace
    root = outcome.root_run_id
    assert rows[0]["run_id"] == rows[-1]["run_id"] == root and rows[0]["parent_run_id"] == ""
    assert all(r["parent_run_id"] == root for r in rows[1:-1])
    assert rows[1]["run_id"] == rows[2]["run_id"] != rows[5]["run_id"] == rows[6]["run_id"]
    assert rows[3]["run_id"] == rows[4]["run_id"] not in {root, rows[1]["run_id"]}
    assert {r["trace_id"] for r in rows} == {root}
    assert {(r["tenant"], r["actor_subject"], r["actor_kind"]) for r in rows} == {("acme", "ana@acme.example", "user")}

    # (3) the prompt: the exact messages, with the email hashed and the card cut to its last four digits
    first_prompt = json.loads(rows[1]["prompt"])
    assert [m["role"] for m in first_prompt] == ["system", "user"]
    assert first_prompt[0]["content"] == langchain_agent.SYSTEM_PROMPT
    user_text = first_prompt[1]["content"]
    assert "[HASH:email:mk-default:" in user_text and "[PARTIAL:payment_card:****1111]" in user_text
    assert user_text.endswith("for order 1234. Please open a ticket.")
    assert masked_places(rows[1]) == {
        ("payload.prompt[*].content", "detector:email"),
        ("payload.prompt[*].content", "detector:payment_card"),
    }
    parameters = json.loads(rows[1]["parameters"])
    assert parameters["temperature"] == 0.0 and parameters["max_tokens"] == 256
    assert parameters["tools"][0]["function"]["name"] == "create_ticket"
    assert rows[1]["attributes"]["gen_ai.request.max_tokens"] == "256"
    assert rows[2]["attributes"]["gen_ai.usage.input_tokens"] == "64"

    # (4) the model's tool call, the tool's arguments and its result
    call = json.loads(rows[2]["response"])["tool_calls"][0]
    assert call["id"] == langchain_agent.TOOL_CALL_ID and call["name"] == "create_ticket"
    arguments = json.loads(rows[3]["tool_arguments"])
    assert arguments["summary"] == langchain_agent.TICKET_ARGS["summary"] and arguments["priority"] == "high"
    assert arguments["customer_email"].startswith("[HASH:email:mk-default:")
    assert arguments["customer_email"] in user_text  # same email, same token within the tenant
    assert masked_places(rows[3]) == {("payload.tool_arguments.customer_email", "detector:email")}
    assert rows[3]["attributes"]["gen_ai.tool.call.id"] == langchain_agent.TOOL_CALL_ID
    assert rows[4]["response"] == f"ticket {outcome.ticket_id} created" and rows[4]["outcome_status"] == "success"
    assert float(rows[4]["attributes"]["duration_ms"]) >= 0
    tool_message = json.loads(rows[5]["prompt"])[-1]
    assert tool_message == {
        "role": "tool",
        "content": rows[4]["response"],
        "name": "create_ticket",
        "tool_call_id": langchain_agent.TOOL_CALL_ID,
    }
    assert json.loads(rows[6]["response"])["content"] == outcome.answer
    assert json.loads(rows[7]["response"])["answer"] == outcome.answer
    no_raw_secret(rows)
    replayed = replay_json(settings, outcome.session_id)
    assert [r["event_id"] for r in replayed] == delivery.event_ids  # replay prints them in the order they happened
    assert [r["depth"] for r in replayed] == [0, 1, 1, 1, 1, 1, 1, 0]
    assert replayed[3]["payload"]["tool_arguments"] == rows[3]["tool_arguments"]  # masked, as stored
    verify_ok(settings, ch)


def test_langgraph_run_is_recorded_node_by_node_under_its_thread(settings, ch, delivery) -> None:
    outcome = langgraph_graph.run(handler_for(delivery, subject="support-graph"))
    rows = delivered_rows(ch, delivery, outcome.session_id)

    assert [(r["action_type"], r["action_name"], r["graph_node"]) for r in rows] == [
        ("chain.start", "LangGraph", ""),
        ("node.start", "retrieve", "retrieve"),
        ("retriever.query", "KeywordRetriever", "retrieve"),
        ("retriever.result", "KeywordRetriever", "retrieve"),
        ("node.end", "retrieve", "retrieve"),
        ("node.start", "answer", "answer"),
        ("llm.request", "FakeMessagesListChatModel", "answer"),
        ("llm.response", "FakeMessagesListChatModel", "answer"),
        ("node.end", "answer", "answer"),
        ("node.start", "reply", "reply"),
        ("tool.call", "send_reply", "reply"),
        ("tool.result", "send_reply", "reply"),
        ("node.end", "reply", "reply"),
        ("chain.end", "LangGraph", ""),
    ]
    root = outcome.root_run_id
    by_node = {r["graph_node"]: r["run_id"] for r in rows if r["action_type"] == "node.start"}
    for r in rows:
        if r["action_type"].startswith("node."):
            assert r["parent_run_id"] == root
        elif r["graph_node"]:
            assert r["parent_run_id"] == by_node[r["graph_node"]]  # a node's work hangs off the node's run
    assert {r["session_id"] for r in rows} == {outcome.session_id}
    changed = [r["attributes"]["langgraph.state_keys_changed"] for r in rows if r["action_type"] == "node.end"]
    assert changed == ["documents", "answer", "reply_status"]

    query, documents = rows[2]["query"], json.loads(rows[3]["response"])
    assert query.startswith("Where is order 1234?") and "[HASH:email:" in query and EMAIL not in query
    assert [d["metadata"]["source"] for d in documents] == ["orders/1234", "orders/987"]
    assert json.loads(rows[7]["response"])["content"] == langgraph_graph.ANSWER
    assert json.loads(rows[6]["parameters"]) == {"temperature": 0.2, "max_tokens": 128}
    arguments = json.loads(rows[10]["tool_arguments"])
    assert arguments["body"] == langgraph_graph.ANSWER and arguments["to"].startswith("[HASH:email:")
    assert masked_places(rows[10]) == {("payload.tool_arguments.to", "detector:email")}
    assert masked_places(rows[2]) == {("payload.query", "detector:email")}
    assert rows[11]["response"].startswith(f"queued reply of {len(langgraph_graph.ANSWER)} characters to [HASH:email:")
    no_raw_secret(rows)
    replayed = replay_json(settings, outcome.session_id)
    assert [(r["event_id"], r["graph_node"] or "") for r in replayed] == [
        (r["event_id"], r["graph_node"]) for r in rows
    ]
    assert [r["depth"] for r in replayed] == [0, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2, 1, 0]
    verify_ok(settings, ch)
