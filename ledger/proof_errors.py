"""Why a single-event inclusion proof (a proof bundle) failed: one error type per failed check.

The checklist is numbered here and only here (CHECKS); every error names its check number and a `kind`
so an auditor's report, a script reading `verify-proof --json` and the code all say the same thing.
None of these derive from ValueError: a caller catches ProofError and knows the bundle did not prove.
"""

from __future__ import annotations

from typing import Any, ClassVar

CHECKS: dict[int, str] = {
    1: "canonical bundle",
    2: "checkpoint signature",
    3: "checkpoint covers the leaf",
    4: "leaf hash",
    5: "record",
    6: "inclusion proof",
}
CHECK_DETAILS: dict[int, str] = {
    1: "the file is byte for byte the canonical bundle; any changed byte fails",
    2: "a trusted key, not revoked at the checkpoint's own time, signed it",
    3: "the checkpoint is for this shard and tree size; the leaf index lies inside",
    4: "SHA-256(0x00 || record bytes) equals the leaf hash",
    5: "the record bytes decode to the claimed shard, seq, event id and readable view",
    6: "the audit path leads from the leaf to the signed root",
}


class ProofError(Exception):
    """Base of every failed check on a proof bundle; `check` and `kind` say which one."""

    check: ClassVar[int] = 0
    kind: ClassVar[str] = "proof_error"
    hint: ClassVar[str] = ""

    @property
    def check_name(self) -> str:
        return CHECKS.get(self.check, "unknown")

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "check_name": self.check_name, "kind": self.kind, "message": str(self)}

    def diagnostics(self) -> str:
        """A few lines for people: which check, what was found, what it may mean."""
        lines = [f"check ({self.check}) {self.check_name} failed [{self.kind}]: {self}"]
        if self.hint:
            lines.append(f"  {self.hint}")
        return "\n".join(lines)


class MalformedBundleError(ProofError):
    check = 1
    kind = "malformed_bundle"
    hint = "The file is not a proof bundle auditledger writes: it was damaged or edited."


class NonCanonicalBundleError(MalformedBundleError):
    kind = "non_canonical"
    hint = "The bundle parses but is not byte for byte the canonical form: some byte was changed."


class MalformedCheckpointError(ProofError):
    check = 2
    kind = "malformed_checkpoint"
    hint = "The checkpoint is not a signed tree head in the C2SP signed-note format."


class UntrustedCheckpointError(ProofError):
    check = 2
    kind = "untrusted_signature"
    hint = "No key you trust signed this checkpoint (wrong key given, or the checkpoint was forged or altered)."


class RevokedKeyError(ProofError):
    check = 2
    kind = "revoked_key"
    hint = "The only trusted signatures were made by keys at or after their revocation time."


class CheckpointMismatchError(ProofError):
    check = 3
    kind = "checkpoint_mismatch"
    hint = "The checkpoint is for another shard or tree size, or the leaf index lies outside it."


class LeafHashMismatchError(ProofError):
    check = 4
    kind = "leaf_mismatch"
    hint = "The record's bytes are not the ones the leaf hash commits to."


class MalformedEntryError(ProofError):
    check = 5
    kind = "malformed_entry"
    hint = "The hashed bytes are not a LedgerEntry this verifier can decode."


class RecordMismatchError(ProofError):
    check = 5
    kind = "record_mismatch"
    hint = "The bundle claims something about the record that its hashed bytes do not say."


class MalformedProofError(ProofError):
    check = 6
    kind = "malformed_proof"
    hint = "The audit path has the wrong length or hash widths for this leaf index and tree size."


class RootMismatchError(ProofError):
    check = 6
    kind = "root_mismatch"
    hint = "The leaf, its audit path, the index or the size was altered: the path does not reach the signed root."

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        self.expected = bytes(expected)
        self.calculated = bytes(calculated)
        super().__init__(f"root calculated {self.calculated.hex()}, want the checkpoint's {self.expected.hex()}")


__all__ = [
    "CHECKS",
    "CHECK_DETAILS",
    "CheckpointMismatchError",
    "LeafHashMismatchError",
    "MalformedBundleError",
    "MalformedCheckpointError",
    "MalformedEntryError",
    "MalformedProofError",
    "NonCanonicalBundleError",
    "ProofError",
    "RecordMismatchError",
    "RevokedKeyError",
    "RootMismatchError",
    "UntrustedCheckpointError",
]
