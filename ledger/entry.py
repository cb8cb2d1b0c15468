"""The bytes a ledger leaf commits to.

entry  = Avro single-object encoding of a LedgerEntry (C3 01 || CRC-64-AVRO fingerprint || body)
leaf   = SHA-256(0x00 || entry)                       (RFC 6962 leaf hash)
chain  = entry.prev_leaf_hash is the leaf of seq - 1, ZERO_HASH for seq 0

Storing and hashing these exact bytes (never a re-encoding) lets any reader recompute the leaf.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledger.merkle import leaf_hash
from schemas import SchemaStore

ZERO_HASH = bytes(32)

# An entry for an event that carried no credential and in which nothing was masked.
ABSENT_IDENTITY: Mapping[str, Any] = {"status": "absent", "reason": "", "groups": []}
NOTHING_MASKED: Mapping[str, Any] = {"policy_digest": "", "items": []}


def encode_entry(
    store: SchemaStore,
    *,
    shard: int,
    seq: int,
    source_offset: int,
    sequenced_at: datetime,
    prev_leaf_hash: bytes,
    event: Mapping[str, Any],
    identity: Mapping[str, Any] = ABSENT_IDENTITY,
    masking: Mapping[str, Any] = NOTHING_MASKED,
    source_topic: str = "events",
    approval: Mapping[str, Any] | None = None,
) -> bytes:
    return store.encode(
        "LedgerEntry",
        {
            "shard": shard,
            "seq": seq,
            "source_offset": source_offset,
            "source_topic": source_topic,
            "sequenced_at": sequenced_at,
            "prev_leaf_hash": prev_leaf_hash,
            "event": event,
            "identity": identity,
            "masking": masking,
            "approval": approval,
        },
    )


def entry_leaf_hash(entry: bytes) -> bytes:
    return leaf_hash(entry)
