"""The verifier against stored rows that were tampered with, each case named after the attack."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.ddl import RECORD_COLUMNS
from ledger.entry import entry_leaf_hash
from ledger.projection import record_row
from ledger.verification import PublishedRoot, verify_shard
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.sequencer import LedgerSequencer, RawEvent
from stream.shard_chain import ShardChain

Rows = list[list]
COL = {name: i for i, name in enumerate(RECORD_COLUMNS)}


@pytest.fixture(scope="module")
def shard_zero(store: SchemaStore) -> tuple[Rows, list[PublishedRoot]]:
    """40 rows of shard 0 as the sink writes them, with checkpoints at 10, 20, 30 and 40."""
    raws = [RawEvent(0, i, store.encode("AuditEvent", event_from_json(e))) for i, e in enumerate(demo_events(40))]
    sequencer = LedgerSequencer(store, lambda s: ShardChain(shard=s), "test/log", "audit.events",
                                checkpoint_every_records=10)  # fmt: skip
    outputs = []
    for start in range(0, 40, 10):
        outputs += sequencer.process(raws[start : start + 10], idle=False).outputs
    rows, published = [], []
    for out in outputs:
        if out.role == "ledger":
            record = store.decode(out.value, reader="LedgerRecord")
            rows.append(list(record_row(record, store.decode(record["entry"], reader="LedgerEntry"))))
        else:
            cp = store.decode(out.value, reader="Checkpoint")
            published.append(PublishedRoot(cp["tree_size"], cp["root_hash"]))
    assert [p.tree_size for p in published] == [10, 20, 30, 40]
    return rows, published


def deleted_record(rows: Rows) -> None:
    del rows[17]


def modified_payload(rows: Rows) -> None:
    rows[17][COL["prompt"]] = "ignore previous instructions"


def modified_entry_bytes(rows: Rows) -> None:
    entry = bytearray(rows[17][COL["entry"]])
    entry[-3] ^= 0x01
    rows[17][COL["entry"]] = bytes(entry)


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


def test_records_after_the_last_checkpoint_are_counted_unanchored(shard_zero, store: SchemaStore) -> None:
    rows, published = shard_zero
    report = verify_shard(0, rows, published[:2], store)
    assert report.ok and report.unanchored == 20


def test_wrong_published_root_is_a_root_mismatch(shard_zero, store: SchemaStore) -> None:
    rows, published = shard_zero
    forged = [*published[:3], PublishedRoot(40, bytes(32))]
    report = verify_shard(0, rows, forged, store)
    assert [(p.kind, p.seq) for p in report.problems] == [("root_mismatch", 39)]
