"""The runs the LangChain handler has open, who and which session each belongs to, and the AuditEvent of one step.

LangChain's end callbacks carry no metadata, so what an end event needs (name, session, identity, graph
node, start time) is kept from the start until the run ends. A child run keeps its root's session and
trace and its parent's identity, which its own metadata may override.

Run metadata keys (LangChain copies a run's metadata to its children):
- `auditledger_tenant`, `auditledger_actor_subject`, `auditledger_actor_kind`, `auditledger_actor_groups`
  (a list), `auditledger_actor_issuer`: override the handler's identity for this run and its children;
- `auditledger_session_id`: the session, unless the handler was given a fixed one; LangGraph's
  `thread_id` comes next, then the root run's id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from producers import genai_attributes as ga
from producers import langchain_payloads as lp
from producers import langgraph_audit as lg
from producers.event_json import event_from_json

META_TENANT = "auditledger_tenant"
META_SUBJECT = "auditledger_actor_subject"
META_KIND = "auditledger_actor_kind"
META_GROUPS = "auditledger_actor_groups"
META_ISSUER = "auditledger_actor_issuer"
META_SESSION = "auditledger_session_id"


@dataclass(frozen=True)
class Identity:
    """Who the events of a run name as actor, and under which tenant."""

    tenant: str
    subject: str
    kind: str = "agent"
    groups: tuple[str, ...] = ()
    issuer: str | None = None

    def with_metadata(self, metadata: Mapping[str, Any]) -> Identity:
        groups = metadata.get(META_GROUPS)
        return replace(
            self,
            tenant=str(metadata.get(META_TENANT) or self.tenant),
            subject=str(metadata.get(META_SUBJECT) or self.subject),
            kind=str(metadata.get(META_KIND) or self.kind),
            groups=tuple(str(g) for g in groups) if isinstance(groups, list | tuple) else self.groups,
            issuer=str(metadata[META_ISSUER]) if metadata.get(META_ISSUER) else self.issuer,
        )


@dataclass
class Run:
    """One open run: what its start said that its end event needs."""

    run_id: UUID
    parent_run_id: UUID | None
    kind: str  # chain, node, llm, tool, retriever
    name: str
    session_id: str
    identity: Identity
    trace_id: str
    graph_node: str | None
    namespace: str | None  # checkpoint namespace of the enclosing LangGraph node
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    attributes: dict[str, str | None] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        return self.trace_id == str(self.run_id)

    def timed(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        """The run's attributes plus its start time and duration, for its end event."""
        duration_ms = (time.monotonic() - self.started) * 1000
        return {
            **self.attributes,
            **(extra or {}),
            ga.STARTED_AT: iso(self.started_at),
            ga.DURATION_MS: f"{duration_ms:.3f}",
        }


class RunTable:
    """Open runs by id; thread-safe (LangGraph runs nodes on several threads)."""

    def __init__(self, identity: Identity, fixed_session_id: str | None = None) -> None:
        self.identity = identity
        self.fixed_session_id = fixed_session_id
        self._runs: dict[UUID, Run] = {}
        self._lock = threading.Lock()

    def start(
        self,
        kind: str,
        name: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: Mapping[str, Any] | None,
        attributes: dict[str, str | None],
    ) -> Run:
        """Open a run; a chain run that is a LangGraph node task becomes kind `node`."""
        metadata = metadata or {}
        with self._lock:
            parent = self._runs.get(parent_run_id) if parent_run_id else None
        if parent is None:
            session = (
                self.fixed_session_id or _text(metadata.get(META_SESSION)) or lg.thread_id(metadata) or str(run_id)
            )
            run = Run(
                run_id,
                parent_run_id,
                kind,
                name,
                session,
                self.identity.with_metadata(metadata),
                str(run_id),
                None,
                None,
                attributes=attributes,
            )
        else:
            run = Run(
                run_id,
                parent_run_id,
                kind,
                name,
                parent.session_id,
                parent.identity.with_metadata(metadata),
                parent.trace_id,
                parent.graph_node,
                parent.namespace,
                attributes=attributes,
            )
        node = lg.node_run(metadata, run.namespace) if kind == "chain" else None
        if node is not None:
            run.kind, run.graph_node, run.namespace = "node", node.node, node.namespace
            run.attributes.update({ga.GRAPH_STEP: str(node.step), ga.GRAPH_TRIGGERS: ",".join(node.triggers)})
        with self._lock:
            self._runs[run_id] = run
        return run

    def end(self, run_id: UUID) -> Run | None:
        """Close a run; None if it was never opened here (the handler joined mid-run)."""
        with self._lock:
            return self._runs.pop(run_id, None)


def audit_event(
    run: Run,
    action_type: str,
    *,
    target_kind: str,
    payload: Mapping[str, Any],
    attributes: Mapping[str, str | None],
    source: Mapping[str, str | None],
    error: BaseException | None = None,
) -> dict[str, Any]:
    """The AuditEvent datum of one step of `run` (validated by the JSON form's one converter)."""
    return event_from_json(
        {
            "tenant": run.identity.tenant,
            "occurred_at": iso(datetime.now(UTC)),
            "actor": {
                "subject": run.identity.subject,
                "issuer": run.identity.issuer,
                "groups": list(run.identity.groups),
                "kind": run.identity.kind,
            },
            "action": {"type": action_type, "name": run.name},
            "target": {"kind": target_kind, "name": run.name},
            "payload": {**payload, "attributes": {k: v for k, v in attributes.items() if v is not None}},
            "outcome": {"status": "failure", "error": lp.error_text(error)} if error else {"status": "success"},
            "source": dict(source),
            "correlation": {
                "session_id": run.session_id,
                "run_id": str(run.run_id),
                "parent_run_id": str(run.parent_run_id) if run.parent_run_id else None,
                "graph_node": run.graph_node,
                "trace_id": run.trace_id,
            },
        }
    )


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
