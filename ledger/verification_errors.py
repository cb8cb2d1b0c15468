"""One error type per failed verification check, each naming the shard and seq where it was found."""

from __future__ import annotations


class VerificationError(Exception):
    """Base of every failed check. `kind` is the stable name scripts and --json read."""

    kind = "problem"

    def __init__(self, shard: int, seq: int | None, detail: str) -> None:
        super().__init__(f"shard {shard} seq {seq}: {self.kind}: {detail}")
        self.shard = shard
        self.seq = seq
        self.detail = detail

    def __reduce__(self) -> tuple[type, tuple[int, int | None, str]]:
        """Reports cross process boundaries when shards are verified in parallel."""
        return (type(self), (self.shard, self.seq, self.detail))

    def diagnostics(self) -> str:
        where = f"shard {self.shard}" + (f", seq {self.seq}" if self.seq is not None else "")
        return f"{where}: {self.kind} — {self.detail}"

    def as_dict(self) -> dict[str, object]:
        return {"shard": self.shard, "seq": self.seq, "kind": self.kind, "detail": self.detail}


class MissingRecordError(VerificationError):
    """A seq in 0..n-1 (or below a published tree size) has no record."""

    kind = "missing"


class DuplicatedRecordError(VerificationError):
    """More than one record claims the same (shard, seq)."""

    kind = "duplicated"


class ModifiedRecordError(VerificationError):
    """The stored entry does not hash to its leaf, does not decode, or a column differs from the entry."""

    kind = "modified"


class ReorderedRecordError(VerificationError):
    """A record sits at a position it was not written at: its entry names another seq or shard,
    or its link to the previous leaf is broken."""

    kind = "reordered"


class LeafMismatchError(VerificationError):
    """ledger_leaves keeps no leaf, or another leaf, for a stored record: one of the two tables was altered."""

    kind = "leaf_mismatch"


class RecordDeletedError(VerificationError):
    """A record whose leaf is kept is gone before its tenant's retention ran out: deleted, not pruned."""

    kind = "deleted"


class RootMismatchError(VerificationError):
    """The Merkle root recomputed from the stored leaves differs from the root the stream published."""

    kind = "root_mismatch"


class MalformedCheckpointError(VerificationError):
    """A stored checkpoint does not decode or disagrees with its own columns."""

    kind = "malformed_checkpoint"


class CheckpointSignatureError(VerificationError):
    """No trusted key signed the checkpoint: an unknown signer, or a signature that does not check."""

    kind = "bad_signature"


class RevokedKeyError(VerificationError):
    """The checkpoint was signed by a trusted key at or after that key's revocation time."""

    kind = "revoked_key"


class CheckpointOrderError(VerificationError):
    """A larger tree head carries an earlier signing time than a smaller one (a backdated head)."""

    kind = "checkpoint_order"


class WitnessMismatchError(VerificationError):
    """The stored leaves no longer give the root an outside party witnessed: history was rewritten."""

    kind = "witness_mismatch"


class UnanchoredRecordsError(VerificationError):
    """Records after the last signed checkpoint: nothing signed vouches for them yet."""

    kind = "unanchored"


class ReplayedRecordError(VerificationError):
    """A stored record arrived again on audit.ledger at a later offset: someone with write access produced
    its (validly signed) bytes again. The detail names the original's offset and the replay's."""

    kind = "replayed"


class MisroutedRecordError(VerificationError):
    """A record arrived on an audit.ledger partition that is not its shard: produced there by hand."""

    kind = "misrouted"
