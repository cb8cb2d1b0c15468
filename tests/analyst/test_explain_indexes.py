"""Proof that the queries `auditledger query` sends for a time range, an actor, a session and an action type
(each within a tenant) are served by the ordering key or a projection, from `EXPLAIN indexes = 1,
projections = 1` on a real engine (chDB in-process, the store's own DDL).

The store holds 1.35M rows in three parts over two monthly partitions; the big part holds 1.08M rows of
tenant `acme`, so ClickHouse's default `min_table_rows_to_use_projection_index` (1M rows read from a part)
is met and nothing here lowers a threshold: these are the plans analysts get."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import clickhouse_connect
import pytest

from ledger.ddl import PROJECTIONS, ensure_schema
from ledger.record_query import RecordFilter, build_query

ACTION_TYPES = "['chain.start', 'llm.request', 'llm.response', 'tool.call', 'tool.result', 'chain.end']"
# number -> one ledger row: tenant acme (9 in 10) or globex, 2 s apart; sessions of 400 events, each run by one
# of 30 agents (so every stretch of the table holds every agent, and a bloom filter cannot narrow an actor),
# except 1 row in 100 that belongs to one of three long-running sessions spanning the whole month; 1 in 97
# rows a db.query. Only the columns the queries filter on matter here.
GENERATED_ROWS = """
INSERT INTO ledger_records (shard, seq, event_id, tenant, occurred_at, sequenced_at, actor_subject, action_type,
                            action_name, session_id, run_id, outcome_status, source_topic)
SELECT number % 3, number, generateUUIDv4(), if(number % 10 = 0, 'globex', 'acme'),
       toDateTime64({start:String}, 6, 'UTC') + toIntervalMillisecond((number - {first:UInt64}) * 2000) AS t, t,
       concat('agent', toString(cityHash64(intDiv(number, 400)) % 30), '@acme.example'),
       if(number % 97 = 0, 'db.query', ACTION_TYPES[number % 6 + 1]), 'demo',
       if(number % 100 = 7, concat('sess-long-', toString(number % 3)), concat('sess-', toString(intDiv(number, 400)))),
       toString(number), 'success', 'events'
FROM numbers({first:UInt64}, {count:UInt64})
SETTINGS max_insert_block_size = 2000000, min_insert_block_size_rows = 2000000
""".replace("ACTION_TYPES", ACTION_TYPES)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    path: Path = tmp_path_factory.mktemp("explain-store")
    ch = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    ensure_schema(ch)
    for start, first, count in (("2026-11-01 00:00:00", 0, 1_200_000),  # one part of 1.2M rows in November
                                ("2026-10-20 00:00:00", 1_200_000, 100_000),  # October: another partition
                                ("2026-11-29 00:00:00", 1_300_000, 50_000)):  # a small November part  # fmt: skip
        ch.command(GENERATED_ROWS, parameters={"start": start, "first": first, "count": count})
    yield ch


def explain(client, f: RecordFilter) -> str:
    """The plan as text, its tree drawing replaced by spaces so that indentation alone shows nesting."""
    query = build_query(f)
    rows = client.query(f"EXPLAIN indexes = 1, projections = 1 {query.sql}", parameters=query.parameters,
                        settings=query.settings).result_rows  # fmt: skip
    return "\n".join(r[0] for r in rows).translate(str.maketrans("│├└─", "    "))


def index_block(plan: str, name: str) -> str:
    """The lines of one index section of the plan (PrimaryKey, Partition, ...), up to the next section."""
    match = re.search(rf"^( +){name}\n(.*?)(?=^\1\S|\Z)", plan, re.M | re.S)
    assert match, f"no {name} section in:\n{plan}"
    return match.group(2)


def selected(block: str, what: str = "Granules") -> tuple[int, int]:
    match = re.search(rf"{what}: (\d+)/(\d+)", block)
    assert match, block
    return int(match.group(1)), int(match.group(2))


def projections_used(plan: str) -> dict[str, dict[str, int]]:
    """Projection name -> its Parts, Marks and Rows, for every projection the plan applies."""
    used: dict[str, dict[str, int]] = {}
    for match in re.finditer(r"Name: (\w+)\n((?: +\w[\w ]*: .*\n?)*)", plan):
        fields = dict(re.findall(r"(\w[\w ]*): (\d+)$", match.group(2), re.M))
        if "will be applied" in match.group(2) or "Marks" in fields:
            used[match.group(1)] = {k: int(v) for k, v in fields.items()}
    return used


def total_rows(client, tenant: str) -> int:
    return int(client.command("SELECT count() FROM ledger_records WHERE tenant = {t:String}", parameters={"t": tenant}))


def test_store_has_the_parts_the_proof_needs(client) -> None:
    parts = client.query("SELECT partition, rows FROM system.parts WHERE table = 'ledger_records' AND active "
                         "ORDER BY rows DESC").result_rows  # fmt: skip
    assert len(parts) == 3 and parts[0][1] == 1_200_000
    assert {p[0] for p in parts} == {"202610", "202611"}


def test_time_range_uses_partition_pruning_and_the_ordering_key(client) -> None:
    since, until = datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC)
    plan = explain(client, RecordFilter(tenant="acme", since=since, until=until))
    parts, all_parts = selected(index_block(plan, "Min-Max"), "Parts")
    assert parts < all_parts  # October and the late-November part are not read at all
    key = index_block(plan, "PrimaryKey")
    assert "occurred_at" in key and "tenant" in key
    granules, of = selected(key)
    assert 0 < granules <= of // 20, plan  # one day of thirty


@pytest.mark.parametrize(
    ("kind", "filter_", "projection"),
    [
        ("actor", RecordFilter(tenant="acme", actors=("agent7@acme.example",)), "by_actor"),
        ("long session", RecordFilter(tenant="acme", sessions=("sess-long-1",)), "by_session"),
        ("action type", RecordFilter(tenant="acme", action_types=("db.query",)), "by_action"),
        ("action prefix", RecordFilter(tenant="acme", action_types=("db.*",)), "by_action"),
    ],
)
def test_actor_session_and_action_queries_use_their_projection(client, kind, filter_, projection) -> None:
    plan = explain(client, filter_)
    used = projections_used(plan)
    assert projection in used, f"{kind}: {projection} not applied:\n{plan}"
    tenant_granules, _ = selected(index_block(plan, "PrimaryKey"))
    assert used[projection]["Marks"] < tenant_granules / 10, plan  # the projection narrows the tenant's granules
    assert used[projection]["Rows"] < total_rows(client, "acme") / 10


def test_a_short_session_is_found_by_its_bloom_filter(client) -> None:
    """A session of a few hundred events lies in a few granules: the idx_session skip index finds them, which
    leaves too few rows to read for ClickHouse to consult the projection as well."""
    plan = explain(client, RecordFilter(tenant="acme", sessions=("sess-1234",)))
    tenant_granules, _ = selected(index_block(plan, "PrimaryKey"))
    skip = index_block(plan, "Skip")
    assert "idx_session" in skip
    granules, of = selected(skip)
    assert of == tenant_granules and granules <= of / 10, plan


def test_every_projection_is_defined_and_built_for_every_part(client) -> None:
    built = client.query("SELECT name, count() FROM system.projection_parts WHERE table = 'ledger_records' AND active "
                         "GROUP BY name").result_rows  # fmt: skip
    assert dict(built) == {name: 3 for name in PROJECTIONS}
