"""Which stored checkpoints a verifier may use as published roots (pure, no I/O).

For every stored checkpoint of a shard, in order:
  (c1) note: the text parses as a C2SP signed-note whose body is a tree head
  (c2) origin: the tree head names this log and this shard
  (c3) columns: the row's tree_size and root_hash are the ones the note signs
  (c4) signature: a trusted key signed it, and was not revoked at the head's signing time
and across them:
  (c5) order: a larger tree head is never signed earlier than a smaller one
Only checkpoints that pass (c1)-(c4) become roots the records are compared against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ledger.signed_note import MalformedNoteError, SignedNote
from ledger.tree_head import MalformedTreeHeadError, TreeHead, shard_origin
from ledger.trusted_keys import TrustedKey, judge_note
from ledger.verification_errors import (
    CheckpointOrderError,
    CheckpointSignatureError,
    MalformedCheckpointError,
    RevokedKeyError,
    VerificationError,
)


@dataclass(frozen=True)
class StoredCheckpoint:
    """A row of ledger_checkpoints, as untrusted as any other stored row."""

    shard: int
    tree_size: int
    root_hash: bytes
    note: str


@dataclass(frozen=True)
class PublishedRoot:
    """A root the stored leaves must reproduce at `tree_size`; `source` says who vouched for it."""

    tree_size: int
    root_hash: bytes
    signed_at: datetime | None = None
    source: str = "checkpoint"
    signed_by: tuple[str, ...] = ()


def trusted_head(note_text: str, trusted: Iterable[TrustedKey], shard: int, log_origin: str) -> PublishedRoot:
    """Checks (c1), (c2) and (c4) on one note; raises the VerificationError of the first that fails."""
    # (c1) note
    try:
        note = SignedNote.parse(note_text)
        head = TreeHead.parse(note.body)
    except (MalformedNoteError, MalformedTreeHeadError) as exc:
        raise MalformedCheckpointError(shard, None, f"note does not parse: {exc}") from exc
    # (c2) origin
    want = shard_origin(log_origin, shard)
    if head.origin != want:
        raise MalformedCheckpointError(shard, None, f"note for size {head.tree_size} names origin "
                                       f"{head.origin!r}, want {want!r}")  # fmt: skip
    # (c4) signature
    verdict = judge_note(note, trusted, head.signed_at)
    if verdict.revoked and not verdict.accepted:
        names = ", ".join(k.key.key_id.hex() for k in verdict.revoked)
        raise RevokedKeyError(shard, None, f"head of size {head.tree_size} signed at {head.signed_at.isoformat()} "
                              f"by key {names}, after its revocation")  # fmt: skip
    if verdict.revoked:
        names = ", ".join(k.key.key_id.hex() for k in verdict.revoked)
        raise RevokedKeyError(shard, None, f"head of size {head.tree_size} also carries a signature by revoked "
                              f"key {names} made after its revocation")  # fmt: skip
    if not verdict.accepted:
        signers = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        raise CheckpointSignatureError(shard, None, f"head of size {head.tree_size}: no trusted key's signature "
                                       f"checks (signed by {signers})")  # fmt: skip
    return PublishedRoot(head.tree_size, head.root_hash, head.signed_at, "checkpoint",
                         tuple(k.key.key_id.hex() for k in verdict.accepted))  # fmt: skip


def published_roots(
    shard: int, stored: Sequence[StoredCheckpoint], trusted: Sequence[TrustedKey], log_origin: str
) -> tuple[list[PublishedRoot], list[VerificationError]]:
    """The shard's usable roots, ordered by size, and a problem for each checkpoint that failed."""
    roots: list[PublishedRoot] = []
    problems: list[VerificationError] = []
    for row in sorted(stored, key=lambda r: (r.tree_size, r.root_hash)):
        try:
            head = trusted_head(row.note, trusted, shard, log_origin)
        except VerificationError as problem:
            problems.append(problem)
            continue
        # (c3) columns
        if (head.tree_size, head.root_hash) != (row.tree_size, row.root_hash):
            problems.append(MalformedCheckpointError(shard, None, f"row says size {row.tree_size}, its signed note "
                                                     f"says size {head.tree_size} with another root"))  # fmt: skip
            continue
        roots.append(head)
    # (c5) order
    latest: PublishedRoot | None = None
    for head in roots:
        assert head.signed_at is not None
        if latest is not None and latest.signed_at is not None and head.signed_at < latest.signed_at:
            if head.tree_size > latest.tree_size:
                problems.append(CheckpointOrderError(shard, head.tree_size - 1, f"head of size {head.tree_size} "
                                f"is signed at {head.signed_at.isoformat()}, before the head of size "
                                f"{latest.tree_size} ({latest.signed_at.isoformat()})"))  # fmt: skip
        if latest is None or latest.signed_at is None or head.signed_at >= latest.signed_at:
            latest = head
    return roots, problems
