"""The exported-checkpoints file: what an outside party keeps, and where an incremental verify starts.

Format (JSON, "auditledger-checkpoints/v1"):
    {"format": ..., "log_origin": ..., "exported_at": RFC 3339,
     "checkpoints": [{"shard": n, "note": "<signed note text>", "frontier": [base64...],
                      "last_leaf_hash": base64}]}
Only the signed note is evidence. The frontier and last leaf are what `--from-checkpoint` resumes
from; the frontier is accepted only if it folds to the signed root, and the last leaf is taken on
the word of whoever keeps the file (an auditor's own earlier export).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.checkpoint_checks import PublishedRoot, trusted_head
from ledger.merkle import CompactFrontier, MerkleError
from ledger.trusted_keys import TrustedKey, format_time
from ledger.verification import ShardStart
from ledger.verification_errors import VerificationError

FORMAT = "auditledger-checkpoints/v1"


class CheckpointFileError(Exception):
    """The exported-checkpoints file cannot be used: unreadable, malformed, or not signed by a trusted key."""


@dataclass(frozen=True)
class ExportedCheckpoint:
    shard: int
    note: str
    frontier: tuple[bytes, ...]
    last_leaf_hash: bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "shard": self.shard,
            "note": self.note,
            "frontier": [base64.b64encode(h).decode() for h in self.frontier],
            "last_leaf_hash": base64.b64encode(self.last_leaf_hash).decode(),
        }


def export_document(log_origin: str, checkpoints: Sequence[ExportedCheckpoint], now: datetime) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "log_origin": log_origin,
        "exported_at": format_time(now),
        "checkpoints": [c.as_dict() for c in sorted(checkpoints, key=lambda c: c.shard)],
    }


def load_checkpoints_file(path: Path) -> list[ExportedCheckpoint]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckpointFileError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CheckpointFileError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointFileError(f"{path}: want a JSON object with format {FORMAT!r}")
    try:
        return [
            ExportedCheckpoint(
                shard=int(item["shard"]),
                note=str(item["note"]),
                frontier=tuple(base64.b64decode(h, validate=True) for h in item["frontier"]),
                last_leaf_hash=base64.b64decode(item["last_leaf_hash"], validate=True),
            )
            for item in document["checkpoints"]
        ]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise CheckpointFileError(f"{path}: malformed checkpoint entry: {exc}") from exc


def _head(item: ExportedCheckpoint, trusted: Sequence[TrustedKey], log_origin: str, source: str) -> PublishedRoot:
    try:
        head = trusted_head(item.note, trusted, item.shard, log_origin)
    except VerificationError as exc:
        raise CheckpointFileError(f"shard {item.shard}: {exc.kind}: {exc.detail}") from exc
    return PublishedRoot(head.tree_size, head.root_hash, head.signed_at, source, head.signed_by)


def witnessed_roots(
    items: Sequence[ExportedCheckpoint], trusted: Sequence[TrustedKey], log_origin: str
) -> dict[int, list[PublishedRoot]]:
    """Heads an outside party witnessed; the stored leaves must still give these roots."""
    roots: dict[int, list[PublishedRoot]] = {}
    for item in items:
        roots.setdefault(item.shard, []).append(_head(item, trusted, log_origin, "witness"))
    return roots


def start_points(
    items: Sequence[ExportedCheckpoint], trusted: Sequence[TrustedKey], log_origin: str
) -> dict[int, ShardStart]:
    """Where `verify --from-checkpoint` resumes each shard: a signed head whose frontier folds to its root."""
    starts: dict[int, ShardStart] = {}
    for item in items:
        head = _head(item, trusted, log_origin, "start")
        try:
            root = CompactFrontier.from_hashes(head.tree_size, list(item.frontier)).root()
        except MerkleError as exc:
            raise CheckpointFileError(f"shard {item.shard}: frontier unusable: {exc}") from exc
        if root != head.root_hash:
            raise CheckpointFileError(f"shard {item.shard}: frontier does not fold to the signed root")
        current = starts.get(item.shard)
        if current is None or head.tree_size > current.tree_size:
            starts[item.shard] = ShardStart(head.tree_size, item.frontier, item.last_leaf_hash)
    return starts
