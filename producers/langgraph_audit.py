"""LangGraph: one line to audit a graph, and how a graph's node runs are told apart from the runs inside them.

    graph = audited(builder.compile(checkpointer=...), handler)
    graph.invoke(state, {"configurable": {"thread_id": "t-42"}})

LangGraph reports each node as a chain run whose metadata carries `langgraph_node` (the node name),
`langgraph_step`, `langgraph_triggers` and `langgraph_checkpoint_ns` (one per node task), and copies
`configurable.thread_id` into every run's metadata as `thread_id`. Runs inside a node (a chain, a
model call) inherit that metadata, so a node run is the first run of its checkpoint namespace; the
handler (producers.langchain_audit) records it as node.start / node.end, with the thread id as the
session and the keys of the node's update as the state keys changed.

No langgraph import here: the helpers are pure, and `audited` only needs `with_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

NODE_KEY = "langgraph_node"
STEP_KEY = "langgraph_step"
TRIGGERS_KEY = "langgraph_triggers"
NAMESPACE_KEY = "langgraph_checkpoint_ns"
THREAD_KEY = "thread_id"

G = TypeVar("G")


def audited(graph: G, handler: Any) -> G:
    """The same graph (or any runnable) with `handler` in its callbacks: every run of it is audited.

    Callbacks passed at invoke time are added to it, not replacing it."""
    return graph.with_config(callbacks=[handler])  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NodeRun:
    """A chain run that is a LangGraph node task."""

    node: str
    namespace: str
    step: int | None
    triggers: tuple[str, ...]


def node_run(metadata: Mapping[str, Any], enclosing_namespace: str | None) -> NodeRun | None:
    """The node this chain run is, or None if it is not a node run (no graph, or a run inside a node).

    `enclosing_namespace`: the checkpoint namespace of the node run that encloses the parent run, if any."""
    node = metadata.get(NODE_KEY)
    if not isinstance(node, str) or not node:
        return None
    namespace = str(metadata.get(NAMESPACE_KEY) or node)
    if namespace == enclosing_namespace:
        return None
    step = metadata.get(STEP_KEY)
    triggers = metadata.get(TRIGGERS_KEY) or ()
    return NodeRun(node, namespace, step if isinstance(step, int) else None, tuple(str(t) for t in triggers))


def thread_id(metadata: Mapping[str, Any]) -> str | None:
    value = metadata.get(THREAD_KEY)
    return str(value) if value not in (None, "") else None


def changed_keys(update: Any) -> list[str]:
    """The state keys a node's return value writes: a dict's keys, a Command's update, or (key, value) pairs."""
    if update is None:
        return []
    inner = getattr(update, "update", None)
    if inner is not None and not callable(inner):
        return changed_keys(inner)
    if isinstance(update, Mapping):
        return sorted(str(k) for k in update)
    if isinstance(update, list | tuple):
        if all(isinstance(item, tuple) and len(item) == 2 for item in update):
            return sorted({str(k) for k, _ in update})
        return sorted({key for item in update for key in changed_keys(item)})
    fields = getattr(type(update), "model_fields", None)
    if isinstance(fields, Mapping):  # a pydantic state object
        return sorted(fields)
    return []
