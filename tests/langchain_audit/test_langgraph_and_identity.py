"""LangGraph node events (node name, thread id as session, state keys changed) and who/which session an event names."""

from __future__ import annotations

from typing import TypedDict

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from producers.langgraph_audit import audited, changed_keys, node_run
from tests.langchain_audit.capture import CapturingDelivery, make_handler


class State(TypedDict, total=False):
    question: str
    draft: str
    checked: bool
    notes: str


def build_graph() -> object:
    model = FakeMessagesListChatModel(responses=[AIMessage("a draft")])

    def write(state: State, config: RunnableConfig) -> State:
        inner = RunnableLambda(lambda q: q.upper(), name="normalise")  # a run inside the node, not a node
        return {"draft": str(model.invoke(inner.invoke(state["question"], config), config).content)}

    def check(state: State) -> Command:
        return Command(update={"checked": True, "notes": "fine"})

    builder = StateGraph(State)
    builder.add_node("write", write)
    builder.add_node("check", check)
    builder.add_edge(START, "write")
    builder.add_edge("write", "check")
    builder.add_edge("check", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_nodes_become_node_events_under_the_thread_id() -> None:
    delivery = CapturingDelivery()
    graph = audited(build_graph(), make_handler(delivery))
    graph.invoke({"question": "why?"}, {"configurable": {"thread_id": "thread-7"}})

    assert [(e["action"]["type"], e["action"]["name"]) for e in delivery.events] == [
        ("chain.start", "LangGraph"),
        ("node.start", "write"),
        ("chain.start", "normalise"),
        ("chain.end", "normalise"),
        ("llm.request", "FakeMessagesListChatModel"),
        ("llm.response", "FakeMessagesListChatModel"),
        ("node.end", "write"),
        ("node.start", "check"),
        ("node.end", "check"),
        ("chain.end", "LangGraph"),
    ]
    assert {e["correlation"]["session_id"] for e in delivery.events} == {"thread-7"}
    graph_run = delivery.events[0]["correlation"]["run_id"]
    write_run = delivery.events[1]["correlation"]["run_id"]
    assert [e["correlation"]["graph_node"] for e in delivery.events] == [
        None,
        "write",
        "write",
        "write",
        "write",
        "write",
        "write",
        "check",
        "check",
        None,
    ]
    assert delivery.events[1]["correlation"]["parent_run_id"] == graph_run
    assert delivery.events[2]["correlation"]["parent_run_id"] == write_run
    assert delivery.events[4]["correlation"]["parent_run_id"] == write_run
    ends = delivery.of("node.end")
    assert [e["payload"]["attributes"]["langgraph.state_keys_changed"] for e in ends] == ["draft", "checked,notes"]
    assert [e["payload"]["attributes"]["langgraph.step"] for e in ends] == ["1", "2"]
    assert delivery.of("node.start")[1]["payload"]["attributes"]["langgraph.state_keys"] == "draft,question"


def test_audited_keeps_callbacks_given_at_invoke_time() -> None:
    audit, other = CapturingDelivery(), CapturingDelivery()
    graph = audited(build_graph(), make_handler(audit))
    graph.invoke({"question": "q"}, {"configurable": {"thread_id": "t"}, "callbacks": [make_handler(other)]})
    assert audit.kinds() == other.kinds() and len(audit.events) == 10


def test_node_run_is_the_first_run_of_its_namespace() -> None:
    meta = {
        "langgraph_node": "write",
        "langgraph_checkpoint_ns": "write:abc",
        "langgraph_step": 3,
        "langgraph_triggers": ("branch:to:write",),
    }
    node = node_run(meta, enclosing_namespace=None)
    assert node is not None and (node.node, node.step, node.triggers) == ("write", 3, ("branch:to:write",))
    assert node_run(meta, enclosing_namespace="write:abc") is None
    assert node_run({**meta, "langgraph_checkpoint_ns": "write:abc|inner:def"}, "write:abc") is not None  # subgraph
    assert node_run({"thread_id": "t"}, None) is None


def test_changed_keys_of_each_update_shape() -> None:
    assert changed_keys({"b": 1, "a": 2}) == ["a", "b"]
    assert changed_keys(Command(update={"x": 1})) == ["x"]
    assert changed_keys([("k", 1), ("j", 2), ("k", 3)]) == ["j", "k"]
    assert changed_keys([{"a": 1}, Command(update={"b": 2})]) == ["a", "b"]
    assert changed_keys(None) == [] and changed_keys("text") == []


def test_identity_from_constructor_and_metadata_overrides() -> None:
    delivery = CapturingDelivery()
    handler = make_handler(delivery, actor_issuer="https://idp.example")
    chain = RunnableLambda(lambda x: x, name="echo")
    chain.invoke("a", {"callbacks": [handler]})
    chain.invoke(
        "b",
        {
            "callbacks": [handler],
            "metadata": {
                "auditledger_tenant": "globex",
                "auditledger_actor_subject": "bob@globex.example",
                "auditledger_actor_kind": "user",
                "auditledger_actor_groups": ["support"],
            },
        },
    )
    first, _, second, _ = delivery.events
    assert (first["tenant"], first["actor"]) == (
        "acme",
        {"subject": "svc-support", "issuer": "https://idp.example", "groups": ["agents"], "kind": "service"},
    )
    assert (second["tenant"], second["actor"]) == (
        "globex",
        {"subject": "bob@globex.example", "issuer": "https://idp.example", "groups": ["support"], "kind": "user"},
    )
    assert first["source"] == {"service": "unit-test", "host": "host-1", "ip": None}


def test_session_precedence_constructor_then_metadata_then_thread_then_root_run() -> None:
    chain = RunnableLambda(lambda x: x, name="echo")
    cases = [
        ({"session_id": "fixed"}, {"metadata": {"auditledger_session_id": "meta"}}, "fixed"),
        ({}, {"metadata": {"auditledger_session_id": "meta", "thread_id": "thr"}}, "meta"),
        ({}, {"metadata": {"thread_id": "thr"}}, "thr"),
    ]
    for overrides, config, want in cases:
        delivery = CapturingDelivery()
        chain.invoke("x", {"callbacks": [make_handler(delivery, **overrides)], **config})
        assert {e["correlation"]["session_id"] for e in delivery.events} == {want}
    delivery = CapturingDelivery()
    chain.invoke("x", {"callbacks": [make_handler(delivery)]})
    assert delivery.events[0]["correlation"]["session_id"] == delivery.events[0]["correlation"]["run_id"]


def test_id_token_is_attached_as_the_credential() -> None:
    delivery = CapturingDelivery()
    tokens = iter(["tok-1", "tok-2"])
    RunnableLambda(lambda x: x).invoke("x", {"callbacks": [make_handler(delivery, id_token=lambda: next(tokens))]})
    assert [e["credential"] for e in delivery.events] == [
        {"kind": "oidc_id_token", "token": "tok-1"},
        {"kind": "oidc_id_token", "token": "tok-2"},
    ]
