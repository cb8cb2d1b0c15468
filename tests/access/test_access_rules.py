"""Which read-only statements are refused (from the engine's own parse), credentials, the tenant filter value."""

from __future__ import annotations

import base64

import chdb
import pytest

from ledger.access_rules import CredentialsError, refusal, request_credentials, tenant_filters


@pytest.fixture(scope="module")
def engine():
    conn = chdb.connect(":memory:")
    yield conn
    conn.close()


def ast(engine, sql: str) -> str:
    return engine.query("EXPLAIN AST " + sql, "TSV").bytes().decode()


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT * FROM merge('default', '^ledger')", "table function merge()"),
        ("SELECT 1 FROM numbers(2) WHERE 1 IN (SELECT 1 FROM mergeTreeIndex(default, ledger_records))",
         "table function mergeTreeIndex()"),
        ("SELECT * FROM view(SELECT * FROM loop(ledger_records))", "table function loop()"),
        ("SELECT * FROM ledger_records AS r JOIN remote('h', default.t) AS x USING seq", "table function remote()"),
        ("SELECT joinGet('j', 'tenant', 1)", "function joinGet()"),
        ("SELECT dictGetString('d', 'tenant', 1)", "function dictGetString()"),
        ("SELECT query FROM system.processes", "system.processes is not available to analysts"),
        ("SELECT 1 WHERE 'x' IN system.processes", "system.processes is not available to analysts"),
    ],
)  # fmt: skip
def test_paths_around_the_tenant_filter_are_refused(engine, sql: str, why: str) -> None:
    reason = refusal(ast(engine, sql), "default", analyst=True)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT tenant, count() FROM ledger_records GROUP BY tenant FORMAT Native",
        "SELECT * FROM default.ledger_records AS merge INNER JOIN ledger_sessions USING session_id",
        "SELECT * FROM numbers(10) UNION ALL SELECT * FROM view(SELECT seq FROM ledger_records)",
        "SELECT name FROM system.tables WHERE database = currentDatabase()",
        "SELECT merge FROM ledger_records",
        "SHOW TABLES",
        "DESCRIBE TABLE ledger_records",
        "EXPLAIN SELECT * FROM ledger_records",
    ],
)
def test_ordinary_reads_pass(engine, sql: str) -> None:
    assert refusal(ast(engine, sql), "default", analyst=True) is None


def test_system_tables_by_current_database_and_for_auditors(engine) -> None:
    assert refusal(ast(engine, "SELECT * FROM processes"), "system", analyst=True) is not None
    assert refusal(ast(engine, "SELECT * FROM processes"), "default", analyst=True) is None
    assert refusal(ast(engine, "SELECT * FROM system.parts"), "default", analyst=False) is None
    assert refusal("", "default", analyst=False) == "the statement could not be inspected"


def basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


def test_credentials_each_way_and_none() -> None:
    assert request_credentials(basic("ana:pa:ss"), "") == ("ana", "pa:ss")
    assert request_credentials({"X-ClickHouse-User": "ana", "X-ClickHouse-Key": "k"}, "") == ("ana", "k")
    assert request_credentials({}, "query=SELECT+1&user=ana&password=p%26w") == ("ana", "p&w")
    assert request_credentials({}, "query=SELECT+1") is None


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": "Bearer x"}, ""),
        ({"Authorization": "Basic !!!"}, ""),
        (basic("no-colon"), ""),
        (basic("ana:pw"), "user=bob&password=x"),
        ({"X-ClickHouse-User": "ana"}, "password=x"),
    ],
    ids=["not-basic", "not-base64", "no-colon", "basic-and-url", "header-and-url"],
)
def test_malformed_or_mixed_credentials_are_refused(headers: dict[str, str], query: str) -> None:
    with pytest.raises(CredentialsError):
        request_credentials(headers, query)


def test_tenant_filter_quotes_what_it_embeds(engine) -> None:
    value = tenant_filters([("default", "ledger_records"), ("side", "it's")], ["a", "o'b\\c"])
    assert value.startswith("{'default.ledger_records': 'tenant IN (")
    engine.query("SET additional_table_filters = " + value)  # the engine accepts it as a Map literal
    got = engine.query("SELECT getSetting('additional_table_filters')", "TSVRaw").bytes().decode().strip()
    assert "side.it\\'s" in got and "o\\\\\\'b" in got
