"""One shard's writer state: next seq, last leaf, Merkle frontier and the last input consumed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.entry import ABSENT_IDENTITY, NOTHING_MASKED, ZERO_HASH, encode_entry, entry_leaf_hash
from ledger.merkle import CompactFrontier
from ledger.signed_note import NoteSigner, SignedNote
from ledger.tree_head import TreeHead, shard_origin
from schemas import SchemaStore


@dataclass
class ShardChain:
    """Append-only writer for one shard; pure, so recovery and tests drive it directly.

    Invariant: seq == frontier.size before each append, and `last_leaf_hash` is the leaf of seq - 1.
    """

    shard: int
    frontier: CompactFrontier = field(default_factory=CompactFrontier)
    last_leaf_hash: bytes = ZERO_HASH
    last_source_offset: int = -1
    last_approval_offset: int = -1  # audit.approvals, partition = shard
    checkpointed_size: int = 0
    checkpointed_offset: int = -1
    checkpointed_approval_offset: int = -1
    last_checkpoint_at: float = 0.0

    @property
    def next_seq(self) -> int:
        return self.frontier.size

    def already_consumed(self, source_offset: int, source_topic: str = "events") -> bool:
        """A redelivered input (at or before what this shard has written) must not become a second entry."""
        last = self.last_approval_offset if source_topic == "approvals" else self.last_source_offset
        return source_offset <= last

    def _consumed(self, source_offset: int, source_topic: str) -> None:
        if source_topic == "approvals":
            self.last_approval_offset = max(self.last_approval_offset, source_offset)
        else:
            self.last_source_offset = max(self.last_source_offset, source_offset)

    def append(
        self,
        store: SchemaStore,
        event: Mapping[str, Any],
        source_offset: int,
        now: datetime,
        identity: Mapping[str, Any] = ABSENT_IDENTITY,
        masking: Mapping[str, Any] = NOTHING_MASKED,
        source_topic: str = "events",
        approval: Mapping[str, Any] | None = None,
    ) -> tuple[int, bytes, bytes]:
        """Sequence one admitted (masked) event; returns (seq, leaf hash, LedgerRecord message bytes)."""
        seq = self.frontier.size
        entry = encode_entry(
            store,
            shard=self.shard,
            seq=seq,
            source_offset=source_offset,
            sequenced_at=now,
            prev_leaf_hash=self.last_leaf_hash,
            event=event,
            identity=identity,
            masking=masking,
            source_topic=source_topic,
            approval=approval,
        )
        leaf = entry_leaf_hash(entry)
        self.frontier.append(leaf)
        self.last_leaf_hash = leaf
        self._consumed(source_offset, source_topic)
        record = store.encode("LedgerRecord", {"shard": self.shard, "seq": seq, "leaf_hash": leaf, "entry": entry})
        return seq, leaf, record

    def consume_without_entry(self, source_offset: int, source_topic: str = "events") -> None:
        """Record that an input was handled elsewhere (dead-lettered), so a restart does not redo it."""
        self._consumed(source_offset, source_topic)

    def checkpoint_due(self, now_s: float, every_records: int, every_ms: int, idle: bool) -> bool:
        pending = self.frontier.size - self.checkpointed_size
        consumed = (self.last_source_offset, self.last_approval_offset) != (
            self.checkpointed_offset,
            self.checkpointed_approval_offset,
        )
        if not pending and not consumed:
            return False
        return idle or pending >= every_records or (now_s - self.last_checkpoint_at) * 1000 >= every_ms

    def checkpoint(
        self, store: SchemaStore, log_origin: str, now: datetime, now_s: float, signers: Sequence[NoteSigner]
    ) -> bytes:
        """The signed Checkpoint message for the current tree head, carrying what a restart resumes from."""
        origin = shard_origin(log_origin, self.shard)
        size = self.frontier.size
        root = self.frontier.root()
        note = SignedNote.sign(TreeHead(origin, size, root, now).body(), signers)
        message = store.encode(
            "Checkpoint",
            {
                "origin": origin,
                "shard": self.shard,
                "tree_size": size,
                "root_hash": root,
                "last_leaf_hash": self.last_leaf_hash,
                "frontier": list(self.frontier.hashes),
                "last_source_offset": self.last_source_offset,
                "last_approval_offset": self.last_approval_offset,
                "created_at": now,
                "note": note.text(),
            },
        )
        self.checkpointed_size = size
        self.checkpointed_offset = self.last_source_offset
        self.checkpointed_approval_offset = self.last_approval_offset
        self.last_checkpoint_at = now_s
        return message

    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any]) -> ShardChain:
        size = int(checkpoint["tree_size"])
        return cls(
            shard=int(checkpoint["shard"]),
            frontier=CompactFrontier.from_hashes(size, list(checkpoint["frontier"])),
            last_leaf_hash=bytes(checkpoint["last_leaf_hash"]),
            last_source_offset=int(checkpoint["last_source_offset"]),
            last_approval_offset=int(checkpoint.get("last_approval_offset", -1)),
            checkpointed_size=size,
            checkpointed_offset=int(checkpoint["last_source_offset"]),
            checkpointed_approval_offset=int(checkpoint.get("last_approval_offset", -1)),
        )

    def replay_written(self, seq: int, leaf: bytes, source_offset: int, source_topic: str = "events") -> None:
        """Fold in a record found in the output after the last checkpoint (recovery only)."""
        if seq != self.frontier.size:
            raise RecoveryGapError(self.shard, seq, self.frontier.size)
        self.frontier.append(leaf)
        self.last_leaf_hash = leaf
        self._consumed(source_offset, source_topic)


class RecoveryGapError(RuntimeError):
    """The shard's own output is not contiguous, so resuming would hide a gap: refuse to write."""

    def __init__(self, shard: int, got: int, want: int) -> None:
        super().__init__(f"shard {shard}: output has seq {got} where seq {want} was expected")
        self.shard = shard
