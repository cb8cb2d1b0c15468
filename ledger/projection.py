"""From a ledger record to its ClickHouse row: used by the sink to write and by the verifier to re-derive.

Because both sides call the same function, any column an analyst reads can be checked against the
hashed entry bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.ddl import RECORD_COLUMNS


def record_row(record: Mapping[str, Any], entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """Row values in RECORD_COLUMNS order; None text becomes ''."""
    e = entry["event"]
    actor, action, target, payload = e["actor"], e["action"], e["target"], e["payload"]
    outcome, source, corr = e["outcome"], e["source"], e["correlation"]
    identity, masking = entry["identity"], entry["masking"]
    return (
        record["shard"],
        record["seq"],
        bytes(record["leaf_hash"]),
        bytes(entry["prev_leaf_hash"]),
        entry["source_offset"],
        entry["sequenced_at"],
        e["event_id"] if isinstance(e["event_id"], uuid.UUID) else uuid.UUID(str(e["event_id"])),
        e["tenant"],
        e["occurred_at"],
        actor["subject"],
        actor["issuer"] or "",
        list(actor["groups"]),
        actor["kind"],
        action["type"],
        action["name"] or "",
        target["kind"] or "",
        target["name"] or "",
        payload["prompt"] or "",
        payload["parameters"] or "",
        payload["tool_arguments"] or "",
        payload["query"] or "",
        payload["response"] or "",
        dict(payload["attributes"]),
        outcome["status"],
        outcome["error"] or "",
        source["service"],
        source["host"] or "",
        source["ip"] or "",
        corr["session_id"],
        corr["run_id"] or "",
        corr["parent_run_id"] or "",
        corr["graph_node"] or "",
        corr["trace_id"] or "",
        identity["status"],
        identity["reason"],
        identity["subject"] or "",
        identity["issuer"] or "",
        identity["email"] or "",
        list(identity["groups"]),
        identity["token_fingerprint"] or "",
        masking["policy_digest"],
        [{"path": m["path"], "rule": m["rule"], "action": m["action"], "count": m["count"]} for m in masking["items"]],
        entry["source_topic"],
        *approval_columns(entry["approval"]),
        bytes(record["entry"]),
    )


def approval_columns(approval: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The approval_* columns and approvers; empty values for an action no rule covers."""
    if approval is None:
        return ("", "", "", 0, [], [], [], "", "")
    covers = approval["covers"]
    approvers = [
        {"kind": d["kind"], "subject": d["subject"], "verified": d["verified"], "groups": list(d["groups"]),
         "decided_at": d["decided_at"], "shard": d["shard"], "seq": d["seq"]}  # fmt: skip
        for d in approval["decisions"]
    ]
    return (
        approval["status"],
        approval["request_id"] or "",
        approval["rule"] or "",
        approval["required"],
        list(approval["approver_groups"]),
        approvers,
        list(approval["violations"]),
        approval["fingerprint"] or "",
        f"{covers['shard']}/{covers['seq']}" if covers else "",
    )


def checkpoint_row(checkpoint: Mapping[str, Any], message: bytes) -> tuple[Any, ...]:
    """Row values in CHECKPOINT_COLUMNS order for a decoded Checkpoint and the message it came from."""
    cp = checkpoint
    return (cp["shard"], cp["tree_size"], bytes(cp["root_hash"]), cp["origin"], cp["note"], cp["created_at"],
            cp["last_source_offset"], bytes(message))  # fmt: skip


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return round(value.timestamp() * 1_000_000)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _comparable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_comparable(v) for v in value)
    return value


def differing_columns(stored: Sequence[Any], derived: Sequence[Any]) -> list[str]:
    """Names of the columns whose stored value differs from the one derived from the entry."""
    return [
        name
        for name, a, b in zip(RECORD_COLUMNS, stored, derived, strict=True)
        if a != b and _comparable(a) != _comparable(b)  # equal values need no normalising
    ]
