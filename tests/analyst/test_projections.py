"""The analyst projections: an existing store gets them, ensure_schema stays idempotent, and they cost a small
fraction of the table (they hold a sort key and a row offset, never a copy of the row)."""

from __future__ import annotations

import time

import clickhouse_connect
import pytest

from ledger.ddl import LEDGER_RECORDS, PROJECTIONS, ensure_projections, ensure_schema
from tests.analyst.ledger_rows import demo_rows, insert_rows


def wait_mutations_done(client, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while client.command("SELECT count() FROM system.mutations WHERE table = 'ledger_records' AND NOT is_done"):
        assert time.monotonic() < deadline, "projection not materialized in time"
        time.sleep(0.1)


def built_projections(client) -> dict[str, int]:
    rows = client.query("SELECT name, sum(rows) FROM system.projection_parts WHERE table = 'ledger_records' "
                        "AND active GROUP BY name").result_rows  # fmt: skip
    return {name: int(n) for name, n in rows}


@pytest.fixture(scope="module")
def rows(store):
    return demo_rows(20_000, store)


def test_a_store_from_before_the_projections_gets_them_built_for_its_rows(tmp_path, rows) -> None:
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path}")
    client.command(LEDGER_RECORDS)  # the table as an older version created it: no projections
    insert_rows(client, rows, parts=4)
    assert built_projections(client) == {}
    ensure_schema(client)
    wait_mutations_done(client)
    assert built_projections(client) == {name: len(rows) for name in PROJECTIONS}
    ensure_schema(client)  # idempotent: nothing added, nothing rebuilt
    assert ensure_projections(client) == []
    assert client.command("SELECT count() FROM system.mutations WHERE table = 'ledger_records' "
                          "AND command LIKE '%MATERIALIZE PROJECTION%'") == len(PROJECTIONS)  # fmt: skip


def test_projections_cost_a_small_fraction_of_the_table(tmp_path, rows) -> None:
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp_path}")
    ensure_schema(client)
    insert_rows(client, rows, parts=2)
    client.command("OPTIMIZE TABLE ledger_records FINAL")
    table = int(client.command("SELECT sum(bytes_on_disk) FROM system.parts WHERE table = 'ledger_records' AND active"))
    projections = int(client.command("SELECT sum(bytes_on_disk) FROM system.projection_parts "
                                     "WHERE table = 'ledger_records' AND active"))  # fmt: skip
    assert built_projections(client) == {name: len(rows) for name in PROJECTIONS}
    # A full projection (SELECT *) would add about 70% of the table each; these add a few percent together.
    assert projections < 0.15 * (table - projections), (projections, table)
