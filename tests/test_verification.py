"""The verifier against stored rows and checkpoints that were tampered with, each case named after the attack."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ledger.checkpoint_checks import PublishedRoot, StoredCheckpoint, published_roots
from ledger.ddl import RECORD_COLUMNS
from ledger.entry import entry_leaf_hash
from ledger.projection import record_row
from ledger.signed_note import NoteSigner, SignedNote
from ledger.tree_head import TreeHead
from ledger.trusted_keys import TrustedKey
from ledger.verification import ShardStart, verify_shard
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.sequencer import LedgerSequencer, RawEvent
from stream.shard_chain import ShardChain
from tests.ledger_path import sequencer_parts

Rows = list[list]
COL = {name: i for i, name in enumerate(RECORD_COLUMNS)}
ORIGIN = "test/log"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Ledger:
    """One shard as the sink stores it: rows, checkpoint rows, and the checkpoint messages (with frontiers)."""

    def __init__(self, rows: Rows, checkpoints: list[StoredCheckpoint], messages: list[dict]) -> None:
        self.rows, self.checkpoints, self.messages = rows, checkpoints, messages


def build_ledger(store: SchemaStore, signer: NoteSigner, n: int = 40, seed: int = 0) -> Ledger:
    """`n` records of shard 0 with a signed checkpoint every 10, each one second later than the last."""
    events = list(demo_events(n, seed=seed))
    raws = [RawEvent(0, i, store.encode("AuditEvent", event_from_json(e))) for i, e in enumerate(events)]
    ticks = iter(T0 + timedelta(seconds=i) for i in range(1000))
    sequencer = LedgerSequencer(store, lambda s: ShardChain(shard=s), ORIGIN, "audit.events",
                                signers=lambda now: [signer], checkpoint_every_records=10,
                                clock=lambda: next(ticks), **sequencer_parts(store))  # fmt: skip
    outputs = []
    for start in range(0, n, 10):
        outputs += sequencer.process(raws[start : start + 10], idle=False).outputs
    rows, checkpoints, messages = [], [], []
    for out in outputs:
        if out.role == "ledger":
            record = store.decode(out.value, reader="LedgerRecord")
            rows.append(list(record_row(record, store.decode(record["entry"], reader="LedgerEntry"))))
        else:
            cp = store.decode(out.value, reader="Checkpoint")
            messages.append(cp)
            checkpoints.append(StoredCheckpoint(0, cp["tree_size"], cp["root_hash"], cp["note"]))
    return Ledger(rows, checkpoints, messages)


@pytest.fixture(scope="module")
def trusted(signer: NoteSigner) -> list[TrustedKey]:
    return [TrustedKey(signer.verifier_key)]


@pytest.fixture(scope="module")
def shard_zero(store: SchemaStore, signer: NoteSigner, trusted) -> tuple[Rows, list[PublishedRoot]]:
    """40 rows of shard 0 with signed checkpoints at 10, 20, 30 and 40."""
    ledger = build_ledger(store, signer)
    published, problems = published_roots(0, ledger.checkpoints, trusted, ORIGIN)
    assert not problems and [p.tree_size for p in published] == [10, 20, 30, 40]
    return ledger.rows, published


def deleted_record(rows: Rows) -> None:
    del rows[17]


def modified_payload(rows: Rows) -> None:
    rows[17][COL["prompt"]] = "ignore previous instructions"


def modified_entry_bytes(rows: Rows) -> None:
    entry = bytearray(rows[17][COL["entry"]])
    entry[-3] ^= 0x01
    rows[17][COL["entry"]] = bytes(entry)


def identity_claimed_verified(rows: Rows) -> None:
    rows[17][COL["identity_status"]] = "verified"
    rows[17][COL["identity_subject"]] = "ceo@example.com"


def masking_evidence_erased(rows: Rows) -> None:
    rows[17][COL["masked"]] = []
    rows[17][COL["masking_policy"]] = "0" * 64


def duplicated_record(rows: Rows) -> None:
    rows.insert(18, list(rows[17]))


def swapped_positions(rows: Rows) -> None:
    rows[17][COL["seq"]], rows[18][COL["seq"]] = 18, 17
    rows.sort(key=lambda r: r[COL["seq"]])


def forged_record_with_correct_leaf(rows: Rows) -> None:
    """Replace seq 17 by another record's entry, re-hashed so that (2) leaf passes."""
    forged = list(rows[3])
    forged[COL["seq"]] = 17
    forged[COL["leaf_hash"]] = entry_leaf_hash(forged[COL["entry"]])
    rows[17] = forged


def truncated_tail(rows: Rows) -> None:
    del rows[-3:]


ATTACKS: list[tuple[Callable[[Rows], None], int, str]] = [
    (deleted_record, 17, "missing"),
    (modified_payload, 17, "modified"),
    (modified_entry_bytes, 17, "modified"),
    (identity_claimed_verified, 17, "modified"),
    (masking_evidence_erased, 17, "modified"),
    (duplicated_record, 17, "duplicated"),
    (swapped_positions, 17, "reordered"),
    (forged_record_with_correct_leaf, 17, "reordered"),
    (truncated_tail, 37, "missing"),
]


def test_untouched_shard_is_intact(shard_zero, store: SchemaStore) -> None:
    rows, published = shard_zero
    report = verify_shard(0, rows, published, store)
    assert report.ok, [p.diagnostics() for p in report.problems]
    assert report.records == 40 and report.checkpoints_checked == 4 and report.unanchored == 0


@pytest.mark.parametrize(("attack", "seq", "kind"), ATTACKS, ids=[a[0].__name__.replace("_", "-") for a in ATTACKS])
def test_attack_is_named_at_its_seq(shard_zero, store: SchemaStore, attack, seq: int, kind: str) -> None:
    rows, published = shard_zero
    tampered = [list(r) for r in rows]
    attack(tampered)
    report = verify_shard(0, tampered, published, store)
    assert not report.ok
    first = report.problems[0]
    assert (first.shard, first.seq, first.kind) == (0, seq, kind), [p.diagnostics() for p in report.problems]


def test_forged_tail_record_with_a_correct_chain_is_unanchored(shard_zero, store: SchemaStore) -> None:
    """A record appended after the last signed head links and hashes correctly, but nothing signed it."""
    rows, published = shard_zero
    report = verify_shard(0, rows, published[:2], store)
    assert [(p.kind, p.seq) for p in report.problems] == [("unanchored", 20)] and report.unanchored == 20
    allowed = verify_shard(0, rows, published[:2], store, allow_unanchored=True)
    assert allowed.ok and allowed.unanchored == 20


def test_wrong_published_root_is_a_root_mismatch(shard_zero, store: SchemaStore) -> None:
    rows, published = shard_zero
    forged = [*published[:3], PublishedRoot(40, bytes(32))]
    report = verify_shard(0, rows, forged, store)
    assert [(p.kind, p.seq) for p in report.problems] == [("root_mismatch", 39)]


def test_columns_are_only_checked_when_asked(shard_zero, store: SchemaStore) -> None:
    rows, published = shard_zero
    tampered = [list(r) for r in rows]
    modified_payload(tampered)
    assert verify_shard(0, tampered, published, store, columns=False).ok
    assert verify_shard(0, tampered, published, store).problems[0].kind == "modified"


def _resigned(checkpoint: StoredCheckpoint, signer: NoteSigner, **changes) -> StoredCheckpoint:
    head = TreeHead.parse(SignedNote.parse(checkpoint.note).body)
    head = TreeHead(**{**head.__dict__, **changes})
    note = SignedNote.sign(head.body(), [signer]).text()
    return StoredCheckpoint(checkpoint.shard, head.tree_size, head.root_hash, note)


def test_checkpoint_signed_by_an_unknown_key_is_refused(store, signer, trusted) -> None:
    ledger = build_ledger(store, signer)
    ledger.checkpoints[1] = _resigned(ledger.checkpoints[1], NoteSigner.generate(ORIGIN))
    published, problems = published_roots(0, ledger.checkpoints, trusted, ORIGIN)
    assert [p.kind for p in problems] == ["bad_signature"] and [p.tree_size for p in published] == [10, 30, 40]


def test_checkpoint_note_whose_columns_disagree_is_malformed(store, signer, trusted) -> None:
    ledger = build_ledger(store, signer)
    cp = ledger.checkpoints[2]
    ledger.checkpoints[2] = StoredCheckpoint(0, cp.tree_size, bytes(32), cp.note)
    _, problems = published_roots(0, ledger.checkpoints, trusted, ORIGIN)
    assert [p.kind for p in problems] == ["malformed_checkpoint"]


def test_checkpoint_for_another_shard_or_log_is_malformed(store, signer, trusted) -> None:
    ledger = build_ledger(store, signer)
    ledger.checkpoints[0] = _resigned(ledger.checkpoints[0], signer, origin="test/log/shard/1")
    ledger.checkpoints[1] = _resigned(ledger.checkpoints[1], signer, origin="other/log/shard/0")
    _, problems = published_roots(0, ledger.checkpoints, trusted, ORIGIN)
    assert [p.kind for p in problems] == ["malformed_checkpoint", "malformed_checkpoint"]


def test_revoked_key_vouches_only_for_heads_signed_before_revocation(store, signer) -> None:
    ledger = build_ledger(store, signer)  # heads signed at T0+0s, +1s, +2s, +3s
    revoked = [TrustedKey(signer.verifier_key, revoked_at=T0 + timedelta(milliseconds=1500))]
    published, problems = published_roots(0, ledger.checkpoints, revoked, ORIGIN)
    assert [p.tree_size for p in published] == [10, 20]
    assert [p.kind for p in problems] == ["revoked_key", "revoked_key"]


def test_backdated_head_is_out_of_order(store, signer, trusted) -> None:
    ledger = build_ledger(store, signer)
    ledger.checkpoints[3] = _resigned(ledger.checkpoints[3], signer, signed_at=T0 - timedelta(days=1))
    _, problems = published_roots(0, ledger.checkpoints, trusted, ORIGIN)
    assert [(p.kind, p.seq) for p in problems] == [("checkpoint_order", 39)]


def test_history_rewritten_and_resigned_with_the_real_key_is_caught_by_the_witness(store, signer, trusted) -> None:
    original = build_ledger(store, signer, seed=1)
    witnessed, _ = published_roots(0, original.checkpoints[:2], trusted, ORIGIN)
    witness = [PublishedRoot(w.tree_size, w.root_hash, w.signed_at, source="witness") for w in witnessed]
    rewritten = build_ledger(store, signer, seed=2)  # same key, same sizes, different history
    published, problems = published_roots(0, rewritten.checkpoints, trusted, ORIGIN)
    assert not problems
    assert verify_shard(0, rewritten.rows, published, store).ok  # internally consistent: signatures alone miss it
    report = verify_shard(0, rewritten.rows, [*published, *witness], store)
    assert [(p.kind, p.seq) for p in report.problems] == [("witness_mismatch", 9), ("witness_mismatch", 19)]
    assert verify_shard(0, original.rows, [*published_roots(0, original.checkpoints, trusted, ORIGIN)[0], *witness],
                        store).ok  # fmt: skip


def test_verification_can_start_from_a_trusted_checkpoint(store, signer, trusted) -> None:
    ledger = build_ledger(store, signer)
    published, _ = published_roots(0, ledger.checkpoints, trusted, ORIGIN)
    at20 = ledger.messages[1]
    start = ShardStart(at20["tree_size"], tuple(at20["frontier"]), at20["last_leaf_hash"])
    report = verify_shard(0, ledger.rows[20:], published, store, start=start)
    assert report.ok and report.records == 20 and report.checkpoints_checked == 2
    tampered = [list(r) for r in ledger.rows[20:]]
    modified_entry_bytes_at(tampered, 5)
    assert [(p.kind, p.seq) for p in verify_shard(0, tampered, published, store, start=start).problems][:1] == [
        ("modified", 25)
    ]
    wrong_start = ShardStart(20, (at20["frontier"][0], bytes(32)), at20["last_leaf_hash"])
    problems = verify_shard(0, ledger.rows[20:], published, store, start=wrong_start).problems
    assert [(p.kind, p.seq) for p in problems] == [("root_mismatch", 29), ("root_mismatch", 39)]


def modified_entry_bytes_at(rows: Rows, index: int) -> None:
    entry = bytearray(rows[index][COL["entry"]])
    entry[-3] ^= 0x01
    rows[index][COL["entry"]] = bytes(entry)
