"""What each LangChain callback becomes as an AuditEvent: chains, chat and text models, tools, retrievers."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import tool

from schemas import SchemaStore
from tests.langchain_audit.capture import CapturingDelivery, make_handler

USAGE = {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}


@tool
def lookup_customer(customer_id: int, include_orders: bool = False) -> dict:
    """Look a customer up."""
    return {"id": customer_id, "orders": [1, 2] if include_orders else []}


@tool
def failing_tool(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"backend refused: {reason}")


class StaticRetriever(BaseRetriever):
    def _get_relevant_documents(self, query: str, *, run_manager) -> list[Document]:
        return [Document(f"about {query}", metadata={"source": "kb/1"}), Document("other", metadata={"n": 2})]


def chat_model(*replies: AIMessage) -> FakeMessagesListChatModel:
    return FakeMessagesListChatModel(responses=list(replies))


def test_chat_model_request_carries_exact_messages_and_parameters() -> None:
    delivery = CapturingDelivery()
    model = chat_model(AIMessage("hello", usage_metadata=USAGE)).bind(temperature=0.3, max_tokens=99, stop=["END"])
    messages = [SystemMessage("be brief"), HumanMessage("hi there")]
    model.invoke(messages, {"callbacks": [make_handler(delivery)]})

    request, response = delivery.events
    assert delivery.kinds() == ["llm.request", "llm.response"]
    assert json.loads(request["payload"]["prompt"]) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi there"},
    ]
    assert json.loads(request["payload"]["parameters"]) == {"temperature": 0.3, "max_tokens": 99, "stop": ["END"]}
    attributes = request["payload"]["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "FakeMessagesListChatModel"
    assert attributes["gen_ai.request.temperature"] == "0.3" and attributes["gen_ai.request.max_tokens"] == "99"
    assert json.loads(attributes["gen_ai.request.stop_sequences"]) == ["END"]
    assert request["target"] == {"kind": "model", "name": "FakeMessagesListChatModel"}

    assert json.loads(response["payload"]["response"]) == {"role": "assistant", "content": "hello"}
    assert response["payload"]["attributes"]["gen_ai.usage.input_tokens"] == "11"
    assert response["payload"]["attributes"]["gen_ai.usage.output_tokens"] == "7"
    assert response["correlation"]["run_id"] == request["correlation"]["run_id"]


def test_model_tool_calls_are_in_the_response() -> None:
    delivery = CapturingDelivery()
    call = {"name": "lookup_customer", "args": {"customer_id": 7}, "id": "call-9"}
    chat_model(AIMessage("", tool_calls=[call])).invoke("find 7", {"callbacks": [make_handler(delivery)]})
    response = json.loads(delivery.of("llm.response")[0]["payload"]["response"])
    assert response["tool_calls"] == [{"id": "call-9", "name": "lookup_customer", "args": {"customer_id": 7}}]


def test_text_completion_prompt_is_the_exact_text() -> None:
    delivery = CapturingDelivery()
    FakeListLLM(responses=["forty-two"]).invoke("What is 6 x 7?", {"callbacks": [make_handler(delivery)]})
    request, response = delivery.events
    assert request["payload"]["prompt"] == "What is 6 x 7?"
    assert request["payload"]["attributes"]["gen_ai.operation.name"] == "text_completion"
    assert response["payload"]["response"] == "forty-two"


def test_tool_call_and_result_with_structured_arguments() -> None:
    delivery = CapturingDelivery()
    call = {
        "type": "tool_call",
        "name": "lookup_customer",
        "args": {"customer_id": 7, "include_orders": True},
        "id": "call-1",
    }
    lookup_customer.invoke(call, {"callbacks": [make_handler(delivery)]})
    start, end = delivery.events
    assert (start["action"], end["action"]["type"]) == ({"type": "tool.call", "name": "lookup_customer"}, "tool.result")
    assert json.loads(start["payload"]["tool_arguments"]) == {"customer_id": 7, "include_orders": True}
    assert start["payload"]["attributes"]["gen_ai.tool.call.id"] == "call-1"
    assert start["payload"]["attributes"]["gen_ai.tool.name"] == "lookup_customer"
    assert start["payload"]["attributes"]["gen_ai.operation.name"] == "execute_tool"
    assert json.loads(end["payload"]["response"]) == {"id": 7, "orders": [1, 2]}
    assert end["outcome"] == {"status": "success", "error": None}


def test_tool_error_is_a_failure_with_type_and_message() -> None:
    delivery = CapturingDelivery()
    with pytest.raises(ValueError):
        failing_tool.invoke({"reason": "quota"}, {"callbacks": [make_handler(delivery)]})
    start, end = delivery.events
    assert end["action"]["type"] == "tool.result" and end["payload"]["response"] is None
    assert end["outcome"] == {"status": "failure", "error": "ValueError: backend refused: quota"}
    assert end["correlation"]["run_id"] == start["correlation"]["run_id"]


def test_retriever_query_and_documents() -> None:
    delivery = CapturingDelivery()
    StaticRetriever().invoke("refund policy", {"callbacks": [make_handler(delivery)]})
    query, result = delivery.events
    assert query["action"] == {"type": "retriever.query", "name": "StaticRetriever"}
    assert query["payload"]["query"] == "refund policy"
    assert json.loads(result["payload"]["response"]) == [
        {"page_content": "about refund policy", "metadata": {"source": "kb/1"}},
        {"page_content": "other", "metadata": {"n": 2}},
    ]
    assert result["payload"]["attributes"]["langchain.retriever.documents"] == "2"


def test_nested_runs_link_to_their_parent_and_share_the_root_as_trace() -> None:
    delivery = CapturingDelivery()
    model = chat_model(AIMessage("ok"))

    def agent(question: str, config: RunnableConfig) -> str:
        lookup_customer.invoke({"customer_id": 1}, config)
        return str(model.invoke(question, config).content)

    root = uuid.uuid4()
    RunnableLambda(agent, name="agent").invoke("q", {"callbacks": [make_handler(delivery)], "run_id": root})
    assert delivery.kinds() == ["chain.start", "tool.call", "tool.result", "llm.request", "llm.response", "chain.end"]
    first, *children, last = delivery.events
    assert first["correlation"]["run_id"] == last["correlation"]["run_id"] == str(root)
    assert first["correlation"]["parent_run_id"] is None and first["payload"]["prompt"] == "q"
    assert all(e["correlation"]["parent_run_id"] == str(root) for e in children)
    assert {e["correlation"]["trace_id"] for e in delivery.events} == {str(root)}
    assert last["payload"]["response"] == "ok"
    assert first["payload"]["attributes"]["gen_ai.operation.name"] == "invoke_agent"


def test_end_events_carry_start_time_and_duration() -> None:
    delivery = CapturingDelivery()
    lookup_customer.invoke({"customer_id": 1}, {"callbacks": [make_handler(delivery)]})
    start, end = delivery.events
    attributes = end["payload"]["attributes"]
    started_at = datetime.fromisoformat(attributes["started_at"].replace("Z", "+00:00"))
    assert started_at <= start["occurred_at"] <= end["occurred_at"]
    assert 0 <= float(attributes["duration_ms"]) <= (end["occurred_at"] - started_at).total_seconds() * 1000 + 1
    assert "duration_ms" not in start["payload"]["attributes"]


def test_every_event_encodes_with_the_audit_event_schema() -> None:
    delivery = CapturingDelivery()
    chat_model(AIMessage("hi", usage_metadata=USAGE)).invoke("x", {"callbacks": [make_handler(delivery)]})
    with pytest.raises(ValueError):
        failing_tool.invoke({"reason": "r"}, {"callbacks": [make_handler(delivery)]})
    store = SchemaStore()
    for event in delivery.events:
        decoded = store.decode(store.encode("AuditEvent", event))
        assert decoded["action"] == event["action"] and decoded["payload"] == event["payload"]
