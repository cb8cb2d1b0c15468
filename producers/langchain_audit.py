"""`AuditCallbackHandler`: one object in `callbacks=[...]` that records a LangChain or LangGraph run as audit events.

Every callback builds an AuditEvent datum and hands it to the delivery (`BackgroundDelivery`: an append
to a disk spool, never a wait on Kafka). Action types: chain.start/end, node.start/end (LangGraph nodes),
llm.request/response, tool.call/result, retriever.query/result. Correlation: run_id and parent_run_id
as LangChain gives them, trace_id = the root run's id, graph_node = the enclosing LangGraph node.
Identity and session: the constructor, overridable per run by metadata (see producers.langchain_runs).

A delivery failure (a full spool) is logged (event id and reason, never content) and passed to
`on_delivery_error(event_id, reason)`; with `fail_closed=True` the handler raises it, and LangChain
stops the chain (the handler sets `raise_error`, without which LangChain only logs callback errors).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

from producers import genai_attributes as ga
from producers import langchain_payloads as lp
from producers import langgraph_audit as lg
from producers.langchain_runs import Identity, Run, RunTable, audit_event
from producers.spool import SpoolError

try:
    from langchain_core.callbacks import BaseCallbackHandler
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("producers.langchain_audit needs langchain-core: pip install 'auditledger[langchain]'") from exc

log = logging.getLogger(__name__)


class Delivery(Protocol):
    def submit(self, datum: Mapping[str, Any]) -> str: ...


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
        self.runs = RunTable(Identity(tenant, actor_subject, actor_kind, tuple(actor_groups), actor_issuer), session_id)
        self.source = {"service": source_service, "host": source_host or socket.gethostname()}
        self.id_token = id_token
        self.on_delivery_error = on_delivery_error
        self.fail_closed = fail_closed
        self.raise_error = fail_closed

    def _emit(
        self,
        run: Run,
        action_type: str,
        target_kind: str,
        payload: Mapping[str, Any],
        attributes: Mapping[str, str | None],
        error: BaseException | None = None,
    ) -> None:
        datum = audit_event(
            run,
            action_type,
            target_kind=target_kind,
            payload=payload,
            attributes=attributes,
            source=self.source,
            error=error,
        )
        if self.id_token is not None:
            token = self.id_token()
            if token:
                datum["credential"] = {"kind": "oidc_id_token", "token": token}
        try:
            self.delivery.submit(datum)
        except Exception as exc:
            # A spool error names only the directory and sizes; any other (an Avro encoding error quotes the
            # value it could not encode) is reported by type, so no event content reaches logs or callbacks.
            reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, SpoolError) else type(exc).__name__
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
        attributes = {ga.RUN_NAME: name, ga.RUN_TAGS: ",".join(tags) if tags else None}
        run = self.runs.start("chain", name, run_id, parent_run_id, metadata, attributes)
        if run.kind == "node":  # the node's input is the whole state: its keys only (updates say what changed)
            keys = ",".join(lg.changed_keys(inputs))
            self._emit(run, "node.start", "graph_node", {}, {**run.attributes, ga.GRAPH_INPUT_KEYS: keys})
            return
        if run.is_root:  # an agent or graph invocation
            run.attributes.update({ga.OPERATION_NAME: ga.OP_INVOKE_AGENT, ga.AGENT_NAME: name})
        self._emit(run, "chain.start", "chain", {"prompt": lp.text_or_json(inputs)}, run.attributes)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._chain_done(run_id, outputs, None)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._chain_done(run_id, None, error)

    def _chain_done(self, run_id: UUID, outputs: Any, error: BaseException | None) -> None:
        run = self.runs.end(run_id)
        if run is None:
            return
        payload = {"response": lp.text_or_json(outputs)} if error is None else {}
        if run.kind == "node":
            changed = ",".join(lg.changed_keys(outputs))
            self._emit(run, "node.end", "graph_node", payload, run.timed({ga.GRAPH_CHANGED_KEYS: changed}), error)
        else:
            self._emit(run, "chain.end", "chain", payload, run.timed(), error)

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
        prompt = lp.text_prompt(prompts)
        self._model_start(ga.OP_TEXT_COMPLETION, prompt, serialized, run_id, parent_run_id, metadata, kwargs)

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
        run = self.runs.start("llm", model, run_id, parent_run_id, metadata, attributes)
        self._emit(run, "llm.request", "model", {"prompt": prompt, "parameters": params}, run.attributes)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.end(run_id)
        if run is None:
            return
        text, facts = lp.llm_response(response)
        usage = facts["usage"] or {}
        extra = {
            ga.RESPONSE_MODEL: facts["model"],
            ga.RESPONSE_FINISH_REASONS: ",".join(facts["finish_reasons"]) or None,
            ga.USAGE_INPUT_TOKENS: _text(usage.get("input_tokens")),
            ga.USAGE_OUTPUT_TOKENS: _text(usage.get("output_tokens")),
        }
        self._emit(run, "llm.response", "model", {"response": text}, run.timed(extra))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.end(run_id)
        if run is not None:
            self._emit(run, "llm.response", "model", {}, run.timed(), error)

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
        attributes = {
            ga.OPERATION_NAME: ga.OP_EXECUTE_TOOL,
            ga.TOOL_NAME: name,
            ga.TOOL_CALL_ID: _text(kwargs.get("tool_call_id")),
        }
        run = self.runs.start("tool", name, run_id, parent_run_id, metadata, attributes)
        arguments = lp.jsonable(inputs) if inputs is not None else input_str  # structured when LangChain has them
        self._emit(run, "tool.call", "tool", {"tool_arguments": arguments}, run.attributes)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.end(run_id)
        if run is not None:
            self._emit(run, "tool.result", "tool", {"response": lp.tool_output(output)}, run.timed())

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.end(run_id)
        if run is not None:
            self._emit(run, "tool.result", "tool", {}, run.timed(), error)

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
        run = self.runs.start("retriever", name, run_id, parent_run_id, metadata, attributes)
        self._emit(run, "retriever.query", "retriever", {"query": query}, run.attributes)

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.end(run_id)
        if run is not None:
            attributes = run.timed({ga.DOCUMENT_COUNT: str(len(documents))})
            self._emit(run, "retriever.result", "retriever", {"response": lp.json_text(list(documents))}, attributes)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.end(run_id)
        if run is not None:
            self._emit(run, "retriever.result", "retriever", {}, run.timed(), error)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
