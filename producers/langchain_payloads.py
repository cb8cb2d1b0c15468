"""LangChain objects (messages, documents, LLM results, invocation parameters) as plain JSON values for audit events.

Pure and duck-typed: nothing here imports langchain-core, so it is testable and importable without the
extra. The exact content is kept (masking happens in the stream, not here); what cannot be
represented as JSON becomes its `repr`, so nothing is silently left out.
"""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

MAX_DEPTH = 32
ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "function"}
MODEL_NAME_KEYS = ("model", "model_name", "model_id", "deployment_name")
MAX_TOKENS_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "max_new_tokens", "num_predict")


def is_message(value: Any) -> bool:
    return hasattr(value, "content") and isinstance(getattr(value, "type", None), str) and hasattr(value, "id")


def is_document(value: Any) -> bool:
    return hasattr(value, "page_content") and hasattr(value, "metadata")


def message_json(message: Any) -> dict[str, Any]:
    """A chat message as the model saw it: role, content, and tool calls or the call it answers."""
    kind = message.type
    role = getattr(message, "role", None) if kind == "chat" else ROLES.get(kind, kind)
    out: dict[str, Any] = {"role": role, "content": jsonable(message.content)}
    if getattr(message, "name", None):
        out["name"] = message.name
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls:
        out["tool_calls"] = [
            {"id": c.get("id"), "name": c.get("name"), "args": jsonable(c.get("args"))} for c in tool_calls
        ]
    if getattr(message, "tool_call_id", None):
        out["tool_call_id"] = message.tool_call_id
    if kind == "tool" and getattr(message, "status", "success") != "success":
        out["status"] = message.status
    return out


def document_json(document: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"page_content": document.page_content, "metadata": jsonable(document.metadata)}
    if getattr(document, "id", None):
        out["id"] = document.id
    return out


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON value for anything a chain passes around."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    if is_message(value):
        return message_json(value)
    if is_document(value):
        return document_json(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if hasattr(value, "model_dump"):
        try:
            return jsonable(value.model_dump(), depth + 1)
        except Exception:
            return repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), depth + 1)
    return repr(value)


def json_text(value: Any) -> str:
    """Compact JSON text, as the emitter stores JSON-valued fields."""
    return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))


def text_or_json(value: Any) -> str:
    """A string as it is (a chain's text input or output), anything else as compact JSON."""
    return value if isinstance(value, str) else json_text(value)


def chat_prompt(messages: Sequence[Sequence[Any]]) -> str:
    """One conversation: a JSON array of messages; a batch of several: an array of such arrays."""
    conversations = [[message_json(m) for m in conversation] for conversation in messages]
    return json_text(conversations[0] if len(conversations) == 1 else conversations)


def text_prompt(prompts: Sequence[str]) -> str:
    """One prompt: its exact text; a batch: a JSON array of them."""
    return prompts[0] if len(prompts) == 1 else json_text(list(prompts))


def request_parameters(invocation_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """What was sent with the prompt: temperature, max tokens, stop, tools, ... (unset ones and `_type` left out)."""
    return {k: jsonable(v) for k, v in (invocation_params or {}).items() if k != "_type" and v is not None}


def request_model(
    params: Mapping[str, Any], metadata: Mapping[str, Any], serialized: Mapping[str, Any] | None, run_name: str | None
) -> str:
    for key in MODEL_NAME_KEYS:
        if isinstance(params.get(key), str) and params[key]:
            return params[key]
    if isinstance(metadata.get("ls_model_name"), str) and metadata["ls_model_name"]:
        return metadata["ls_model_name"]
    return run_name or serialized_name(serialized) or "unknown"


def max_tokens(params: Mapping[str, Any], metadata: Mapping[str, Any]) -> Any:
    for key in MAX_TOKENS_KEYS:
        if params.get(key) is not None:
            return params[key]
    return metadata.get("ls_max_tokens")


def serialized_name(serialized: Mapping[str, Any] | None) -> str | None:
    if not serialized:
        return None
    if isinstance(serialized.get("name"), str):
        return serialized["name"]
    ids = serialized.get("id")
    return ids[-1] if isinstance(ids, list) and ids else None


def llm_response(result: Any) -> tuple[str, dict[str, Any]]:
    """The response of an LLMResult (a message as JSON, or the text of a completion) and what it says about
    itself: usage, finish reasons, response model."""
    outputs: list[Any] = []
    finish: list[str] = []
    usage = {"input_tokens": 0, "output_tokens": 0}
    counted = False
    model: str | None = None
    for generations in getattr(result, "generations", []) or []:
        for generation in generations:
            message = getattr(generation, "message", None)
            info = getattr(generation, "generation_info", None) or {}
            meta = getattr(message, "response_metadata", None) or {}
            outputs.append(message_json(message) if message is not None else generation.text)
            reason = info.get("finish_reason") or meta.get("finish_reason") or meta.get("stop_reason")
            if reason:
                finish.append(str(reason))
            model = model or meta.get("model_name") or meta.get("model")
            usage_metadata = getattr(message, "usage_metadata", None)
            if usage_metadata:
                counted = True
                usage["input_tokens"] += int(usage_metadata.get("input_tokens", 0))
                usage["output_tokens"] += int(usage_metadata.get("output_tokens", 0))
    llm_output = getattr(result, "llm_output", None) or {}
    token_usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
    if not counted and token_usage:
        counted = True
        usage["input_tokens"] = int(token_usage.get("prompt_tokens", token_usage.get("input_tokens", 0)))
        usage["output_tokens"] = int(token_usage.get("completion_tokens", token_usage.get("output_tokens", 0)))
    model = model or llm_output.get("model_name") or llm_output.get("model")
    response = outputs[0] if len(outputs) == 1 else outputs
    text = response if isinstance(response, str) else json_text(response)
    return text, {"usage": usage if counted else None, "finish_reasons": finish, "model": model}


def tool_output(output: Any) -> str:
    """A tool's result: the content of the ToolMessage LangChain wraps it in, text as is, anything else as JSON."""
    if is_message(output) and getattr(output, "type", None) == "tool":
        output = output.content
    return output if isinstance(output, str) else json_text(output)


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
