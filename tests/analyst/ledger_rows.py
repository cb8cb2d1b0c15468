"""Ledger rows as the sink writes them, built without Kafka: demo events encoded as real LedgerEntry bytes
and projected by ledger.projection, so a store filled from here has realistic sizes and values."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.ddl import RECORD_COLUMNS
from ledger.entry import ZERO_HASH, encode_entry, entry_leaf_hash
from ledger.projection import record_row
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore


def ledger_rows(
    events: Iterable[dict[str, Any]], store: SchemaStore, shards: int = 3, approval: dict[str, Any] | None = None
) -> Iterator[tuple[Any, ...]]:
    """One row per event, in RECORD_COLUMNS order; shard = position modulo `shards`, seq contiguous per shard."""
    prev: dict[int, bytes] = {}
    seqs: dict[int, int] = {}
    for i, raw in enumerate(events):
        shard = i % shards
        seq = seqs.get(shard, 0)
        event = event_from_json(raw)
        event["credential"] = None
        sequenced_at = event["occurred_at"] + timedelta(milliseconds=5)
        entry_fields: dict[str, Any] = {
            "shard": shard, "seq": seq, "source_offset": seq, "sequenced_at": sequenced_at,
            "prev_leaf_hash": prev.get(shard, ZERO_HASH), "event": event,
            "identity": {"status": "absent", "reason": "", "subject": None, "issuer": None, "email": None,
                         "groups": [], "audience": None, "key_id": None, "algorithm": None, "expires_at": None,
                         "token_fingerprint": None},
            "masking": {"policy_digest": "", "items": []}, "source_topic": "events", "approval": approval,
        }  # fmt: skip
        entry = encode_entry(store, **entry_fields)
        leaf = entry_leaf_hash(entry)
        prev[shard], seqs[shard] = leaf, seq + 1
        yield record_row({"shard": shard, "seq": seq, "leaf_hash": leaf, "entry": entry}, entry_fields)


def demo_rows(total: int, store: SchemaStore, tenants: int = 4, batch: int = 500, seed: int = 3) -> list[tuple]:
    """`total` demo-workload rows over `tenants` tenants and 30 days: batches of `batch` events in 4 sessions
    each, one after the other in time, so that a session is short and a time range selects a fraction."""
    per_tenant = total // tenants
    start = datetime(2026, 11, 1, tzinfo=UTC)
    step = timedelta(seconds=30 * 86400 / per_tenant)
    rows: list[tuple] = []
    for t in range(tenants):
        events: list[dict[str, Any]] = []
        for b in range(0, per_tenant, batch):
            n = min(batch, per_tenant - b)
            events.extend(demo_events(n, sessions=4, tenant=f"tenant-{t}", seed=seed + t * 100_000 + b))
        for k, e in enumerate(events):
            e["occurred_at"] = (start + k * step).isoformat()
        rows.extend(ledger_rows(events, store))
    return rows


def insert_rows(client: Any, rows: list[tuple], parts: int = 1) -> None:
    """Insert in `parts` separate inserts (each at least one part per month partition)."""
    size = -(-len(rows) // parts)
    for i in range(0, len(rows), size):
        client.insert("ledger_records", rows[i : i + size], column_names=list(RECORD_COLUMNS))
