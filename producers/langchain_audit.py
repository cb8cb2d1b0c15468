"""`AuditCallbackHandler`: one object in `callbacks=[...]` that records a LangChain or LangGraph run as audit events.

Every callback builds an AuditEvent datum and hands it to the delivery (`BackgroundDelivery`: an append
to a disk spool, never a wait on Kafka). Action types: chain.start/end, node.start/end (LangGraph nodes),
llm.request/response, tool.call/result, retriever.query/result. Correlation: run_id and parent_run_id
as LangChain gives them, trace_id = the root run's id, graph_node = the enclosing LangGraph node.

Who and which session (later wins for identity; the first that is set wins for the session):
- identity: the constructor, then run metadata `auditledger_tenant`, `auditledger_actor_subject`,
  `auditledger_actor_kind`, `auditledger_actor_groups`, `auditledger_actor_issuer`;
- session: the constructor's `session_id`, metadata `auditledger_session_id`, LangGraph's `thread_id`,
  else the root run id. A child run keeps its root's session and identity.

A delivery failure (a full spool) is logged and passed to `on_delivery_error`; with `fail_closed=True`
the handler raises it, and LangChain stops the chain (the handler sets `raise_error`).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from producers import genai_attributes as ga
from producers import langchain_payloads as lp
from producers import langgraph_audit as lg
from producers.event_json import event_from_json

try:
    from langchain_core.callbacks import BaseCallbackHandler
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("producers.langchain_audit needs langchain-core: pip install 'auditledger[langchain]'") from exc

log = logging.getLogger(__name__)

META_TENANT = "auditledger_tenant"
META_SUBJECT = "auditledger_actor_subject"
META_KIND = "auditledger_actor_kind"
META_GROUPS = "auditledger_actor_groups"
META_ISSUER = "auditledger_actor_issuer"
META_SESSION = "auditledger_session_id"


class Delivery(Protocol):
    def submit(self, datum: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class Identity:
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
class _Run:
    """What a run's end event needs from its start (LangChain's end callbacks carry no metadata)."""

    kind: str  # chain, node, llm, tool, retriever
    name: str
    session_id: str
    identity: Identity
    trace_id: str
    graph_node: str | None
    namespace: str | None  # checkpoint namespace of the enclosing LangGraph node
    started_at: datetime
    started: float
    attributes: dict[str, str] = field(default_factory=dict)


class AuditCallbackHandler(BaseCallbackHandler):
    """Records every chain, node, model, tool and retriever run it sees; thread-safe."""

    def __init__(
        self,
        delivery: Delivery,
        *,
        tenant: str,
        actor_subject: str,
        actor_kind: str = "agent",
        actor_groups: Sequence[str] = (),
        actor_issuer: str | None = None,
        source_service: str,
        source_host: str | None = None,
        session_id: str | None = None,
        id_token: Callable[[], str | None] | None = None,
        on_delivery_error: Callable[[str, str], None] | None = None,
        fail_closed: bool = False,
    ) -> None:
        self.delivery = delivery
        self.identity = Identity(tenant, actor_subject, actor_kind, tuple(actor_groups), actor_issuer)
        self.source_service = source_service
        self.source_host = source_host or socket.gethostname()
        self.session_id = session_id
        self.id_token = id_token
        self.on_delivery_error = on_delivery_error
        self.fail_closed = fail_closed
        self.raise_error = fail_closed
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    # -- run bookkeeping -----------------------------------------------------------------------
    def _start(
        self,
        kind: str,
        name: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: Mapping[str, Any] | None,
        attributes: dict[str, str],
    ) -> _Run:
        metadata = metadata or {}
        with self._lock:
            parent = self._runs.get(parent_run_id) if parent_run_id else None
        if parent is None:
            session = self.session_id or _text(metadata.get(META_SESSION)) or lg.thread_id(metadata) or str(run_id)
            run = _Run(
                kind,
                name,
                session,
                self.identity.with_metadata(metadata),
                str(run_id),
                None,
                None,
                datetime.now(UTC),
                time.monotonic(),
                attributes,
            )
        else:
            run = _Run(
                kind,
                name,
                parent.session_id,
                parent.identity.with_metadata(metadata),
                parent.trace_id,
                parent.graph_node,
                parent.namespace,
                datetime.now(UTC),
                time.monotonic(),
                attributes,
            )
        if kind == "chain":
            node = lg.node_run(metadata, run.namespace)
            if node is not None:
                run.kind, run.graph_node, run.namespace = "node", node.node, node.namespace
        with self._lock:
            self._runs[run_id] = run
        return run

    def _end(self, run_id: UUID) -> _Run | None:
        with self._lock:
            return self._runs.pop(run_id, None)

    def _timed(self, run: _Run, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        duration_ms = (time.monotonic() - run.started) * 1000
        return {
            **run.attributes,
            **(extra or {}),
            ga.STARTED_AT: _iso(run.started_at),
            ga.DURATION_MS: f"{duration_ms:.3f}",
        }

    # -- emitting ------------------------------------------------------------------------------
    def _emit(
        self,
        run: _Run,
        action_type: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        *,
        target_kind: str,
        payload: dict[str, Any],
        attributes: Mapping[str, str],
        error: BaseException | None = None,
    ) -> None:
        event = {
            "tenant": run.identity.tenant,
            "occurred_at": _iso(datetime.now(UTC)),
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
            "source": {"service": self.source_service, "host": self.source_host},
            "correlation": {
                "session_id": run.session_id,
                "run_id": str(run_id),
                "parent_run_id": str(parent_run_id) if parent_run_id else None,
                "graph_node": run.graph_node,
                "trace_id": run.trace_id,
            },
        }
        datum = event_from_json(event)
        if self.id_token is not None:
            token = self.id_token()
            if token:
                datum["credential"] = {"kind": "oidc_id_token", "token": token}
        try:
            self.delivery.submit(datum)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.error("audit event %s (%s) was not spooled: %s", datum["event_id"], action_type, reason)
            if self.on_delivery_error is not None:
                self.on_delivery_error(datum["event_id"], reason)
            if self.fail_closed:
                raise

    # -- chains and LangGraph nodes -------------------------------------------------------------
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or lp.serialized_name(serialized) or "chain"
        attributes = {ga.RUN_NAME: name}
        if tags:
            attributes[ga.RUN_TAGS] = ",".join(tags)
        run = self._start("chain", name, run_id, parent_run_id, metadata, attributes)
        if run.kind == "node":
            node = lg.node_run(metadata or {}, None)
            assert node is not None
            run.attributes.update({ga.GRAPH_STEP: _text(node.step), ga.GRAPH_TRIGGERS: ",".join(node.triggers)})
            keys = lg.changed_keys(inputs)
            self._emit(
                run,
                "node.start",
                run_id,
                parent_run_id,
                target_kind="graph_node",
                payload={},
                attributes={**run.attributes, ga.GRAPH_INPUT_KEYS: ",".join(keys)},
            )
            return
        if run.trace_id == str(run_id):  # the root run: an agent or graph invocation
            run.attributes[ga.OPERATION_NAME] = ga.OP_INVOKE_AGENT
            run.attributes[ga.AGENT_NAME] = name
        self._emit(
            run,
            "chain.start",
            run_id,
            parent_run_id,
            target_kind="chain",
            payload={"prompt": lp.text_or_json(inputs)},
            attributes=run.attributes,
        )

    def on_chain_end(self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self._chain_done(outputs, None, run_id, parent_run_id)

    def on_chain_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._chain_done(None, error, run_id, parent_run_id)

    def _chain_done(self, outputs: Any, error: BaseException | None, run_id: UUID, parent_run_id: UUID | None) -> None:
        run = self._end(run_id)
        if run is None:
            return
        payload = {"response": lp.text_or_json(outputs)} if error is None else {}
        if run.kind == "node":
            attributes = self._timed(run, {ga.GRAPH_CHANGED_KEYS: ",".join(lg.changed_keys(outputs))})
            self._emit(
                run,
                "node.end",
                run_id,
                parent_run_id,
                target_kind="graph_node",
                payload=payload,
                attributes=attributes,
                error=error,
            )
        else:
            self._emit(
                run,
                "chain.end",
                run_id,
                parent_run_id,
                target_kind="chain",
                payload=payload,
                attributes=self._timed(run),
                error=error,
            )

    # -- models ----------------------------------------------------------------------------------
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(ga.OP_CHAT, lp.chat_prompt(messages), serialized, run_id, parent_run_id, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._model_start(
            ga.OP_TEXT_COMPLETION, lp.text_prompt(prompts), serialized, run_id, parent_run_id, metadata, kwargs
        )

    def _model_start(
        self,
        operation: str,
        prompt: str,
        serialized: Mapping[str, Any] | None,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        metadata = metadata or {}
        params = lp.request_parameters(kwargs.get("invocation_params"))
        model = lp.request_model(params, metadata, serialized, kwargs.get("name"))
        attributes = {
            ga.OPERATION_NAME: operation,
            ga.REQUEST_MODEL: model,
            ga.PROVIDER_NAME: _text(metadata.get("ls_provider")),
            ga.REQUEST_TEMPERATURE: _text(params.get("temperature", metadata.get("ls_temperature"))),
            ga.REQUEST_MAX_TOKENS: _text(lp.max_tokens(params, metadata)),
            ga.REQUEST_TOP_P: _text(params.get("top_p")),
            ga.REQUEST_STOP_SEQUENCES: lp.json_text(params["stop"]) if params.get("stop") else None,
        }
        attributes = {k: v for k, v in attributes.items() if v is not None}
        run = self._start("llm", model, run_id, parent_run_id, metadata, attributes)
        self._emit(
            run,
            "llm.request",
            run_id,
            parent_run_id,
            target_kind="model",
            payload={"prompt": prompt, "parameters": params},
            attributes=run.attributes,
        )

    def on_llm_end(self, response: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        run = self._end(run_id)
        if run is None:
            return
        text, facts = lp.llm_response(response)
        extra = {ga.RESPONSE_MODEL: facts["model"], ga.RESPONSE_FINISH_REASONS: ",".join(facts["finish_reasons"])}
        if facts["usage"] is not None:
            extra[ga.USAGE_INPUT_TOKENS] = str(facts["usage"]["input_tokens"])
            extra[ga.USAGE_OUTPUT_TOKENS] = str(facts["usage"]["output_tokens"])
        extra = {k: v for k, v in extra.items() if v}
        self._emit(
            run,
            "llm.response",
            run_id,
            parent_run_id,
            target_kind="model",
            payload={"response": text},
            attributes=self._timed(run, extra),
        )

    def on_llm_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        run = self._end(run_id)
        if run is not None:
            self._emit(
                run,
                "llm.response",
                run_id,
                parent_run_id,
                target_kind="model",
                payload={},
                attributes=self._timed(run),
                error=error,
            )

    # -- tools -------------------------------------------------------------------------------------
    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = lp.serialized_name(serialized) or kwargs.get("name") or "tool"
        attributes = {ga.OPERATION_NAME: ga.OP_EXECUTE_TOOL, ga.TOOL_NAME: name}
        if kwargs.get("tool_call_id"):
            attributes[ga.TOOL_CALL_ID] = str(kwargs["tool_call_id"])
        run = self._start("tool", name, run_id, parent_run_id, metadata, attributes)
        arguments = lp.jsonable(inputs) if inputs is not None else input_str
        self._emit(
            run,
            "tool.call",
            run_id,
            parent_run_id,
            target_kind="tool",
            payload={"tool_arguments": arguments},
            attributes=run.attributes,
        )

    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        run = self._end(run_id)
        if run is not None:
            self._emit(
                run,
                "tool.result",
                run_id,
                parent_run_id,
                target_kind="tool",
                payload={"response": lp.tool_output(output)},
                attributes=self._timed(run),
            )

    def on_tool_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        run = self._end(run_id)
        if run is not None:
            self._emit(
                run,
                "tool.result",
                run_id,
                parent_run_id,
                target_kind="tool",
                payload={},
                attributes=self._timed(run),
                error=error,
            )

    # -- retrievers ----------------------------------------------------------------------------------
    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or lp.serialized_name(serialized) or "retriever"
        attributes = {ga.OPERATION_NAME: ga.OP_RETRIEVAL, ga.DATA_SOURCE_ID: name}
        run = self._start("retriever", name, run_id, parent_run_id, metadata, attributes)
        self._emit(
            run,
            "retriever.query",
            run_id,
            parent_run_id,
            target_kind="retriever",
            payload={"query": query},
            attributes=run.attributes,
        )

    def on_retriever_end(
        self, documents: Sequence[Any], *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        run = self._end(run_id)
        if run is not None:
            attributes = self._timed(run, {ga.DOCUMENT_COUNT: str(len(documents))})
            self._emit(
                run,
                "retriever.result",
                run_id,
                parent_run_id,
                target_kind="retriever",
                payload={"response": lp.json_text(list(documents))},
                attributes=attributes,
            )

    def on_retriever_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        run = self._end(run_id)
        if run is not None:
            self._emit(
                run,
                "retriever.result",
                run_id,
                parent_run_id,
                target_kind="retriever",
                payload={},
                attributes=self._timed(run),
                error=error,
            )


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def new_session_id() -> str:
    """A fresh session id for callers that want one per conversation."""
    return f"sess-{uuid.uuid4()}"
