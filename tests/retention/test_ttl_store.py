"""The row TTL and ledger_leaves on the ClickHouse engine (chDB, in-process): a tenant's expired records are
deleted, their leaves stay, other tenants' records stay, and the store still verifies and proves."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.checkpoint_checks import StoredCheckpoint
from ledger.ddl import CHECKPOINT_COLUMNS, LEDGER_RECORDS, RECORD_COLUMNS, ensure_retention, ensure_schema
from ledger.proof_bundle import check_bundle
from ledger.prove_cli import prove_event
from ledger.retention import RetentionPolicy
from ledger.signed_note import NoteSigner
from ledger.store_verification import verify_store
from ledger.trusted_keys import TrustedKey
from schemas import SchemaStore
from tests.retention.two_tenants import COL, ORIGIN, TwoTenantShard, build

POLICY = RetentionPolicy.build(tenants={"ephemeral": 0}, allow_short=True)


@pytest.fixture
def client(http_store: Any) -> Any:
    """The store behind ClickHouse's HTTP interface, as verify and prove reach it (verify streams two queries)."""
    return http_store


def store_shard(client, shard: TwoTenantShard) -> None:
    client.insert("ledger_records", shard.rows, column_names=list(RECORD_COLUMNS))
    client.insert("ledger_checkpoints", [checkpoint_row(c) for c in shard.checkpoints],
                  column_names=list(CHECKPOINT_COLUMNS))  # fmt: skip


def checkpoint_row(c: StoredCheckpoint) -> tuple:
    return (c.shard, c.tree_size, c.root_hash, ORIGIN, c.note, datetime.now(UTC), 0, b"")


def count(client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def test_expired_tenant_rows_go_their_leaves_stay_and_the_rest_verifies(client, store: SchemaStore,
                                                                          signer: NoteSigner) -> None:  # fmt: skip
    ensure_schema(client, POLICY)
    shard = build(store, signer, datetime.now(UTC) - timedelta(seconds=40), ["acme", "ephemeral"], n=20)
    store_shard(client, shard)
    assert count(client, "SELECT count() FROM ledger_leaves") == 20  # the view filled it from the insert

    client.command("OPTIMIZE TABLE ledger_records FINAL")  # a merge applies the TTL now, not in hours
    tenants = dict(client.query("SELECT tenant, count() FROM ledger_records GROUP BY tenant").result_rows)
    assert tenants == {"acme": 10}
    assert count(client, "SELECT count() FROM ledger_leaves WHERE tenant = 'ephemeral'") == 10

    trusted = [TrustedKey(signer.verifier_key)]
    (report,) = verify_store(client, trusted, ORIGIN, retention=POLICY, now=datetime.now(UTC))
    assert report.ok, [p.diagnostics() for p in report.problems]
    assert (report.records, report.pruned, report.checkpoints_checked) == (10, 10, 2)

    last_acme = shard.rows[-2]  # seq 18, after pruned records, its predecessor pruned too
    bundle = prove_event(client, str(last_acme[COL["event_id"]]), store)
    head = check_bundle(bundle, store)  # raises unless the proof leads to the signed root
    assert json.loads(bundle)["leaf_index"] == 18 and head.tree_size == 20

    client.command("ALTER TABLE ledger_records DELETE WHERE seq = 4 SETTINGS mutations_sync = 2")
    (report,) = verify_store(client, trusted, ORIGIN, retention=POLICY, now=datetime.now(UTC))
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "deleted")]


def test_a_store_from_before_ledger_leaves_gets_the_leaves_of_its_records(client, store, signer) -> None:
    client.command(LEDGER_RECORDS)
    shard = build(store, signer, datetime(2026, 3, 1, tzinfo=UTC), ["acme"], n=12)
    client.insert("ledger_records", shard.rows, column_names=list(RECORD_COLUMNS))
    ensure_schema(client)
    assert count(client, "SELECT count() FROM ledger_leaves") == 12
    ensure_schema(client)  # idempotent: the view exists now, nothing is copied twice
    assert count(client, "SELECT count() FROM ledger_leaves") == 12


def test_ttl_follows_the_policy_and_is_altered_only_when_it_changes(client) -> None:
    ensure_schema(client)
    assert not ensure_retention(client, RetentionPolicy())
    longer = RetentionPolicy.build(tenants={"acme": 730})
    assert ensure_retention(client, longer)
    assert not ensure_retention(client, longer)
    engine = client.query("SELECT engine_full FROM system.tables WHERE name = 'ledger_records'").result_rows[0][0]
    assert longer.ttl_expression() in engine


def test_prove_refuses_when_ledger_leaves_lacks_a_leaf(client, store, signer) -> None:
    ensure_schema(client)
    shard = build(store, signer, datetime(2026, 3, 1, tzinfo=UTC), ["acme"], n=10)
    store_shard(client, shard)
    client.command("ALTER TABLE ledger_leaves DELETE WHERE seq = 2 SETTINGS mutations_sync = 2")
    from ledger.prove_cli import NoProof

    with pytest.raises(NoProof, match="seq 2 is missing"):
        prove_event(client, str(shard.rows[5][COL["event_id"]]), store)
    assert uuid.UUID(str(shard.rows[5][COL["event_id"]]))
