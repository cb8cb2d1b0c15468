"""A realistic synthetic agent workload for the demo and tests: LangChain-style runs with LLM calls,
tool calls and database queries, spread over several sessions (one session = one Kafka key)."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

_QUESTIONS = (
    "Summarise last quarter's refunds for the EMEA region.",
    "Which customers opened more than three support tickets this week?",
    "Draft a reply to the ticket about a delayed shipment.",
    "List the invoices over 10,000 EUR that are still unpaid.",
    "Find orders that shipped to a different country than billed.",
)
_TOOLS = ("crm_lookup", "ticket_search", "send_email", "invoice_reader")
_QUERIES = (
    "SELECT customer_id, count(*) FROM tickets WHERE opened_at > now() - INTERVAL 7 DAY GROUP BY 1 HAVING count(*) > 3",
    "SELECT invoice_id, amount FROM invoices WHERE status = 'unpaid' AND amount > 10000",
    "UPDATE orders SET flagged = true WHERE ship_country <> bill_country",
)


def demo_events(total: int, sessions: int = 8, tenant: str = "acme", seed: int = 7) -> Iterator[dict[str, Any]]:
    """Yield `total` events in the JSON form, interleaved across `sessions` sessions in causal order."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    streams = [_session(rng, i, tenant, start + timedelta(seconds=i)) for i in range(sessions)]
    produced = 0
    while produced < total:
        for stream in streams:
            if produced >= total:
                return
            yield next(stream)
            produced += 1


def _session(rng: random.Random, index: int, tenant: str, t0: datetime) -> Iterator[dict[str, Any]]:
    session_id = f"sess-{uuid.UUID(int=rng.getrandbits(128))}"
    user = f"analyst{index}@{tenant}.example"
    clock = [t0]

    def event(action_type: str, name: str | None, run_id: str, parent: str | None, **payload: Any) -> dict[str, Any]:
        clock[0] += timedelta(microseconds=rng.randint(500, 250_000))
        outcome = payload.pop("outcome", {"status": "success"})
        return {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "tenant": tenant,
            "occurred_at": clock[0].isoformat(),
            "actor": {"subject": user, "issuer": "https://idp.example", "groups": ["analysts"], "kind": "user"},
            "action": {"type": action_type, "name": name},
            "target": {"kind": payload.pop("target_kind", None), "name": payload.pop("target_name", None)},
            "payload": payload,
            "outcome": outcome,
            "source": {"service": "support-copilot", "host": f"worker-{index % 3}", "ip": "10.0.0.7"},
            "correlation": {
                "session_id": session_id,
                "run_id": run_id,
                "parent_run_id": parent,
                "trace_id": session_id[5:21],
            },  # fmt: skip
        }

    while True:
        chain_run = str(uuid.UUID(int=rng.getrandbits(128)))
        question = rng.choice(_QUESTIONS)
        yield event("chain.start", "AgentExecutor", chain_run, None, prompt=question)
        for _ in range(rng.randint(1, 3)):
            llm_run = str(uuid.UUID(int=rng.getrandbits(128)))
            params = {"temperature": round(rng.random(), 2), "max_tokens": rng.choice([256, 512, 1024])}
            prompt = f"System: be precise.\nUser: {question}"
            yield event("llm.request", "gpt-4o-mini", llm_run, chain_run, prompt=prompt, parameters=params)
            tool = rng.choice(_TOOLS)
            call = {"tool": tool, "args": {"query": question[:40], "limit": rng.randint(1, 50)}}
            yield event("llm.response", "gpt-4o-mini", llm_run, chain_run, response=json.dumps(call),
                        parameters=params, target_kind="model", target_name="gpt-4o-mini")  # fmt: skip
            tool_run = str(uuid.UUID(int=rng.getrandbits(128)))
            yield event("tool.call", tool, tool_run, chain_run, tool_arguments=call["args"], target_kind="tool",
                        target_name=tool)  # fmt: skip
            if rng.random() < 0.5:
                sql = rng.choice(_QUERIES)
                yield event(
                    "db.query",
                    "postgres",
                    str(uuid.UUID(int=rng.getrandbits(128))),
                    tool_run,
                    query=sql,
                    target_kind="database",
                    target_name="crm.public",
                    response={"rows": rng.randint(0, 40)},
                )
            failed = rng.random() < 0.05
            yield event(
                "tool.result",
                tool,
                tool_run,
                chain_run,
                response={"items": rng.randint(0, 9)},
                outcome={"status": "failure", "error": "upstream timeout"} if failed else {"status": "success"},
            )
        yield event("chain.end", "AgentExecutor", chain_run, None, response="Here is what I found.")
