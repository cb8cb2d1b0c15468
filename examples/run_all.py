"""Both examples once through one BackgroundDelivery: what `auditledger demo` runs after its synthetic workload."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditledger.config import Settings
from examples import langchain_agent, langgraph_graph
from producers.background_delivery import BackgroundDelivery
from producers.langchain_audit import AuditCallbackHandler


@dataclass(frozen=True)
class ExampleRun:
    name: str
    session_id: str
    event_ids: list[str] = field(default_factory=list)


class _Recording:
    """Remembers the event ids handed to the delivery, to wait for exactly those in ClickHouse."""

    def __init__(self, inner: BackgroundDelivery) -> None:
        self.inner = inner
        self.event_ids: list[str] = []

    def submit(self, datum: Mapping[str, Any]) -> str:
        event_id = self.inner.submit(datum)
        self.event_ids.append(event_id)
        return event_id


def run_examples(settings: Settings, tenant: str = "acme", flush_timeout_s: float = 60.0) -> list[ExampleRun]:
    """Run the LangChain agent and the LangGraph graph against the settings' Kafka; every event is flushed."""
    runs: list[ExampleRun] = []
    with BackgroundDelivery.for_settings(settings, "demo-examples") as delivery:
        agent_events, graph_events = _Recording(delivery), _Recording(delivery)
        agent = AuditCallbackHandler(
            agent_events,
            tenant=tenant,
            actor_subject="ana@acme.example",
            actor_kind="user",
            source_service="support-agent-example",
        )
        with tempfile.TemporaryDirectory() as work:
            outcome = langchain_agent.run(agent, Path(work) / "tickets.db")
        runs.append(ExampleRun("langchain agent", outcome.session_id, agent_events.event_ids))
        graph = AuditCallbackHandler(
            graph_events, tenant=tenant, actor_subject="support-graph", source_service="support-graph-example"
        )
        runs.append(ExampleRun("langgraph graph", langgraph_graph.run(graph).session_id, graph_events.event_ids))
        delivery.flush(flush_timeout_s)
    return runs
