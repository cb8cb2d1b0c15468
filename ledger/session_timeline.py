"""A session's ledger records as a timeline nested by run: what `auditledger replay` shows.

Order: records are taken in time order, occurred_at then ledger position (shard, seq); within one session
(one Kafka key, so one shard) the position breaks ties the way the ledger sequenced them.

Nesting: the records that share a run_id are one node (chain.start and chain.end, llm.request and
llm.response, tool.call and tool.result), so a run's start and end enclose its children. A node hangs under
the node whose run_id is its parent_run_id; when that run is not in the session (an orphan), or the parents
form a cycle, it hangs at the root. A record without a run_id is a node of its own.

Values are shown exactly as stored: masked text stays masked ([HASH:email:...], [REDACTED:...]); the
`masked` column (path, rule, action, count, never a value) is what marks an event as masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MASK_TOKEN = r"\[(HASH|REDACTED|PARTIAL|WITHHELD):"
PAYLOAD_FIELDS = ("prompt", "parameters", "tool_arguments", "query", "response")
TIMELINE_COLUMNS: tuple[str, ...] = (
    "occurred_at", "sequenced_at", "shard", "seq", "event_id", "tenant", "session_id", "actor_subject",
    "identity_status", "action_type", "action_name", "target_kind", "target_name", "graph_node", "run_id",
    "parent_run_id", "outcome_status", "outcome_error", *PAYLOAD_FIELDS, "masked", "source_topic",
    "approval_status", "approval_request_id", "approval_rule", "approvers", "approval_violations",
)  # fmt: skip


@dataclass
class RunNode:
    """One run of the session: its records in order, and the runs it started."""

    key: str
    records: list[Mapping[str, Any]] = field(default_factory=list)
    children: list[RunNode] = field(default_factory=list)
    parent: RunNode | None = None

    @property
    def first(self) -> Mapping[str, Any]:
        return self.records[0]


@dataclass(frozen=True)
class TimelineEvent:
    """One record placed in the tree: its depth and the event id of the first record of its parent run."""

    record: Mapping[str, Any]
    depth: int
    parent_event_id: str | None


def record_order(record: Mapping[str, Any]) -> tuple[Any, int, int]:
    return (record["occurred_at"], int(record["shard"]), int(record["seq"]))


def build_tree(records: Iterable[Mapping[str, Any]]) -> list[RunNode]:
    """The root runs of the session, each with its children, everything in time order."""
    ordered = sorted(records, key=record_order)
    nodes: dict[str, RunNode] = {}
    order: list[RunNode] = []
    for i, record in enumerate(ordered):
        key = record.get("run_id") or f"record:{i}"
        if key not in nodes:
            nodes[key] = RunNode(key)
            order.append(nodes[key])
        nodes[key].records.append(record)
    roots: list[RunNode] = []
    for node in order:
        parent_key = next((r.get("parent_run_id") for r in node.records if r.get("parent_run_id")), None)
        parent = nodes.get(parent_key) if parent_key else None
        if parent is None or _is_ancestor(node, parent):
            roots.append(node)
        else:
            node.parent = parent
            parent.children.append(node)
    return roots  # children were appended in order of their first record, so every list is in time order


def _is_ancestor(node: RunNode, candidate: RunNode) -> bool:
    """Whether `node` is `candidate` or above it (linking would make a cycle)."""
    current: RunNode | None = candidate
    while current is not None:
        if current is node:
            return True
        current = current.parent
    return False


def flatten(roots: Sequence[RunNode]) -> list[TimelineEvent]:
    """Every record with its depth, in time order (not tree order: parallel runs stay interleaved as they ran)."""
    placed: list[TimelineEvent] = []

    def walk(node: RunNode, depth: int) -> None:
        parent_id = str(node.parent.first["event_id"]) if node.parent else None
        placed.extend(TimelineEvent(r, depth, parent_id) for r in node.records)
        for child in node.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return sorted(placed, key=lambda e: record_order(e.record))


def tree_lines(roots: Sequence[RunNode], width: int = 200) -> list[str]:
    """The text view: depth-first, a run's records then its children's, each line indented by depth."""
    lines: list[str] = []

    def walk(node: RunNode, depth: int) -> None:
        records = list(node.records)
        last = records.pop() if len(records) > 1 and _ends_run(records[-1], node) else None
        lines.extend(event_line(r, depth, width) for r in records)
        for child in node.children:
            walk(child, depth + 1)
        if last is not None:  # the run's end after its children, as it happened
            lines.append(event_line(last, depth, width))

    for root in roots:
        walk(root, 0)
    return lines


def _ends_run(record: Mapping[str, Any], node: RunNode) -> bool:
    return bool(node.children) and str(record["action_type"]).endswith((".end", ".result", ".response"))


def iso_time(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def _clip(text: str, width: int) -> str:
    """Cut to `width` with …, never inside a mask token such as [HASH:email:...]: a cut token would look unmasked."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = max(width - 1, 0)
    opened = text.rfind("[", 0, cut)
    if opened != -1 and text.find("]", opened, cut) == -1 and re.match(MASK_TOKEN, text[opened:]):
        cut = opened
    return text[:cut] + "…"


def approval_of(record: Mapping[str, Any]) -> dict[str, Any] | None:
    if not record.get("approval_status"):
        return None
    return {
        "status": record["approval_status"],
        "request_id": record.get("approval_request_id") or None,
        "rule": record.get("approval_rule") or None,
        "approvers": [
            {
                "kind": a["kind"],
                "subject": a["subject"],
                "verified": bool(a["verified"]),
                "decided_at": iso_time(a["decided_at"]),
            }
            for a in (_named(a) for a in record.get("approvers") or [])
        ],
        "violations": list(record.get("approval_violations") or []),
    }


def _named(value: Any) -> Mapping[str, Any]:
    """A ClickHouse named tuple arrives as a dict or as a plain tuple in the column's declared order."""
    if isinstance(value, Mapping):
        return value
    return dict(zip(("kind", "subject", "verified", "groups", "decided_at", "shard", "seq"), value, strict=False))


def masked_of(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"path": m["path"], "rule": m["rule"], "action": m["action"], "count": int(m["count"])}
        for m in (
            m if isinstance(m, Mapping) else dict(zip(("path", "rule", "action", "count"), m, strict=False))
            for m in record.get("masked") or []
        )
    ]


def event_line(record: Mapping[str, Any], depth: int, width: int = 200) -> str:
    """time  shard/seq  <indent>action_type name [node] status [approval] payload preview [masked: ...]"""
    parts = [f"{record['action_type']}"]
    if record.get("action_name"):
        parts.append(str(record["action_name"]))
    if record.get("graph_node"):
        parts.append(f"[node {record['graph_node']}]")
    parts.append(str(record["outcome_status"]))
    if record.get("outcome_error"):
        parts.append(f"({_clip(str(record['outcome_error']), 40)})")
    approval = approval_of(record)
    if approval:
        approved_by = ",".join(a["subject"] for a in approval["approvers"] if a["kind"] == "approved")
        parts.append(f"approval={approval['status']}" + (f" by {approved_by}" if approved_by else ""))
        if approval["violations"]:
            parts.append("violations=" + ",".join(approval["violations"]))
    payload = next(((f, record[f]) for f in PAYLOAD_FIELDS if record.get(f)), None)
    masked = masked_of(record)
    marker = ("  [masked: " + ", ".join(f"{m['path']} {m['rule']}" for m in masked) + "]") if masked else ""
    head = f"{iso_time(record['occurred_at'])}  {record['shard']}/{record['seq']}  {'  ' * depth}{' '.join(parts)}"
    if payload:
        room = max(width - len(head) - len(marker) - len(payload[0]) - 4, 20)
        head += f"  {payload[0]}: {_clip(str(payload[1]), room)}"
    return head + marker


def event_json(event: TimelineEvent, index: int) -> dict[str, Any]:
    """The --json form of one event (one object per line; see replay_cli for the field list)."""
    r = event.record
    return {
        "index": index,
        "depth": event.depth,
        "parent_event_id": event.parent_event_id,
        "event_id": str(r["event_id"]),
        "shard": int(r["shard"]),
        "seq": int(r["seq"]),
        "occurred_at": iso_time(r["occurred_at"]),
        "sequenced_at": iso_time(r.get("sequenced_at", "")),
        "tenant": r.get("tenant"),
        "session_id": r.get("session_id"),
        "run_id": r.get("run_id") or None,
        "parent_run_id": r.get("parent_run_id") or None,
        "graph_node": r.get("graph_node") or None,
        "actor_subject": r.get("actor_subject"),
        "identity_status": r.get("identity_status"),
        "action_type": r["action_type"],
        "action_name": r.get("action_name") or None,
        "target": {"kind": r.get("target_kind") or None, "name": r.get("target_name") or None},
        "outcome": {"status": r["outcome_status"], "error": r.get("outcome_error") or None},
        "payload": {f: (r.get(f) or None) for f in PAYLOAD_FIELDS},
        "masked": masked_of(r),
        "approval": approval_of(r),
    }


def timeline_json_lines(records: Iterable[Mapping[str, Any]]) -> list[str]:
    events = flatten(build_tree(records))
    return [json.dumps(event_json(e, i), ensure_ascii=False, sort_keys=False) for i, e in enumerate(events)]
