"""Verifying one shard of the ledger from its stored rows and trusted roots (pure, no I/O).

The tree of a shard is over every leaf ledger_leaves keeps (records outlive nothing: retention prunes
records, never leaves). Checks, in order, for every seq (numbering used in the code below):
  (1) position: seq runs on from the start (0, or a trusted checkpoint), no gap, no second record or
      second, different kept leaf at a seq
  (2) leaf: SHA-256(0x00 || entry) equals the record's stored leaf hash
  (3) placement: the entry's own shard and seq are the row's
  (4) chain: the entry's prev_leaf_hash is the leaf of seq - 1 (the kept leaf when that record is pruned)
  (5) columns: every queryable column equals what the entry says (skipped with columns=False)
  (6) kept leaf: ledger_leaves keeps exactly the record's leaf hash at its seq
  (7) retention: a kept leaf may lack its record only once its tenant's retention has run out at `now`
      (then it is counted as pruned); otherwise the record was deleted
  (8) roots: at each trusted tree size (signed checkpoints, witnessed heads), the root over the
      recomputed leaves (kept leaves where the record is pruned) equals the trusted root
and, after the last leaf:
  (9) truncation: no trusted head is larger than the stored shard
  (10) anchoring: every record is under a signed checkpoint (unless unanchored records are allowed)

Checks (1)-(4), (6)-(8) read only the entry's fixed header, so they run at hashing speed; (5) decodes
every entry and is the expensive one. Without kept leaves (`kept=None`) the records alone are the tree
and (6)-(7) do not apply.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.checkpoint_checks import PublishedRoot
from ledger.ddl import RECORD_COLUMNS
from ledger.entry import ZERO_HASH
from ledger.merkle import LEAF_PREFIX, CompactFrontier
from ledger.projection import differing_columns, record_row
from ledger.retention import RetentionPolicy
from ledger.verification_errors import (
    DuplicatedRecordError,
    LeafMismatchError,
    MissingRecordError,
    ModifiedRecordError,
    RecordDeletedError,
    ReorderedRecordError,
    RootMismatchError,
    UnanchoredRecordsError,
    VerificationError,
    WitnessMismatchError,
)
from schemas import SchemaStore
from schemas.single_object import MAGIC

SEQ = RECORD_COLUMNS.index("seq")
LEAF = RECORD_COLUMNS.index("leaf_hash")
ENTRY = RECORD_COLUMNS.index("entry")
MAX_PROBLEMS = 1000  # per shard: enough to locate the damage without holding a million errors

# LedgerEntry's single-object header: magic, fingerprint, then shard (int), seq, source_offset,
# sequenced_at (longs, zig-zag varints), prev_leaf_hash (length 32 = varint 0x40, then the bytes).
_VARINT = rb"[\x80-\xff]*[\x00-\x7f]"


def header_pattern(fingerprint: bytes, shard: int) -> re.Pattern[bytes]:
    """Matches the header of an entry of this schema and shard; groups: seq varint, prev_leaf_hash."""
    fixed = re.escape(MAGIC + fingerprint + zigzag_varint(shard))
    return re.compile(fixed + b"(" + _VARINT + b")" + _VARINT * 2 + rb"\x40(.{32})", re.DOTALL)


def zigzag_varint(value: int) -> bytes:
    """Avro's encoding of an int or long."""
    n = (value << 1) ^ (value >> 63)
    if n < 0x4000:  # the common case, written out: seq below 8192
        return bytes((n,)) if n < 0x80 else bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _as_list(values: Sequence[Any]) -> list[Any]:
    return values if isinstance(values, list) else list(values)


def _differing(kept: Sequence[bytes], stored: Sequence[bytes]) -> set[int]:
    """Indexes where two aligned leaf columns differ (none, nearly always: one comparison in C)."""
    if _as_list(kept) == _as_list(stored):
        return set()
    return {i for i, (a, b) in enumerate(zip(kept, stored, strict=True)) if a != b}


@dataclass(frozen=True)
class ShardStart:
    """Where verification of a shard begins: the empty tree, or a checkpoint the auditor already trusts."""

    tree_size: int = 0
    frontier: tuple[bytes, ...] = ()
    last_leaf_hash: bytes = ZERO_HASH


@dataclass(frozen=True)
class KeptLeaves:
    """Rows of ledger_leaves, column-wise, ordered by (seq, leaf_hash); sequenced_at in µs since the epoch."""

    seqs: Sequence[int]
    leaves: Sequence[bytes]
    tenants: Sequence[str]
    sequenced_us: Sequence[int]


NO_KEPT_LEAVES = KeptLeaves((), (), (), ())


@dataclass
class ShardReport:
    shard: int
    start: int = 0
    records: int = 0
    pruned: int = 0
    tree_size: int = 0
    root_hash: bytes = b""
    checkpoints_checked: int = 0
    witnessed_checked: int = 0
    unanchored: int = 0
    problems: list[VerificationError] = field(default_factory=list)
    problems_omitted: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class ShardVerifier:
    """Feed rows ordered by (seq, leaf_hash) with `add_block` (or `add`), then `finish`. Memory is O(log n)."""

    def __init__(
        self,
        shard: int,
        trusted_roots: Iterable[PublishedRoot],
        store: SchemaStore,
        *,
        start: ShardStart | None = None,
        columns: bool = True,
        allow_unanchored: bool = False,
        retention: RetentionPolicy | None = None,
        now: datetime | None = None,
    ) -> None:
        """`retention` and `now` judge kept leaves without a record (7); without them every one is deleted."""
        start = start or ShardStart()
        self.report = ShardReport(shard=shard, start=start.tree_size)
        self._store = store
        self._columns = columns
        self._allow_unanchored = allow_unanchored
        self._roots = sorted((r for r in trusted_roots if r.tree_size > start.tree_size), key=lambda r: r.tree_size)
        self._next_root = 0
        self._frontier = CompactFrontier.from_hashes(start.tree_size, list(start.frontier))
        self._pending: list[bytes] = []
        self._expected = start.tree_size
        self._prev_leaf = start.last_leaf_hash
        self._prev_row: tuple[Any, ...] | None = None
        self._prev_flagged = False
        self._tree_intact = True
        self._retention = retention
        self._now = now
        self._header = header_pattern(store.schema("LedgerEntry").fingerprint, shard).match

    def _flag(self, error: VerificationError) -> None:
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(error)
        else:
            self.report.problems_omitted += 1

    def add(self, row: Sequence[Any]) -> None:
        """One row in RECORD_COLUMNS order."""
        self.add_block([row[SEQ]], [row[LEAF]], [row[ENTRY]], [row] if self._columns else None)

    def add_block(
        self,
        seqs: Sequence[int],
        leaves: Sequence[bytes],
        entries: Sequence[bytes],
        rows: Sequence[Sequence[Any]] | None = None,
        kept: KeptLeaves | None = None,
    ) -> None:
        """Rows given column-wise; `rows` (RECORD_COLUMNS order) are needed only for the column check (5).
        `kept`: the ledger_leaves rows with seq up to this block's last seq (all that remain, with a final
        block of no records); None when there is no ledger_leaves and the records alone are the tree.

        The hot loop keeps its state in locals and writes it back at the end (or before a slow path)."""
        shard = self.report.shard
        sha256, prefix, header, varint = hashlib.sha256, LEAF_PREFIX, self._header, zigzag_varint
        pending = self._pending
        expected, prev_leaf, prev_flagged = self._expected, self._prev_leaf, self._prev_flagged
        next_root = self._roots[self._next_root].tree_size if self._next_root < len(self._roots) else -1
        accepted = 0
        last = -1
        # Usually ledger_leaves holds exactly this block's seqs (nothing pruned here): then (6) is one list
        # comparison in C and the loop does not merge; otherwise it merges the two by seq.
        aligned = kept is not None and _as_list(kept.seqs) == _as_list(seqs)
        mismatched = _differing(kept.leaves, leaves) if kept is not None and aligned else set()
        merging = kept is not None and not aligned
        kept = kept or NO_KEPT_LEAVES
        kept_seqs, kept_leaves, n_kept, k = kept.seqs, kept.leaves, len(kept.seqs) if merging else 0, 0
        kept_leaf = None
        for i, seq in enumerate(seqs):
            entry = entries[i]
            if merging:
                if k < n_kept and kept_seqs[k] < seq:  # kept leaves whose records are absent: slow path
                    self._expected, self._prev_leaf, self._prev_flagged = expected, prev_leaf, prev_flagged
                    k = self._leaves_without_records(kept, k, seq)
                    expected, prev_leaf, prev_flagged = self._expected, self._prev_leaf, self._prev_flagged
                    next_root = self._roots[self._next_root].tree_size if self._next_root < len(self._roots) else -1
                if k < n_kept and kept_seqs[k] == seq:
                    kept_leaf = kept_leaves[k]
                    k += 1
                else:
                    kept_leaf = None
            # (1) position
            if seq != expected:
                if seq < expected:
                    previous = self._row_at(last, seqs, leaves, entries)
                    same = (seq, bytes(leaves[i]), bytes(entry)) == previous
                    detail = "an identical copy of the record" if same else "a second, different record at this seq"
                    self._flag(DuplicatedRecordError(shard, seq, detail))
                    continue
                self._flag(MissingRecordError(shard, expected, f"{seq - expected} record(s) absent: "
                                              f"seq {expected}..{seq - 1}"))  # fmt: skip
                self._tree_intact = False
                next_root = -1
                prev_flagged = True
            expected = seq + 1
            accepted += 1
            last = i
            leaf = sha256(prefix + entry).digest()
            if self._tree_intact:
                pending.append(leaf)
            expected_prev, prev_leaf = prev_leaf, leaf
            # (2) leaf
            if leaf != leaves[i]:
                self._flag(ModifiedRecordError(shard, seq, "stored entry does not hash to the stored leaf hash"))
                prev_flagged = True
            else:
                m = header(entry)
                # (3) placement
                if m is None or m[1] != varint(seq):
                    prev_flagged = self._check_decoded(seq, bytes(entry), expected_prev, prev_flagged) or (
                        rows is not None and not self._columns_match(seq, rows[i], bytes(entry))
                    )
                # (4) chain
                elif m[2] != expected_prev and not prev_flagged:
                    self._flag(ReorderedRecordError(shard, seq, "prev_leaf_hash does not match the leaf of seq - 1"))
                    prev_flagged = True
                # (5) columns
                else:
                    prev_flagged = rows is not None and not self._columns_match(seq, rows[i], bytes(entry))
            # (6) kept leaf
            if (kept_leaf != leaves[i]) if merging else (mismatched and i in mismatched):
                what = "another leaf hash for this seq" if kept_leaf or not merging else "no leaf for this record"
                self._flag(LeafMismatchError(shard, seq, f"ledger_leaves keeps {what}"))
            if expected == next_root:
                self._expected = expected
                self._check_roots()
                next_root = self._roots[self._next_root].tree_size if self._next_root < len(self._roots) else -1
        self._expected, self._prev_leaf, self._prev_flagged = expected, prev_leaf, prev_flagged
        self.report.records += accepted
        if last >= 0:
            self._prev_row = (seqs[last], bytes(leaves[last]), bytes(entries[last]))
        if k < n_kept:
            self._leaves_without_records(kept, k, None)
        self._flush()

    def _leaves_without_records(self, kept: KeptLeaves, k: int, below: int | None) -> int:
        """Kept leaves from index k with seq below `below` (all if None), whose records are absent: a second
        kept leaf at a seq already seen, or a record pruned or deleted. Returns the index of the next one."""
        shard = self.report.shard
        while k < len(kept.seqs) and (below is None or kept.seqs[k] < below):
            seq, leaf = kept.seqs[k], bytes(kept.leaves[k])
            k += 1
            # (1) position
            if seq < self._expected:
                if seq != self._expected - 1 or leaf != self._prev_leaf:
                    self._flag(DuplicatedRecordError(shard, seq, "a second, different leaf kept for this seq"))
                continue  # an identical copy of a kept leaf says nothing new
            if seq > self._expected:
                self._flag(MissingRecordError(shard, self._expected, f"{seq - self._expected} leaf/leaves and "
                                              f"record(s) absent: seq {self._expected}..{seq - 1}"))  # fmt: skip
                self._tree_intact = False
            # (7) retention
            self._judge_absent_record(seq, kept.tenants[k - 1], int(kept.sequenced_us[k - 1]))
            self._expected, self._prev_leaf, self._prev_flagged = seq + 1, leaf, False
            if self._tree_intact:
                self._pending.append(leaf)
            if self._next_root < len(self._roots) and self._roots[self._next_root].tree_size == self._expected:
                self._check_roots()
        return k

    def _judge_absent_record(self, seq: int, tenant: str, sequenced_us: int) -> None:
        policy, now = self._retention, self._now
        if policy is not None and now is not None and policy.expired(tenant, sequenced_us, now):
            self.report.pruned += 1
            return
        sequenced_at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=sequenced_us)
        if policy is None or now is None:
            why = "no retention policy was given to judge it by"
        else:
            why = (f"its retention ({policy.days_for(tenant)} days) runs until "
                   f"{policy.expires_at(tenant, sequenced_at).isoformat()}")  # fmt: skip
        self._flag(RecordDeletedError(shard=self.report.shard, seq=seq, detail=f"the record of tenant {tenant!r} "
                                      f"sequenced at {sequenced_at.isoformat()} is gone, but {why}"))  # fmt: skip

    def _row_at(self, index: int, seqs: Sequence[int], leaves: Sequence[bytes], entries: Sequence[bytes]) -> Any:
        if index < 0:
            return self._prev_row
        return (seqs[index], bytes(leaves[index]), bytes(entries[index]))

    def _flush(self) -> None:
        if self._pending:
            self._frontier.extend(self._pending)
            self._pending.clear()

    def _check_decoded(self, seq: int, entry: bytes, expected_prev: bytes, prev_flagged: bool) -> bool:
        """Slow path: an entry under another schema version, or one whose header names another place.
        Returns whether this row was flagged."""
        shard = self.report.shard
        try:
            decoded = self._store.decode(entry, reader="LedgerEntry")
        except Exception as exc:
            self._flag(ModifiedRecordError(shard, seq, f"entry does not decode: {exc}"))
            return True
        if decoded["shard"] != shard or decoded["seq"] != seq:
            self._flag(ReorderedRecordError(shard, seq, f"entry was written as shard {decoded['shard']} "
                                            f"seq {decoded['seq']}"))  # fmt: skip
            return True
        if bytes(decoded["prev_leaf_hash"]) != expected_prev and not prev_flagged:
            self._flag(ReorderedRecordError(shard, seq, "prev_leaf_hash does not match the leaf of seq - 1"))
            return True
        return False

    def _columns_match(self, seq: int, row: Sequence[Any], entry: bytes) -> bool:
        decoded = self._store.decode(entry, reader="LedgerEntry")
        record = {"shard": self.report.shard, "seq": seq, "leaf_hash": row[LEAF], "entry": entry}
        changed = differing_columns(row, record_row(record, decoded))
        if changed:
            self._flag(ModifiedRecordError(self.report.shard, seq, "column(s) differ from the hashed entry: "
                                           + ", ".join(changed)))  # fmt: skip
        return not changed

    def _check_roots(self) -> None:
        # (8) roots
        self._flush()
        shard = self.report.shard
        while self._next_root < len(self._roots):
            trusted = self._roots[self._next_root]
            if trusted.tree_size > self._frontier.size or not self._tree_intact:
                return
            self._next_root += 1
            if trusted.tree_size < self._frontier.size:
                continue  # unreachable in order; kept so a root is never silently compared at the wrong size
            if trusted.source == "witness":
                self.report.witnessed_checked += 1
            else:
                self.report.checkpoints_checked += 1
            if self._frontier.root() == trusted.root_hash:
                continue
            if trusted.source == "witness":
                self._flag(WitnessMismatchError(shard, trusted.tree_size - 1, f"root over the first "
                           f"{trusted.tree_size} stored leaves differs from the witnessed head: the history "
                           "before it was rewritten"))  # fmt: skip
            else:
                self._flag(RootMismatchError(shard, trusted.tree_size - 1, f"root over the first "
                           f"{trusted.tree_size} stored leaves differs from the signed checkpoint"))  # fmt: skip

    def finish(self) -> ShardReport:
        self._flush()
        self._check_roots()
        shard, report = self.report.shard, self.report
        # (9) truncation
        largest = self._roots[-1].tree_size if self._roots else 0
        if largest > self._expected:
            source = "witnessed head" if self._roots[-1].source == "witness" else "signed checkpoint"
            self._flag(MissingRecordError(shard, self._expected, f"a {source} covers {largest} records but only "
                                          f"seq < {self._expected} are stored"))  # fmt: skip
        anchored = max([report.start, *(r.tree_size for r in self._roots if r.source == "checkpoint")])
        report.tree_size = self._frontier.size
        report.root_hash = self._frontier.root()
        report.unanchored = max(0, self._expected - anchored)
        # (10) anchoring
        if report.unanchored and not self._allow_unanchored:
            self._flag(UnanchoredRecordsError(shard, anchored, f"{report.unanchored} record(s) from seq {anchored} "
                                              "on are under no signed checkpoint"))  # fmt: skip
        return report


def verify_shard(
    shard: int,
    rows: Iterable[Sequence[Any]],
    trusted_roots: Iterable[PublishedRoot],
    store: SchemaStore | None = None,
    **options: Any,
) -> ShardReport:
    """Verify one shard; rows in RECORD_COLUMNS order, ordered by (seq, leaf_hash)."""
    verifier = ShardVerifier(shard, trusted_roots, store or SchemaStore(), **options)
    for row in rows:
        verifier.add(row)
    return verifier.finish()
