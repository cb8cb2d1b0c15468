"""Filters to SQL: values only ever as parameters, conditions the indexes can use, bad filters refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import clickhouse_connect
import pytest

from ledger.ddl import ensure_schema
from ledger.record_query import FilterError, RecordFilter, build_query, parse_columns, parse_time
from tests.analyst.ledger_rows import insert_rows, ledger_rows

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOSTILE = ("x' OR 1=1 --", "a\\'; DROP TABLE ledger_records; --", "{limit_0:UInt64}", "sess-1') OR ('1'='1")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("15m", NOW - timedelta(minutes=15)),
        ("90s", NOW - timedelta(seconds=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T09:30:00Z", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
        ("2026-11-01T10:30:00+01:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),
        ("2026-11-01 09:30:00", datetime(2026, 11, 1, 9, 30, tzinfo=UTC)),  # no offset: UTC
    ],
)
def test_times_parse_as_iso_or_relative_to_now(text, want) -> None:
    assert parse_time(text, NOW) == want


@pytest.mark.parametrize("text", ["yesterday", "24", "h24", "-3d", "2026-13-01", ""])
def test_unusable_times_are_refused_naming_the_option(text) -> None:
    with pytest.raises(FilterError, match="--until"):
        parse_time(text, NOW, "--until")


def test_every_value_is_a_parameter_and_none_is_in_the_sql_text() -> None:
    f = RecordFilter(
        tenant=HOSTILE[0], actors=HOSTILE[:2], sessions=(HOSTILE[3],), action_types=("tool.*", "db.query"),
        statuses=("failure",), approvals=(HOSTILE[2],), since=NOW - timedelta(days=1), until=NOW,
    )  # fmt: skip
    q = build_query(f)
    for value in (*HOSTILE, "tool.", "db.query", "failure", "2026-11-23"):
        assert value not in q.sql
    values = list(q.parameters.values())
    assert set(HOSTILE) <= set(values) and "tool." in values and "db.query" in values
    assert "startsWith(action_type, {action_prefix_" in q.sql
    assert "ORDER BY occurred_at ASC, shard ASC, seq ASC" in q.sql


def test_conditions_are_the_forms_the_ordering_key_and_projections_serve() -> None:
    q = build_query(RecordFilter(tenant="acme", actors=("a",), sessions=("s1", "s2"), since=NOW))
    assert "tenant = {tenant_" in q.sql and "actor_subject = {actor_subject_" in q.sql
    assert "session_id IN ({session_id_" in q.sql and "occurred_at >= {since_" in q.sql
    assert q.settings == {"optimize_read_in_order": 0}  # read-in-order would keep the projections out
    assert build_query(RecordFilter(tenant="acme", since=NOW)).settings == {}  # time range: the ordering key itself


def test_columns_are_checked_against_the_table() -> None:
    assert parse_columns("occurred_at, prompt,masked") == ("occurred_at", "prompt", "masked")
    for bad in ("occurred_at; DROP TABLE x", "entry", "nope", " , "):
        with pytest.raises(FilterError, match="--columns"):
            parse_columns(bad)


@pytest.mark.parametrize(
    ("f", "option"),
    [
        (RecordFilter(limit=0), "--limit"),
        (RecordFilter(since=NOW, until=NOW - timedelta(hours=1)), "--since"),
        (RecordFilter(statuses=("ok",)), "--status"),
        (RecordFilter(action_types=("tool.* OR 1",)), "--action-type"),
        (RecordFilter(action_types=("*",)), "--action-type"),
        (RecordFilter(actors=("",)), "--actor"),
        (RecordFilter(columns=("seq", "leaf_hash")), "--columns"),
    ],
)
def test_bad_filters_are_refused_before_anything_is_sent(f, option) -> None:
    with pytest.raises(FilterError, match=option):
        build_query(f)


@pytest.fixture(scope="module")
def engine(tmp_path_factory, store):
    """A real engine with a few hundred demo rows of two tenants, one of them with hostile-looking values."""
    from producers.demo_session import demo_events

    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path_factory.mktemp('query-store')}")
    ensure_schema(client)
    events = list(demo_events(200, sessions=4, tenant="acme", seed=5))
    events += list(demo_events(50, sessions=1, tenant=HOSTILE[0], seed=6))
    insert_rows(client, list(ledger_rows(events, store)))
    return client, events


def run(client, f: RecordFilter) -> list[tuple]:
    q = build_query(f)
    return client.query(q.sql, parameters=q.parameters, settings=q.settings).result_rows


def test_the_engine_returns_exactly_the_matching_records_in_time_order(engine) -> None:
    client, events = engine
    acme = [e for e in events if e["tenant"] == "acme"]
    session = acme[0]["correlation"]["session_id"]
    rows = run(client, RecordFilter(tenant="acme", sessions=(session,), columns=("event_id", "occurred_at"),
                                    limit=1000))  # fmt: skip
    want = sorted((e for e in acme if e["correlation"]["session_id"] == session), key=lambda e: e["occurred_at"])
    assert [str(r[0]) for r in rows] == [e["event_id"] for e in want]
    tools = run(client, RecordFilter(tenant="acme", action_types=("tool.*",), columns=("action_type",), limit=1000))
    assert {r[0] for r in tools} == {"tool.call", "tool.result"}
    assert len(tools) == sum(e["action"]["type"].startswith("tool.") for e in acme)


def test_a_hostile_value_matches_only_itself(engine) -> None:
    client, events = engine
    hostile = run(client, RecordFilter(tenant=HOSTILE[0], columns=("tenant",), limit=1000))
    assert len(hostile) == 50 and {r[0] for r in hostile} == {HOSTILE[0]}
    assert run(client, RecordFilter(tenant="acme", actors=(HOSTILE[1],))) == []
    assert run(client, RecordFilter(tenant="acme", sessions=(HOSTILE[3],))) == []
