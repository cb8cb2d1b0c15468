"""A LangChain tool-calling agent that files a support ticket in a SQLite database, audited end to end.

Offline: the chat model is langchain-core's FakeMessagesListChatModel, scripted to call the
`create_ticket` tool and then answer. The user's message carries an email address and a card number,
which the stream's default masking policy masks before anything is stored in the ledger.

    python examples/langchain_agent.py            # against the running local stack (make demo)
    python examples/langchain_agent.py --help
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool

from producers.langchain_audit import AuditCallbackHandler

SYSTEM_PROMPT = "You are a support agent. Open a ticket for every customer problem, then tell the user its number."
USER_PROMPT = (
    "Hi, I'm jane.doe@example.com. I was charged twice on my card 4111 1111 1111 1111 for order 1234. "
    "Please open a ticket."
)
TICKET_ARGS = {
    "customer_email": "jane.doe@example.com",
    "summary": "Charged twice for order 1234",
    "priority": "high",
}
TOOL_CALL_ID = "call_ticket_1"


@dataclass(frozen=True)
class AgentRun:
    session_id: str
    root_run_id: str
    answer: str
    ticket_id: int


def ticket_tool(db_path: Path) -> BaseTool:
    """`create_ticket`: inserts one row into the `tickets` table of the SQLite file at db_path."""

    @tool
    def create_ticket(customer_email: str, summary: str, priority: str = "normal") -> str:
        """Open a support ticket for a customer and return its number."""
        with sqlite3.connect(db_path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, customer_email TEXT, summary TEXT, "
                "priority TEXT, created_at TEXT DEFAULT CURRENT_TIMESTAMP)"
            )
            cursor = db.execute(
                "INSERT INTO tickets (customer_email, summary, priority) VALUES (?, ?, ?)",
                (customer_email, summary, priority),
            )
            return f"ticket {cursor.lastrowid} created"

    return create_ticket


def scripted_model() -> FakeMessagesListChatModel:
    """The model's two turns: call the tool, then answer with what it returned."""
    usage = {"input_tokens": 64, "output_tokens": 24, "total_tokens": 88}
    call = {"name": "create_ticket", "args": TICKET_ARGS, "id": TOOL_CALL_ID}
    return FakeMessagesListChatModel(
        responses=[
            AIMessage(content="", tool_calls=[call], usage_metadata=usage),
            AIMessage(content="I opened ticket 1 for the double charge.", usage_metadata=usage),
        ]
    )


def build_agent(db_path: Path) -> RunnableLambda:
    """The agent loop as one runnable: model, tools, model, ... until the model answers without a tool call."""
    tools = {t.name: t for t in [ticket_tool(db_path)]}
    model = scripted_model().bind(
        tools=[convert_to_openai_tool(t) for t in tools.values()], temperature=0.0, max_tokens=256
    )

    def support_agent(question: str, config: RunnableConfig) -> dict[str, Any]:
        messages: list[BaseMessage] = [SystemMessage(SYSTEM_PROMPT), HumanMessage(question)]
        for _ in range(5):
            reply = model.invoke(messages, config)
            messages.append(reply)
            if not reply.tool_calls:
                return {"answer": reply.content, "messages": len(messages)}
            for call in reply.tool_calls:
                result = tools[call["name"]].invoke({**call, "type": "tool_call"}, config)
                messages.append(
                    result if isinstance(result, ToolMessage) else ToolMessage(result, tool_call_id=call["id"])
                )
        raise RuntimeError("the agent did not finish in 5 turns")

    return RunnableLambda(support_agent, name="support_agent")


def run(handler: AuditCallbackHandler, db_path: Path, session_id: str | None = None) -> AgentRun:
    """Run the agent once with `handler`; the session id goes in run metadata (see the handler's docstring)."""
    session_id = session_id or f"sess-{uuid.uuid4()}"
    root_run_id = uuid.uuid4()
    config: RunnableConfig = {
        "callbacks": [handler],
        "run_id": root_run_id,
        "metadata": {"auditledger_session_id": session_id},
    }
    result = build_agent(db_path).invoke(USER_PROMPT, config)
    with sqlite3.connect(db_path) as db:
        ticket_id = int(db.execute("SELECT max(id) FROM tickets").fetchone()[0])
    return AgentRun(session_id, str(root_run_id), str(result["answer"]), ticket_id)


def main(argv: list[str] | None = None) -> int:
    from auditledger.config import load_settings
    from producers.background_delivery import BackgroundDelivery

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=None, help="SQLite file for tickets (default <home>/tickets.db)")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--user", default="ana@acme.example", help="the actor the events name")
    args = parser.parse_args(argv)
    settings = load_settings()
    if not settings.kafka_bootstrap:
        print("no Kafka bootstrap: start the stack (make demo) or set AUDITLEDGER_KAFKA_BOOTSTRAP", file=sys.stderr)
        return 2
    with BackgroundDelivery.for_settings(settings, "langchain-agent") as delivery:
        handler = AuditCallbackHandler(
            delivery,
            tenant=args.tenant,
            actor_subject=args.user,
            actor_kind="user",
            source_service="support-agent-example",
        )
        outcome = run(handler, args.db or settings.home / "tickets.db")
        delivery.flush(60)
    print(f"answer:  {outcome.answer}")
    print(f"session: {outcome.session_id}")
    print(f"replay:  auditledger replay {outcome.session_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
