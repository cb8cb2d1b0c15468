"""Retention on the real stack: a short-lived tenant's records pruned by the ClickHouse row TTL, their leaves kept,
and what remains still verifies and is still provable; a record deleted before its time fails verification.

The events go through the real path (emitter, stream, sink) for a short-lived tenant and a normal one, interleaved
in the same sessions and shards. The pruning runs on a copy of the store in a database of its own, with a policy
that keeps `ephemeral` for 0 days: in the shared store a 0-day TTL would fire on any background merge, and every
later test's `verify` would then have to be told that policy. The copy is made by the same `ensure_schema` the
ledger process runs (tables, the view that fills ledger_leaves, the TTL), so the view and the TTL are the real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from auditledger.config import Settings
from ledger.clickhouse_client import store_client
from ledger.ddl import ensure_schema
from ledger.retention import RetentionPolicy
from producers.demo_session import demo_events
from tests.stack.conftest import emit_stored_anchored

pytestmark = pytest.mark.stack
SHORT = RetentionPolicy.build(tenants={"ephemeral": 0}, allow_short=True)
SHORT_ENV = {"AUDITLEDGER_RETENTION_TENANTS": "ephemeral=0", "AUDITLEDGER_RETENTION_ALLOW_SHORT": "true"}


def cli(settings: Settings, database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SHORT_ENV, "AUDITLEDGER_CLICKHOUSE_DATABASE": database}
    return subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), *args],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip


def verify(settings: Settings, database: str) -> tuple[int, dict]:
    proc = cli(settings, database, "verify", "--json")
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def emitted(settings: Settings, ch) -> dict[str, list[str]]:
    """Event ids by tenant: every third event of each session is `ephemeral`'s, the others `acme`'s."""
    events, seen = [], Counter()
    for e in demo_events(90, sessions=6, seed=41):
        session = e["correlation"]["session_id"]
        events.append({**e, "tenant": "ephemeral" if seen[session] % 3 == 1 else "acme"})
        seen[session] += 1
    emit_stored_anchored(settings, ch, events)
    by_tenant: dict[str, list[str]] = {}
    for e in events:
        by_tenant.setdefault(e["tenant"], []).append(e["event_id"])
    return by_tenant


@pytest.fixture(scope="module")
def pruned_copy(settings: Settings, ch, emitted) -> Iterator[tuple[str, object]]:
    """A database holding the store's anchored records and checkpoints, under the short policy, after a merge."""
    database = f"retention_{uuid.uuid4().hex[:10]}"
    ch.command(f"CREATE DATABASE {database}")
    copy = store_client(replace(settings, clickhouse_database=database))
    try:
        ensure_schema(copy, SHORT)
        ch.command(f"INSERT INTO {database}.ledger_checkpoints SELECT * FROM default.ledger_checkpoints")
        for shard, size in ch.query("SELECT shard, max(tree_size) FROM ledger_checkpoints GROUP BY shard").result_rows:
            ch.command(f"INSERT INTO {database}.ledger_records SELECT * FROM default.ledger_records "
                       f"WHERE shard = {int(shard)} AND seq < {int(size)}")  # fmt: skip
        copy.command("OPTIMIZE TABLE ledger_records FINAL")  # the TTL applies at a merge; force one now
        yield database, copy
    finally:
        ch.command(f"DROP DATABASE IF EXISTS {database} SYNC")


def count(client, sql: str, **parameters) -> int:
    return int(client.query(sql, parameters=parameters).result_rows[0][0])


def test_the_live_store_carries_the_policys_ttl_and_keeps_every_leaf(ch, emitted) -> None:
    engine = ch.query("SELECT engine_full FROM system.tables WHERE database = 'default' "
                      "AND name = 'ledger_records'").result_rows[0][0]  # fmt: skip
    assert f"TTL {RetentionPolicy().ttl_clause()}" in engine  # what `ledger serve` applied from its settings
    ids = emitted["ephemeral"]
    assert count(ch, "SELECT count() FROM ledger_leaves l INNER JOIN ledger_records r USING (shard, seq) "
                 "WHERE r.event_id IN {ids:Array(UUID)}", ids=ids) >= len(ids)  # fmt: skip


def test_pruned_tenant_rows_are_gone_their_leaves_stay_and_the_rest_verifies(settings, emitted, pruned_copy):
    database, copy = pruned_copy
    ephemeral = emitted["ephemeral"]
    assert count(copy, "SELECT count() FROM ledger_records WHERE tenant = 'ephemeral'") == 0
    assert count(copy, "SELECT count() FROM ledger_leaves WHERE tenant = 'ephemeral'") >= len(ephemeral)
    acme = emitted["acme"]
    assert count(copy, "SELECT uniqExact(event_id) FROM ledger_records WHERE event_id IN {ids:Array(UUID)}",
                 ids=acme) == len(acme)  # fmt: skip

    code, report = verify(settings, database)
    assert code == 0, report["problems"][:3]
    assert report["pruned"] == count(copy, "SELECT count() FROM ledger_leaves WHERE tenant = 'ephemeral'")
    assert all(s["checkpoints_checked"] > 0 for s in report["shards"])


def test_a_remaining_record_after_pruned_ones_is_still_proven(settings, emitted, pruned_copy, tmp_path: Path):
    database, copy = pruned_copy
    shard, seq, event_id = copy.query(
        "SELECT shard, seq, toString(event_id) FROM ledger_records WHERE tenant = 'acme' AND event_id IN "
        "{ids:Array(UUID)} ORDER BY seq DESC LIMIT 1", parameters={"ids": emitted["acme"]}).result_rows[0]  # fmt: skip
    assert count(copy, "SELECT count() FROM ledger_leaves WHERE shard = {s:UInt32} AND seq < {q:UInt64} "
                 "AND tenant = 'ephemeral'", s=shard, q=seq) > 0  # fmt: skip
    bundle = tmp_path / "proof.json"
    proved = cli(settings, database, "prove", event_id, "--out", str(bundle))
    assert proved.returncode == 0, proved.stderr
    keys = tmp_path / "keys.txt"
    keys.write_text(cli(settings, database, "keys", "public").stdout)
    checked = cli(settings, database, "verify-proof", str(bundle), "--keys", str(keys), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    verdict = json.loads(checked.stdout)
    assert (verdict["event_id"], verdict["shard"], verdict["leaf_index"]) == (event_id, shard, seq)


def test_a_record_deleted_before_its_retention_ran_out_fails_verification(settings, emitted, pruned_copy) -> None:
    database, copy = pruned_copy
    shard, seq = copy.query("SELECT shard, seq FROM ledger_records WHERE event_id = {id:UUID}",
                            parameters={"id": emitted["acme"][3]}).result_rows[0]  # fmt: skip
    copy.command(f"ALTER TABLE ledger_records DELETE WHERE shard = {shard} AND seq = {seq} "
                 "SETTINGS mutations_sync = 2")  # fmt: skip
    code, report = verify(settings, database)
    assert code == 1
    assert [(p["shard"], p["seq"], p["kind"]) for p in report["problems"]] == [(shard, seq, "deleted")]
    assert "tenant 'acme'" in report["problems"][0]["detail"]


def test_stack_up_applies_a_changed_policy_to_existing_topics(settings: Settings) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    from auditledger.topics import ensure_topics

    def retention_ms(topic: str) -> str:
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        resource = ConfigResource(ResourceType.TOPIC, topic)
        return admin.describe_configs([resource])[resource].result(timeout=30)["retention.ms"].value

    longer = replace(settings, retention_tenants="acme=800")
    try:
        assert ensure_topics(settings.kafka_bootstrap, longer) == []  # nothing created: all exist
        assert retention_ms(settings.topics.ledger) == str(800 * 86_400_000)
        assert retention_ms(settings.topics.checkpoints) == "-1"
    finally:
        ensure_topics(settings.kafka_bootstrap, settings)
    assert retention_ms(settings.topics.ledger) == str(400 * 86_400_000)
