"""Single-event proof bundles: honest bundles verify at every position; every tampering fails its named check."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from ledger.merkle import inclusion_proof, root_of
from ledger.proof_bundle import build_bundle, bundle_text, check_bundle, parse_bundle, verify_bundle
from ledger.proof_errors import (
    CheckpointMismatchError,
    MalformedBundleError,
    MalformedCheckpointError,
    MalformedProofError,
    NonCanonicalBundleError,
    ProofError,
    RecordMismatchError,
    RevokedKeyError,
    RootMismatchError,
    UntrustedCheckpointError,
)
from ledger.signed_note import NoteSigner, SignedNote, VerifierKey
from ledger.tree_head import TreeHead, shard_origin
from ledger.trusted_keys import TrustedKey
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.shard_chain import ShardChain

SHARD = 2
LOG = "test.example/ledger"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NOTE_TIME = T0 + timedelta(minutes=5)


@dataclass(frozen=True)
class Leaf:
    event_id: str
    entry: bytes
    leaf_hash: bytes


@pytest.fixture(scope="module")
def leaves(store: SchemaStore) -> list[Leaf]:
    """33 entries of one shard, written by the stream's own ShardChain."""
    chain = ShardChain(shard=SHARD)
    written = []
    for offset, event in enumerate(demo_events(33, sessions=3, seed=5)):
        seq, leaf, record = chain.append(store, event_from_json(event), offset, T0 + timedelta(milliseconds=offset))
        assert seq == offset
        written.append(Leaf(event["event_id"], bytes(store.decode(record, reader="LedgerRecord")["entry"]), leaf))
    return written


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner.generate("test-log")


@pytest.fixture(scope="module")
def trusted(signer: NoteSigner) -> list[TrustedKey]:
    return [TrustedKey(signer.verifier_key)]


def signed_note(leaves: list[Leaf], size: int, signers: list[NoteSigner], *, shard: int = SHARD) -> str:
    root = root_of(leaf.leaf_hash for leaf in leaves[:size])
    return SignedNote.sign(TreeHead(shard_origin(LOG, shard), size, root, NOTE_TIME).body(), signers).text()


def make_bundle(store: SchemaStore, leaves: list[Leaf], size: int, index: int, note: str, **override) -> dict:
    hashes = [leaf.leaf_hash for leaf in leaves]
    fields = dict(
        event_id=leaves[index].event_id,
        shard=SHARD,
        leaf_index=index,
        tree_size=size,
        leaf_hash=leaves[index].leaf_hash,
        inclusion_proof=inclusion_proof(hashes, index, size) if "inclusion_proof" not in override else [],
        checkpoint_note=note,
        entry=leaves[index].entry,
    )
    fields.update(override)
    return build_bundle(store=store, **fields)


@pytest.fixture(scope="module")
def bundle(store, leaves, signer) -> dict:
    """Leaf 5 of the 16-leaf tree: the bundle every tampering test starts from."""
    return make_bundle(store, leaves, 16, 5, signed_note(leaves, 16, [signer]))


POSITIONS = [(1, 0), (2, 0), (2, 1), (7, 0), (7, 3), (7, 6), (16, 0), (16, 9), (16, 15), (33, 0), (33, 17), (33, 32)]


@pytest.mark.parametrize(("size", "index"), POSITIONS)
def test_bundle_verifies_at_every_position(store, leaves, signer, trusted, size: int, index: int) -> None:
    text = bundle_text(make_bundle(store, leaves, size, index, signed_note(leaves, size, [signer])))
    proven = verify_bundle(text, trusted, store)
    assert (proven.shard, proven.leaf_index, proven.tree_size) == (SHARD, index, size)
    assert proven.event_id == leaves[index].event_id == proven.record["event"]["event_id"]
    assert proven.checkpoint_time == NOTE_TIME and proven.signed_by == (f"test-log+{signer.key_id.hex()}",)
    assert check_bundle(text.encode(), store).tree_size == size


def test_bundle_is_canonical_json_with_a_readable_record(bundle: dict) -> None:
    text = bundle_text(bundle)
    assert text.endswith("}\n") and "\n" not in text[:-1] and ": " not in text.split('"record"')[0]
    assert list(json.loads(text)) == sorted(bundle)
    record = bundle["record"]
    assert record["seq"] == 5 and record["shard"] == SHARD
    assert record["sequenced_at"] == "2026-11-23T10:00:00.005000Z"
    assert record["event"]["occurred_at"].endswith("Z") and len(record["prev_leaf_hash"]) == 44


def _other_printable(byte: int) -> int:
    """Another printable ASCII character (a UTF-8 continuation byte becomes one too)."""
    return 0x20 + (byte - 0x20 + 1) % 95 if 0x20 <= byte < 0x7F else ord("A")


def test_the_same_bundle_with_any_byte_changed_fails(store, bundle, trusted) -> None:
    original = bundle_text(bundle).encode("utf-8")
    verify_bundle(original, trusted, store)
    failed_checks: dict[int, int] = {}
    for i in range(len(original)):
        tampered = original[:i] + bytes([_other_printable(original[i])]) + original[i + 1 :]
        with pytest.raises(ProofError) as caught:
            verify_bundle(tampered, trusted, store)
        failed_checks[caught.value.check] = failed_checks.get(caught.value.check, 0) + 1
    assert sum(failed_checks.values()) == len(original)
    assert {1, 2, 4, 5} <= set(failed_checks), failed_checks


def test_signature_by_an_unknown_key_fails(store, bundle) -> None:
    stranger = NoteSigner.generate("someone-else")
    with pytest.raises(UntrustedCheckpointError):
        verify_bundle(bundle_text(bundle), [TrustedKey(stranger.verifier_key)], store)


def test_wrong_key_under_the_trusted_name_fails(store, leaves, signer, trusted) -> None:
    impostor = NoteSigner.generate("test-log")  # same name, another key: another key id
    text = bundle_text(make_bundle(store, leaves, 16, 5, signed_note(leaves, 16, [impostor])))
    with pytest.raises(UntrustedCheckpointError) as caught:
        verify_bundle(text, trusted, store)
    assert caught.value.check == 2 and "test-log" in caught.value.diagnostics()


@pytest.mark.parametrize(
    ("revoked_at", "passes"),
    [(NOTE_TIME - timedelta(seconds=1), False), (NOTE_TIME, False), (NOTE_TIME + timedelta(seconds=1), True)],
    ids=["revoked-before-the-note", "revoked-at-the-note", "revoked-after-the-note"],
)
def test_revoked_key_vouches_only_for_notes_before_its_revocation(store, bundle, signer, revoked_at, passes) -> None:
    trusted = [TrustedKey(signer.verifier_key, revoked_at=revoked_at)]
    if passes:
        assert verify_bundle(bundle_text(bundle), trusted, store).leaf_index == 5
    else:
        with pytest.raises(RevokedKeyError):
            verify_bundle(bundle_text(bundle), trusted, store)


def test_a_valid_signature_outweighs_a_revoked_cosigner(store, leaves, signer) -> None:
    old = NoteSigner.generate("old-key")
    text = bundle_text(make_bundle(store, leaves, 16, 5, signed_note(leaves, 16, [old, signer])))
    trusted = [TrustedKey(old.verifier_key, revoked_at=T0), TrustedKey(signer.verifier_key)]
    assert verify_bundle(text, trusted, store).signed_by == (f"test-log+{signer.key_id.hex()}",)


def test_checkpoint_of_another_shard_fails(store, leaves, signer, trusted) -> None:
    note = signed_note(leaves, 16, [signer], shard=SHARD + 1)
    with pytest.raises(CheckpointMismatchError, match="does not name shard"):
        verify_bundle(bundle_text(make_bundle(store, leaves, 16, 5, note)), trusted, store)


def test_leaf_index_at_or_past_the_tree_size_fails(store, leaves, signer, trusted) -> None:
    note = signed_note(leaves, 16, [signer])
    text = bundle_text(make_bundle(store, leaves, 16, 16, note, inclusion_proof=[]))
    with pytest.raises(CheckpointMismatchError, match="out of range"):
        verify_bundle(text, trusted, store)


def test_tree_size_other_than_the_checkpoint_fails(store, leaves, signer, trusted) -> None:
    text = bundle_text(make_bundle(store, leaves, 16, 5, signed_note(leaves, 16, [signer]), tree_size=33))
    with pytest.raises(CheckpointMismatchError, match="tree size"):
        verify_bundle(text, trusted, store)


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda p: p[:-1], MalformedProofError),  # truncated proof
        (lambda p: [*p, p[0]], MalformedProofError),  # extended proof
        (lambda p: [p[1], p[0], *p[2:]], RootMismatchError),  # reordered proof
    ],
    ids=["truncated-proof", "extended-proof", "reordered-proof"],
)
def test_altered_audit_path_fails(store, leaves, signer, trusted, edit, error) -> None:
    proof = inclusion_proof([leaf.leaf_hash for leaf in leaves], 5, 16)
    text = bundle_text(
        make_bundle(store, leaves, 16, 5, signed_note(leaves, 16, [signer]), inclusion_proof=edit(proof))
    )
    with pytest.raises(error):
        verify_bundle(text, trusted, store)


def test_edited_readable_record_fails_even_when_re_canonicalized(store, bundle, trusted) -> None:
    forged = json.loads(bundle_text(bundle))
    forged["record"]["event"]["payload"]["prompt"] = "nothing to see here"
    with pytest.raises(RecordMismatchError, match="readable view"):
        verify_bundle(bundle_text(forged), trusted, store)


def test_another_leaf_s_record_with_its_own_leaf_hash_fails(store, leaves, signer, trusted) -> None:
    """Swap in leaf 3's entry and hash under leaf 5's position: the entry's seq gives it away."""
    note = signed_note(leaves, 16, [signer])
    other = leaves[3]
    text = bundle_text(
        make_bundle(store, leaves, 16, 5, note, entry=other.entry, leaf_hash=other.leaf_hash, event_id=other.event_id)
    )
    with pytest.raises(RecordMismatchError, match="seq"):
        verify_bundle(text, trusted, store)


def test_unsigned_checkpoint_is_malformed(store, leaves, trusted) -> None:
    body = TreeHead(shard_origin(LOG, SHARD), 16, root_of(leaf.leaf_hash for leaf in leaves[:16]), NOTE_TIME).body()
    with pytest.raises(MalformedCheckpointError):
        verify_bundle(bundle_text(make_bundle(store, leaves, 16, 5, body)), trusted, store)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"\xff\xfe", MalformedBundleError),
        ("", MalformedBundleError),
        ("null\n", MalformedBundleError),
        ("[]\n", MalformedBundleError),
        ('{"event_id":\n', MalformedBundleError),
        ("{}\n", MalformedBundleError),
    ],
    ids=["not-utf8", "empty", "null", "array", "truncated-json", "no-fields"],
)
def test_garbage_is_a_malformed_bundle_never_a_bare_error(store, trusted, text, error) -> None:
    with pytest.raises(error):
        verify_bundle(text, trusted, store)


def test_pretty_printed_or_extended_bundle_is_not_canonical(store, bundle, trusted) -> None:
    with pytest.raises(NonCanonicalBundleError):
        parse_bundle(json.dumps(bundle, indent=1, sort_keys=True) + "\n")
    with pytest.raises(NonCanonicalBundleError):
        parse_bundle(bundle_text(bundle).rstrip("\n"))
    with pytest.raises(MalformedBundleError, match="keys"):
        parse_bundle(bundle_text({**bundle, "comment": "trust me"}))
    with pytest.raises(MalformedBundleError, match="must be int"):
        parse_bundle(bundle_text({**bundle, "shard": True}))


def test_diagnostics_name_the_check(store, bundle) -> None:
    with pytest.raises(ProofError) as caught:
        verify_bundle(bundle_text(bundle), [TrustedKey(VerifierKey.from_public_key("x", bytes(32)))], store)
    assert caught.value.diagnostics().startswith("check (2) checkpoint signature failed [untrusted_signature]")
    assert caught.value.as_dict()["kind"] == "untrusted_signature"
