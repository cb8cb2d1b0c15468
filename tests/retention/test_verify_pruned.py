"""The verifier over records and the leaves ledger_leaves keeps: pruned records are counted when their tenant's
retention ran out, a record gone before that is `deleted`, and the signed roots still check over the kept leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.checkpoint_checks import published_roots
from ledger.retention import RetentionPolicy
from ledger.signed_note import NoteSigner
from ledger.store_verification import KeptLeafBuffer
from ledger.trusted_keys import TrustedKey
from ledger.verification import ShardReport, ShardVerifier
from schemas import SchemaStore
from tests.retention.two_tenants import COL, ORIGIN, TwoTenantShard, build

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = RetentionPolicy.build(default_days=400, tenants={"ephemeral": 30}, allow_short=True)
AFTER_EPHEMERAL = START + timedelta(days=31)  # ephemeral's records may be gone, acme's may not


@pytest.fixture(scope="module")
def shard(store: SchemaStore, signer: NoteSigner) -> TwoTenantShard:
    return build(store, signer, START, ["acme", "ephemeral", "acme"], n=30)


def verify(store: SchemaStore, signer: NoteSigner, shard: TwoTenantShard, rows: list[list], leaves: list[tuple],
           *, block: int = 7, leaf_block: int = 5, now: datetime = AFTER_EPHEMERAL,
           policy: RetentionPolicy | None = POLICY) -> ShardReport:  # fmt: skip
    """As verify_stored_shard does: records in blocks, kept leaves read ahead in blocks of another size."""
    roots, problems = published_roots(0, shard.checkpoints, [TrustedKey(signer.verifier_key)], ORIGIN)
    assert not problems
    verifier = ShardVerifier(0, roots, store, retention=policy, now=now)
    leaf_blocks = [list(zip(*leaves[i : i + leaf_block], strict=True)) for i in range(0, len(leaves), leaf_block)]
    kept = KeptLeafBuffer(leaf_blocks)
    for i in range(0, len(rows), block):
        part = rows[i : i + block]
        seqs = [r[COL["seq"]] for r in part]
        verifier.add_block(seqs, [r[COL["leaf_hash"]] for r in part], [r[COL["entry"]] for r in part], part,
                           kept.upto(seqs[-1]))  # fmt: skip
    for rest in kept.rest():
        verifier.add_block([], [], [], None, rest)
    return verifier.finish()


def without(shard: TwoTenantShard, seqs: set[int]) -> list[list]:
    return [r for r in shard.rows if r[COL["seq"]] not in seqs]


def kinds(report: ShardReport) -> list[tuple[int | None, str]]:
    return [(p.seq, p.kind) for p in report.problems]


def test_nothing_pruned_is_intact(store, signer, shard) -> None:
    report = verify(store, signer, shard, shard.rows, shard.leaves())
    assert report.ok and (report.records, report.pruned, report.checkpoints_checked) == (30, 0, 3)


@pytest.mark.parametrize(("block", "leaf_block"), [(7, 5), (1, 30), (30, 1), (4, 4)])
def test_expired_tenant_pruned_still_verifies_against_every_signed_root(store, signer, shard, block, leaf_block):
    ephemeral = set(shard.seqs_of("ephemeral"))
    report = verify(store, signer, shard, without(shard, ephemeral), shard.leaves(), block=block,
                    leaf_block=leaf_block)  # fmt: skip
    assert report.ok, kinds(report)
    assert (report.records, report.pruned, report.tree_size, report.checkpoints_checked) == (20, 10, 30, 3)


def test_pruned_last_record_of_the_shard_is_still_under_the_last_checkpoint(store, signer) -> None:
    shard = build(store, signer, START, ["acme", "ephemeral"], n=12, checkpoint_every=6)
    assert shard.rows[-1][COL["tenant"]] == "ephemeral"
    report = verify(store, signer, shard, without(shard, {11}), shard.leaves())
    assert report.ok and report.pruned == 1 and report.tree_size == 12 and report.unanchored == 0


def test_record_of_a_tenant_whose_retention_has_not_run_out_is_deleted(store, signer, shard) -> None:
    ephemeral = set(shard.seqs_of("ephemeral"))
    acme = shard.seqs_of("acme")[5]
    report = verify(store, signer, shard, without(shard, ephemeral | {acme}), shard.leaves())
    assert kinds(report) == [(acme, "deleted")] and report.pruned == 10
    assert "tenant 'acme'" in report.problems[0].detail and "400 days" in report.problems[0].detail


def test_a_day_too_early_nothing_is_pruned_but_deleted(store, signer, shard) -> None:
    ephemeral = shard.seqs_of("ephemeral")
    early = START + timedelta(days=29)
    report = verify(store, signer, shard, without(shard, set(ephemeral)), shard.leaves(), now=early)
    assert kinds(report) == [(seq, "deleted") for seq in ephemeral] and report.pruned == 0


def test_without_a_retention_policy_a_missing_record_is_deleted(store, signer, shard) -> None:
    report = verify(store, signer, shard, without(shard, {4}), shard.leaves(), policy=None)
    assert kinds(report) == [(4, "deleted")] and "no retention policy" in report.problems[0].detail


def test_kept_leaf_differing_from_the_record_is_a_leaf_mismatch(store, signer, shard) -> None:
    leaves = shard.leaves()
    seq, _, tenant, at = leaves[9]
    leaves[9] = (seq, bytes(32), tenant, at)
    report = verify(store, signer, shard, shard.rows, leaves)
    assert kinds(report) == [(9, "leaf_mismatch")]


def test_record_with_no_kept_leaf_is_a_leaf_mismatch(store, signer, shard) -> None:
    report = verify(store, signer, shard, shard.rows, [leaf for leaf in shard.leaves() if leaf[0] != 13])
    assert kinds(report) == [(13, "leaf_mismatch")] and "keeps no leaf" in report.problems[0].detail


def test_forged_kept_leaf_of_a_pruned_record_breaks_the_signed_root(store, signer, shard) -> None:
    ephemeral = shard.seqs_of("ephemeral")
    leaves = shard.leaves()
    seq, _, tenant, at = leaves[ephemeral[0]]
    leaves[ephemeral[0]] = (seq, bytes(32), tenant, at)
    report = verify(store, signer, shard, without(shard, set(ephemeral)), leaves)
    # the next record's chain link names the forged leaf first, then the root over it fails
    assert kinds(report)[0] == (seq + 1, "reordered") and (9, "root_mismatch") in kinds(report)


def test_second_different_kept_leaf_is_a_duplicate_but_an_identical_copy_is_not(store, signer, shard) -> None:
    leaves = shard.leaves()
    copy = sorted([*leaves, leaves[6]], key=lambda leaf: (leaf[0], leaf[1]))
    assert verify(store, signer, shard, shard.rows, copy).ok
    other = sorted([*leaves, (6, b"\xff" * 32, "acme", leaves[6][3])], key=lambda leaf: (leaf[0], leaf[1]))
    assert (6, "duplicated") in kinds(verify(store, signer, shard, shard.rows, other))


def test_gap_in_records_and_leaves_is_missing(store, signer, shard) -> None:
    report = verify(store, signer, shard, without(shard, {15}), [leaf for leaf in shard.leaves() if leaf[0] != 15])
    assert kinds(report)[0] == (15, "missing")
