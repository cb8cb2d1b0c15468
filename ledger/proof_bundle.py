"""Single-event inclusion proofs as one self-contained file (a proof bundle), and their offline check.

Pure: no I/O. A bundle is canonical JSON (sorted keys, no spaces, UTF-8, one trailing newline)::

    checkpoint       the shard's signed tree head, C2SP signed-note text (see ledger.tree_head)
    event_id         the event's UUID, lowercase
    shard            the shard (= Merkle log) holding the event
    leaf_index       the leaf's position in that log (= the entry's seq)
    tree_size        the checkpoint's size
    leaf_hash        base64 of SHA-256(0x00 || entry)
    inclusion_proof  base64 hashes of the RFC 9162 audit path from the leaf to the checkpoint's root
    record           {"entry": base64 of the exact hashed bytes, ...the decoded entry, readable}

It proves that this record is leaf `leaf_index` of the tree whose root a trusted key signed. It does not
prove that the log holds nothing else about the same event, nor that no other event was left out: that is
what `auditledger verify` over the whole store (and consistency between checkpoints) is for.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.merkle import HASH_SIZE, MerkleError, leaf_hash, root_from_inclusion_proof
from ledger.proof_errors import (
    CheckpointMismatchError,
    LeafHashMismatchError,
    MalformedBundleError,
    MalformedCheckpointError,
    MalformedEntryError,
    MalformedProofError,
    NonCanonicalBundleError,
    RecordMismatchError,
    RevokedKeyError,
    RootMismatchError,
    UntrustedCheckpointError,
)
from ledger.signed_note import MalformedNoteError, SignedNote
from ledger.tree_head import TIME_FORMAT, MalformedTreeHeadError, TreeHead
from ledger.trusted_keys import TrustedKey, format_time, judge_note
from schemas import DecodeError, FramingError, SchemaStore, UnknownSchemaError

BUNDLE_KEYS = frozenset(
    {"event_id", "shard", "leaf_index", "tree_size", "leaf_hash", "inclusion_proof", "checkpoint", "record"}
)
ENTRY_KEY = "entry"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _readable(value: Any) -> Any:
    """JSON-able form of a decoded Avro value: UUIDs as text, times RFC 3339 UTC (microseconds), bytes base64."""
    if isinstance(value, Mapping):
        return {str(k): _readable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_readable(v) for v in value]
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime(TIME_FORMAT)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _b64(bytes(value))
    return value


def _decode_entry(entry: bytes, store: SchemaStore) -> dict[str, Any]:
    try:
        return store.decode(entry, reader="LedgerEntry")
    except (FramingError, UnknownSchemaError, DecodeError) as exc:
        raise MalformedEntryError(f"entry does not decode as a LedgerEntry: {exc}") from exc


def entry_view(decoded: Mapping[str, Any]) -> dict[str, Any]:
    """The readable view of a decoded LedgerEntry that a bundle's `record` carries beside the entry bytes."""
    if ENTRY_KEY in decoded:  # would collide with the bytes; a schema change must rename one of them
        raise MalformedEntryError(f"a LedgerEntry field is named {ENTRY_KEY!r}")
    return _readable(decoded)


def build_bundle(
    *,
    event_id: str,
    shard: int,
    leaf_index: int,
    tree_size: int,
    leaf_hash: bytes,
    inclusion_proof: Sequence[bytes],
    checkpoint_note: str,
    entry: bytes,
    store: SchemaStore,
) -> dict[str, Any]:
    """Assemble a bundle; it checks nothing (run `check_bundle` on its text before handing it out)."""
    return {
        "event_id": str(event_id),
        "shard": shard,
        "leaf_index": leaf_index,
        "tree_size": tree_size,
        "leaf_hash": _b64(leaf_hash),
        "inclusion_proof": [_b64(h) for h in inclusion_proof],
        "checkpoint": checkpoint_note,
        "record": {ENTRY_KEY: _b64(entry), **entry_view(_decode_entry(entry, store))},
    }


def bundle_text(bundle: Mapping[str, Any]) -> str:
    """The canonical form: one serialization per bundle, so any changed byte is detectable."""
    return json.dumps(bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class ParsedBundle:
    """A bundle that passed check (1): canonical text, every field of the right type and width."""

    event_id: str
    shard: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str
    entry: bytes
    view: dict[str, Any]


@dataclass(frozen=True)
class VerifiedInclusion:
    """What a verified bundle proves: this record is leaf `leaf_index` under a trusted signed tree head."""

    event_id: str
    shard: int
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    origin: str
    checkpoint_time: datetime
    signed_by: tuple[str, ...]
    record: dict[str, Any]


def _field(raw: Mapping[str, Any], key: str, kind: type) -> Any:
    value = raw[key]
    if type(value) is not kind:  # `type is`, so that true/false never pass as 1/0
        raise MalformedBundleError(f"{key} must be {kind.__name__}, got {type(value).__name__}")
    if kind is int and value < 0:
        raise MalformedBundleError(f"{key} must be >= 0, got {value}")
    return value


def _unbase64(value: Any, what: str, size: int | None = None) -> bytes:
    if type(value) is not str:
        raise MalformedBundleError(f"{what} must be a base64 string, got {type(value).__name__}")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MalformedBundleError(f"{what} is not standard base64") from exc
    if _b64(raw) != value:
        raise NonCanonicalBundleError(f"{what} is not canonical base64 (padding bits or padding changed)")
    if size is not None and len(raw) != size:
        raise MalformedBundleError(f"wrong {what} size {len(raw)}, want {size}")
    return raw


def parse_bundle(text: str | bytes) -> ParsedBundle:
    """Check (1): the text parses, has exactly the bundle's fields, and is byte for byte its canonical form."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedBundleError(f"not UTF-8 JSON: {exc}") from exc
    if not isinstance(raw, dict) or set(raw) != BUNDLE_KEYS:
        got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise MalformedBundleError(f"want an object with keys {sorted(BUNDLE_KEYS)}, got {got}")
    if bundle_text(raw) != text:
        raise NonCanonicalBundleError("the text differs from the canonical serialization of what it contains")
    event_id = _field(raw, "event_id", str)
    try:
        canonical_id = str(uuid.UUID(event_id))
    except ValueError as exc:
        raise MalformedBundleError(f"event_id {event_id[:40]!r} is not a UUID") from exc
    if canonical_id != event_id:
        raise NonCanonicalBundleError(f"event_id {event_id!r} is not in canonical form {canonical_id!r}")
    proof = _field(raw, "inclusion_proof", list)
    record = _field(raw, "record", dict)
    if ENTRY_KEY not in record:
        raise MalformedBundleError(f"record has no {ENTRY_KEY!r}")
    return ParsedBundle(
        event_id=event_id,
        shard=_field(raw, "shard", int),
        leaf_index=_field(raw, "leaf_index", int),
        tree_size=_field(raw, "tree_size", int),
        leaf_hash=_unbase64(raw["leaf_hash"], "leaf_hash", HASH_SIZE),
        inclusion_proof=tuple(_unbase64(h, f"inclusion_proof[{i}]", HASH_SIZE) for i, h in enumerate(proof)),
        checkpoint=_field(raw, "checkpoint", str),
        entry=_unbase64(record[ENTRY_KEY], "record.entry"),
        view={k: v for k, v in record.items() if k != ENTRY_KEY},
    )


def parse_checkpoint(text: str) -> tuple[SignedNote, TreeHead]:
    """A checkpoint's signed note and the tree head in its body; says nothing yet about who signed it."""
    try:
        note = SignedNote.parse(text)
        return note, TreeHead.parse(note.body)
    except (MalformedNoteError, MalformedTreeHeadError) as exc:
        raise MalformedCheckpointError(str(exc)) from exc


def _trusted_signers(note: SignedNote, head: TreeHead, trusted: Sequence[TrustedKey]) -> tuple[TrustedKey, ...]:
    verdict = judge_note(note, trusted, head.signed_at)
    if verdict.accepted:
        return verdict.accepted
    stamp = format_time(head.signed_at)
    if verdict.revoked:
        revoked = ", ".join(
            f"{k.key.name} (revoked at {format_time(k.revoked_at)})" for k in verdict.revoked if k.revoked_at
        )
        raise RevokedKeyError(f"checkpoint time {stamp} is not before the revocation of {revoked}")
    signers = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
    known = ", ".join(f"{k.key.name}+{k.key.key_id.hex()}" for k in trusted) or "none"
    raise UntrustedCheckpointError(
        f"no valid signature by a trusted key; signature lines by {signers}; trusted: {known}"
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _check_inclusion(bundle: ParsedBundle, head: TreeHead, store: SchemaStore) -> None:
    """Checks (3) to (6), against a tree head that check (2) has vouched for (or that `check_bundle` parsed)."""
    # (3) the checkpoint covers the leaf: origin names the shard, sizes agree, the index lies inside
    _, sep, named = head.origin.rpartition("/shard/")
    if not sep or named != str(bundle.shard):
        raise CheckpointMismatchError(f"checkpoint origin {head.origin!r} does not name shard {bundle.shard}")
    if head.tree_size != bundle.tree_size:
        raise CheckpointMismatchError(f"checkpoint tree size {head.tree_size}, bundle says {bundle.tree_size}")
    if not 0 <= bundle.leaf_index < bundle.tree_size:
        raise CheckpointMismatchError(f"leaf index {bundle.leaf_index} out of range for tree size {bundle.tree_size}")

    # (4) the leaf hash commits to the record's bytes
    calculated = leaf_hash(bundle.entry)
    if calculated != bundle.leaf_hash:
        raise LeafHashMismatchError(
            f"SHA-256(0x00 || entry) is {calculated.hex()}, bundle says {bundle.leaf_hash.hex()}"
        )

    # (5) the entry says what the bundle says: shard, seq, event id and the readable view
    decoded = _decode_entry(bundle.entry, store)
    differences = [
        f"{name}: entry has {have!r}, bundle says {claimed!r}"
        for name, have, claimed in (
            ("shard", decoded["shard"], bundle.shard),
            ("seq", decoded["seq"], bundle.leaf_index),
            ("event_id", str(decoded["event"]["event_id"]), bundle.event_id),
        )
        if have != claimed
    ]
    if _canonical(entry_view(decoded)) != _canonical(bundle.view):
        differences.append("record: the readable view differs from the decoded entry")
    if differences:
        raise RecordMismatchError("; ".join(differences))

    # (6) the audit path leads from the leaf to the signed root
    try:
        root = root_from_inclusion_proof(bundle.leaf_index, bundle.tree_size, bundle.leaf_hash, bundle.inclusion_proof)
    except MerkleError as exc:
        raise MalformedProofError(str(exc)) from exc
    if root != head.root_hash:
        raise RootMismatchError(head.root_hash, root)


def verify_bundle(text: str | bytes, trusted: Sequence[TrustedKey], store: SchemaStore) -> VerifiedInclusion:
    """Check a bundle offline against the keys the caller trusts; raises a ProofError naming the failed check.

    The checks, numbered as in ledger.proof_errors.CHECKS: (1) canonical bundle, (2) checkpoint signature by a
    trusted key not revoked at the note's own time, (3) checkpoint covers the leaf, (4) leaf hash, (5) record,
    (6) inclusion proof up to the signed root.
    """
    # (1) canonical bundle
    bundle = parse_bundle(text)
    # (2) checkpoint signature
    note, head = parse_checkpoint(bundle.checkpoint)
    signers = _trusted_signers(note, head, trusted)
    # (3) to (6)
    _check_inclusion(bundle, head, store)
    return VerifiedInclusion(
        event_id=bundle.event_id,
        shard=bundle.shard,
        leaf_index=bundle.leaf_index,
        tree_size=bundle.tree_size,
        leaf_hash=bundle.leaf_hash,
        root_hash=head.root_hash,
        origin=head.origin,
        checkpoint_time=head.signed_at,
        signed_by=tuple(f"{k.key.name}+{k.key.key_id.hex()}" for k in signers),
        record=bundle.view,
    )


def check_bundle(text: str | bytes, store: SchemaStore) -> TreeHead:
    """Every check but trust in the signer: what `prove` runs so that it never hands out a bundle that fails."""
    bundle = parse_bundle(text)
    _, head = parse_checkpoint(bundle.checkpoint)
    _check_inclusion(bundle, head, store)
    return head


__all__ = [
    "BUNDLE_KEYS",
    "ParsedBundle",
    "VerifiedInclusion",
    "build_bundle",
    "bundle_text",
    "check_bundle",
    "entry_view",
    "parse_bundle",
    "parse_checkpoint",
    "verify_bundle",
]
