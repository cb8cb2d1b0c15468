"""Verifying one shard of the ledger from its stored rows and published checkpoints (pure, no I/O).

Checks, in order, for every row (numbering used in the code below):
  (1) position: seq runs 0..n-1, no gap, no second record at a seq
  (2) leaf: SHA-256(0x00 || entry) equals the stored leaf hash
  (3) placement: the entry's own shard and seq are the row's
  (4) columns: every queryable column equals what the entry says
  (5) chain: the entry's prev_leaf_hash is the leaf of seq - 1
  (6) roots: at each published tree size, the root over the recomputed leaves equals the published root
and, after the last row:
  (7) truncation: no published checkpoint is larger than the stored shard
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.ddl import RECORD_COLUMNS
from ledger.entry import ZERO_HASH, entry_leaf_hash
from ledger.merkle import CompactFrontier
from ledger.projection import differing_columns, record_row
from ledger.verification_errors import (
    DuplicatedRecordError,
    MissingRecordError,
    ModifiedRecordError,
    ReorderedRecordError,
    RootMismatchError,
    VerificationError,
)
from schemas import SchemaStore

SEQ = RECORD_COLUMNS.index("seq")
LEAF = RECORD_COLUMNS.index("leaf_hash")
ENTRY = RECORD_COLUMNS.index("entry")


@dataclass(frozen=True)
class PublishedRoot:
    tree_size: int
    root_hash: bytes


@dataclass
class ShardReport:
    shard: int
    records: int = 0
    tree_size: int = 0
    root_hash: bytes = b""
    checkpoints_checked: int = 0
    unanchored: int = 0
    problems: list[VerificationError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_first(self) -> None:
        if self.problems:
            raise self.problems[0]


class ShardVerifier:
    """Feed rows in (seq, leaf_hash) order with `add`, then `finish`. Memory stays O(log n)."""

    def __init__(self, shard: int, published: Iterable[PublishedRoot], store: SchemaStore) -> None:
        self.report = ShardReport(shard=shard)
        self._store = store
        self._published = sorted(published, key=lambda p: p.tree_size)
        self._next_published = 0
        self._frontier = CompactFrontier()
        self._expected = 0
        self._prev_leaf = ZERO_HASH
        self._prev_row: Sequence[Any] | None = None
        self._prev_flagged = False
        self._tree_intact = True

    def _flag(self, error: VerificationError) -> None:
        self.report.problems.append(error)

    def add(self, row: Sequence[Any]) -> None:
        shard, seq = self.report.shard, int(row[SEQ])
        self.report.records += 1
        # (1) position
        if seq < self._expected:
            same = self._prev_row is not None and tuple(row) == tuple(self._prev_row)
            detail = "an identical copy of the record" if same else "a second, different record at this position"
            self._flag(DuplicatedRecordError(shard, seq, detail))
            return
        if seq > self._expected:
            gap = seq - self._expected
            detail = f"{gap} record(s) absent: seq {self._expected}..{seq - 1}"
            self._flag(MissingRecordError(shard, self._expected, detail))
            self._tree_intact = False
            self._prev_flagged = True
        self._expected = seq + 1
        self._prev_row = row
        flagged = self._check_record(shard, seq, row)
        self._prev_flagged = flagged
        self._check_roots(shard)

    def _check_record(self, shard: int, seq: int, row: Sequence[Any]) -> bool:
        entry_bytes = bytes(row[ENTRY])
        leaf = entry_leaf_hash(entry_bytes)
        prev_flagged = self._prev_flagged
        if self._tree_intact:
            self._frontier.append(leaf)
        self._prev_leaf, expected_prev = leaf, self._prev_leaf
        # (2) leaf
        if leaf != bytes(row[LEAF]):
            self._flag(ModifiedRecordError(shard, seq, "stored entry does not hash to the stored leaf hash"))
            return True
        try:
            entry = self._store.decode(entry_bytes, reader="LedgerEntry")
        except Exception as exc:
            self._flag(ModifiedRecordError(shard, seq, f"entry does not decode: {exc}"))
            return True
        # (3) placement
        if entry["shard"] != shard or entry["seq"] != seq:
            detail = f"entry was written as shard {entry['shard']} seq {entry['seq']}"
            self._flag(ReorderedRecordError(shard, seq, detail))
            return True
        # (4) columns
        derived = record_row({"shard": shard, "seq": seq, "leaf_hash": leaf, "entry": entry_bytes}, entry)
        changed = differing_columns(row, derived)
        if changed:
            self._flag(ModifiedRecordError(shard, seq, f"column(s) differ from the hashed entry: {', '.join(changed)}"))
            return True
        # (5) chain
        if bytes(entry["prev_leaf_hash"]) != expected_prev and not prev_flagged:
            self._flag(ReorderedRecordError(shard, seq, "prev_leaf_hash does not match the leaf of seq - 1"))
            return True
        return False

    def _check_roots(self, shard: int) -> None:
        # (6) roots
        while self._next_published < len(self._published):
            published = self._published[self._next_published]
            if published.tree_size > self._frontier.size or not self._tree_intact:
                return
            self._next_published += 1
            if published.tree_size < self._frontier.size:
                continue  # a size already passed (duplicate checkpoint rows); compared when first reached
            self.report.checkpoints_checked += 1
            if self._frontier.root() != published.root_hash:
                self._flag(RootMismatchError(shard, published.tree_size - 1,
                                             f"root over the first {published.tree_size} stored leaves differs "
                                             "from the published checkpoint"))  # fmt: skip

    def finish(self) -> ShardReport:
        shard = self.report.shard
        # (7) truncation
        largest = self._published[-1].tree_size if self._published else 0
        if largest > self._expected:
            self._flag(MissingRecordError(shard, self._expected,
                                          f"checkpoint covers {largest} records but only seq < {self._expected} "
                                          "are stored"))  # fmt: skip
        self.report.tree_size = self._frontier.size
        self.report.root_hash = self._frontier.root()
        self.report.unanchored = max(0, self._expected - largest)
        return self.report


def verify_shard(
    shard: int, rows: Iterable[Sequence[Any]], published: Iterable[PublishedRoot], store: SchemaStore | None = None
) -> ShardReport:
    """Verify one shard; rows must come ordered by (seq, leaf_hash)."""
    verifier = ShardVerifier(shard, published, store or SchemaStore())
    for row in rows:
        verifier.add(row)
    return verifier.finish()
