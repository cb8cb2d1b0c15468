"""A LangGraph graph (retrieve -> answer -> reply) audited with one line: `audited(graph, handler)`.

Offline: the retriever searches a few in-memory documents, the chat model is langchain-core's
FakeMessagesListChatModel, and `send_reply` is a tool that only records what it would send. The
thread id is the audit session; every node run becomes node.start / node.end with the state keys it changed.

    python examples/langgraph_graph.py            # against the running local stack (make demo)
    python examples/langgraph_graph.py --help
"""

from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass
from typing import Any, TypedDict

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from producers.langchain_audit import AuditCallbackHandler
from producers.langgraph_audit import audited

QUESTION = "Where is order 1234? Please email the answer to jane.doe@example.com."
ANSWER = "Order 1234 left the Lyon warehouse on Monday and arrives Thursday."
KNOWLEDGE = [
    Document(
        "Order 1234 shipped from the Lyon warehouse on Monday; delivery expected Thursday.",
        metadata={"source": "orders/1234", "kind": "shipment"},
    ),
    Document("Refunds are processed within five business days.", metadata={"source": "policies/refunds"}),
    Document("Order 987 is waiting for stock.", metadata={"source": "orders/987", "kind": "shipment"}),
]
NODES = ("retrieve", "answer", "reply")


class SupportState(TypedDict, total=False):
    question: str
    documents: list[str]
    answer: str
    reply_status: str


class KeywordRetriever(BaseRetriever):
    """The documents sharing a word of four letters or more with the query."""

    documents: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        words = {w.strip(".,?").lower() for w in query.split() if len(w) >= 4}
        return [d for d in self.documents if words & {w.strip(".,;").lower() for w in d.page_content.split()}]


@tool
def send_reply(to: str, body: str) -> str:
    """Send the answer to the customer (here: only say what would be sent)."""
    return f"queued reply of {len(body)} characters to {to}"


@dataclass(frozen=True)
class GraphRun:
    session_id: str
    root_run_id: str
    final_state: dict[str, Any]


def build_graph() -> Any:
    retriever = KeywordRetriever(documents=KNOWLEDGE)
    model = FakeMessagesListChatModel(
        responses=[AIMessage(ANSWER, usage_metadata={"input_tokens": 48, "output_tokens": 16, "total_tokens": 64})]
    ).bind(temperature=0.2, max_tokens=128)

    def retrieve(state: SupportState, config: RunnableConfig) -> SupportState:
        return {"documents": [d.page_content for d in retriever.invoke(state["question"], config)]}

    def answer(state: SupportState, config: RunnableConfig) -> SupportState:
        context = "\n".join(state["documents"])
        messages = [SystemMessage(f"Answer from these notes only:\n{context}"), HumanMessage(state["question"])]
        return {"answer": str(model.invoke(messages, config).content)}

    def reply(state: SupportState, config: RunnableConfig) -> SupportState:
        status = send_reply.invoke({"to": "jane.doe@example.com", "body": state["answer"]}, config)
        return {"reply_status": str(status)}

    builder = StateGraph(SupportState)
    builder.add_node("retrieve", retrieve)
    builder.add_node("answer", answer)
    builder.add_node("reply", reply)
    builder.add_edge(START, "retrieve")
    builder.add_edge("retrieve", "answer")
    builder.add_edge("answer", "reply")
    builder.add_edge("reply", END)
    return builder.compile(checkpointer=InMemorySaver())


def run(handler: AuditCallbackHandler, thread_id: str | None = None) -> GraphRun:
    """Run the graph once on a new thread; the thread id is the session the ledger files it under."""
    thread_id = thread_id or f"thread-{uuid.uuid4()}"
    root_run_id = uuid.uuid4()
    graph = audited(build_graph(), handler)  # the one line that turns auditing on
    state = graph.invoke({"question": QUESTION}, {"configurable": {"thread_id": thread_id}, "run_id": root_run_id})
    return GraphRun(thread_id, str(root_run_id), dict(state))


def main(argv: list[str] | None = None) -> int:
    from auditledger.config import load_settings
    from producers.background_delivery import BackgroundDelivery

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--agent", default="support-graph", help="the service account the events name")
    args = parser.parse_args(argv)
    settings = load_settings()
    if not settings.kafka_bootstrap:
        print("no Kafka bootstrap: start the stack (make demo) or set AUDITLEDGER_KAFKA_BOOTSTRAP", file=sys.stderr)
        return 2
    with BackgroundDelivery.for_settings(settings, "langgraph-graph") as delivery:
        handler = AuditCallbackHandler(
            delivery, tenant=args.tenant, actor_subject=args.agent, source_service="support-graph-example"
        )
        outcome = run(handler)
        delivery.flush(60)
    print(f"reply:   {outcome.final_state['reply_status']}")
    print(f"session: {outcome.session_id}")
    print(f"replay:  auditledger replay {outcome.session_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
