"""The ledger's ClickHouse HTTP interface with a users file: who gets in, what read-only users are refused,
and that an analyst reads their tenant's rows only, whichever way the SQL reaches the table.

Runs the interface on a temporary chDB store with the ledger's own schema (no Kafka); clients are the
stock clickhouse-connect HTTP client and bare urllib requests.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from ledger.access import Role, StoreUser, UsersFile, hash_password, write_users
from ledger.ddl import ensure_schema
from ledger.http_interface import ClickHouseHTTPInterface

PASSWORDS = {"admin": "admin-Pw-1", "audrey": "auditor-Pw-2", "ana": "analyst-Pw-3", "odd": "odd-Pw-4"}
ODD_TENANT = "o'brien\\co"  # a quote and a backslash: the filter must quote it, not break on it
TENANTS = ("a", "b", ODD_TENANT)
Response = tuple[int, dict[str, str], bytes]


def users(**extra: StoreUser) -> dict[str, StoreUser]:
    base = {
        "admin": StoreUser("admin", Role.ADMIN, (), hash_password(PASSWORDS["admin"])),
        "audrey": StoreUser("audrey", Role.AUDITOR, (), hash_password(PASSWORDS["audrey"])),
        "ana": StoreUser("ana", Role.ANALYST, ("a",), hash_password(PASSWORDS["ana"])),
        "odd": StoreUser("odd", Role.ANALYST, (ODD_TENANT,), hash_password(PASSWORDS["odd"])),
    }
    return {**base, **extra}


def ledger_rows() -> list[list[object]]:
    """Rows that put every tenant into every view: an LLM call, a tool call, a covered action with a
    violation, an approval step, and an unverified actor."""
    rows: list[list[object]] = []
    now = dt.datetime.now(dt.UTC)  # recent: the retention TTL prunes old rows
    for i, tenant in enumerate(TENANTS * 2):
        shard, base, session = i % 3, 10 * i, f"s-{tenant}"
        rows += [
            [shard, base, now, tenant, "llm.request", "events", "", [], "verified", "success", session],
            [shard, base + 1, now, tenant, "tool.call", "events", "violation", ["no_approval"], "unverified",
             "failure", session],
            [shard, base + 2, now, tenant, "approval.requested", "approvals", "pending", [], "verified", "success",
             session],
        ]  # fmt: skip
    return rows


ROW_COLUMNS = ["shard", "seq", "sequenced_at", "tenant", "action_type", "source_topic", "approval_status",
               "approval_violations", "identity_status", "outcome_status", "session_id"]  # fmt: skip


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("access") / "clickhouse-users.toml"
    write_users(path, users())
    return path


@pytest.fixture(scope="module")
def interface(tmp_path_factory: pytest.TempPathFactory, users_file: Path) -> Iterator[ClickHouseHTTPInterface]:
    server = ClickHouseHTTPInterface(str(tmp_path_factory.mktemp("store")), access=UsersFile(users_file))
    server.start()
    admin = connect(server, "admin")
    ensure_schema(admin)
    admin.insert("ledger_records", ledger_rows(), column_names=ROW_COLUMNS)
    admin.command("INSERT INTO ledger_checkpoints (shard, tree_size) VALUES (0, 6), (1, 6)")
    admin.command("CREATE DATABASE IF NOT EXISTS side")
    admin.command("CREATE TABLE side.notes (tenant String, note String) ENGINE = MergeTree ORDER BY tenant")
    admin.command("INSERT INTO side.notes VALUES ('a', 'mine'), ('b', 'theirs')")
    admin.command("CREATE TABLE side.plain (x UInt8) ENGINE = MergeTree ORDER BY x")
    admin.command("INSERT INTO side.plain VALUES (1), (2)")
    admin.close()
    yield server
    server.stop()


def connect(server: ClickHouseHTTPInterface, user: str, password: str | None = None, **kwargs: object) -> Client:
    secret = PASSWORDS.get(user, "") if password is None else password
    return clickhouse_connect.get_client(host="127.0.0.1", port=server.port, username=user, password=secret, **kwargs)


@pytest.fixture(scope="module")
def admin(interface: ClickHouseHTTPInterface) -> Iterator[Client]:
    c = connect(interface, "admin")
    yield c
    c.close()


@pytest.fixture(scope="module")
def analyst(interface: ClickHouseHTTPInterface) -> Iterator[Client]:
    c = connect(interface, "ana")
    yield c
    c.close()


@pytest.fixture(scope="module")
def auditor(interface: ClickHouseHTTPInterface) -> Iterator[Client]:
    c = connect(interface, "audrey")
    yield c
    c.close()


def raw(
    server: ClickHouseHTTPInterface, sql: bytes = b"", params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None, path: str = "/",
) -> Response:  # fmt: skip
    url = f"{server.url}{path}?{urllib.parse.urlencode(params or {})}"
    req = urllib.request.Request(url, data=sql or None, headers=headers or {}, method="POST" if sql else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as ex:
        return ex.code, dict(ex.headers), ex.read()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def tenants_seen(c: Client, sql: str) -> set[str]:
    return {row[0] for row in c.query(sql).result_rows}


# -- who gets in ---------------------------------------------------------------------------------------


def test_no_or_wrong_credentials_get_401_and_never_the_password(interface: ClickHouseHTTPInterface) -> None:
    status, headers, body = raw(interface, b"SELECT 1")
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="auditledger"'
    assert headers["X-ClickHouse-Exception-Code"] == "516" and b"(AUTHENTICATION_FAILED)" in body
    wrong = raw(interface, b"SELECT 1", headers=basic("ana", "guess-Secret-99"))
    unknown = raw(interface, b"SELECT 1", headers=basic("nobody", "guess-Secret-99"))
    assert wrong[0] == unknown[0] == 401 and wrong[2] == unknown[2]  # unknown user and wrong password look alike
    assert b"guess-Secret-99" not in wrong[2] and b"guess-Secret-99" not in str(wrong[1]).encode()
    near_miss = raw(interface, b"SELECT 1", headers=basic("ana", PASSWORDS["ana"] + "x"))
    assert near_miss[0] == 401 and PASSWORDS["ana"].encode() not in near_miss[2]
    with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED"):
        connect(interface, "ana", "not-her-password")


def test_every_way_clickhouse_takes_credentials(interface: ClickHouseHTTPInterface) -> None:
    pw = PASSWORDS["ana"]
    assert raw(interface, b"SELECT 1", headers=basic("ana", pw))[2] == b"1\n"
    assert raw(interface, b"SELECT 2", headers={"X-ClickHouse-User": "ana", "X-ClickHouse-Key": pw})[2] == b"2\n"
    assert raw(interface, b"SELECT 3", params={"user": "ana", "password": pw})[2] == b"3\n"
    mixed = raw(interface, b"SELECT 4", params={"user": "ana", "password": pw}, headers=basic("admin", "x"))
    assert mixed[0] == 401
    assert raw(interface, b"SELECT 5", headers={"Authorization": "Bearer abc"})[0] == 401


def test_ping_stays_open(interface: ClickHouseHTTPInterface) -> None:
    assert raw(interface, path="/ping")[:3:2] == (200, b"Ok.\n")
    assert raw(interface, params={"query": "SELECT 1"})[0] == 401  # a GET query is still a query


def test_admin_writes_and_alters(admin: Client) -> None:
    table = f"scratch_{uuid.uuid4().hex[:8]}"
    admin.command(f"CREATE TABLE {table} (x UInt8) ENGINE = MergeTree ORDER BY x")
    admin.insert(table, [[1], [2], [3]], column_names=["x"])
    admin.command(f"ALTER TABLE {table} DELETE WHERE x = 2 SETTINGS mutations_sync = 1")
    assert admin.command(f"SELECT sum(x) FROM {table}") == 4
    admin.command(f"DROP TABLE {table}")


# -- what read-only users are refused ------------------------------------------------------------------

REFUSED = {
    "insert": "INSERT INTO ledger_checkpoints (shard, tree_size) VALUES (9, 9)",
    "insert-select": "INSERT INTO ledger_checkpoints (shard, tree_size) SELECT 9, 9",
    "alter-update": "ALTER TABLE ledger_records UPDATE tenant = 'a' WHERE 1",
    "alter-delete": "ALTER TABLE ledger_records DELETE WHERE 1",
    "delete": "DELETE FROM ledger_records WHERE 1",
    "create": "CREATE TABLE sneaky (x UInt8) ENGINE = Memory",
    "create-temporary": "CREATE TEMPORARY TABLE sneaky (x UInt8)",
    "create-view": "CREATE VIEW sneaky AS SELECT * FROM ledger_records",
    "drop": "DROP TABLE ledger_checkpoints",
    "truncate": "TRUNCATE TABLE ledger_checkpoints",
    "optimize": "OPTIMIZE TABLE ledger_records FINAL",
    "set": "SET max_threads = 1",
    "set-filter": "SET additional_table_filters = {'default.ledger_records': '1'}",
    "settings-clause": "SELECT count() FROM ledger_records SETTINGS max_threads = 1",
    "settings-filter": "SELECT count() FROM ledger_records SETTINGS additional_table_filters = {'x.y': '1'}",
    "settings-readonly-0": "SELECT count() FROM ledger_records SETTINGS readonly = 0",
    "file": "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "url": "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
    "merge": "SELECT tenant FROM merge('default', '^ledger_records$')",
    "merge-in-view": "SELECT count() FROM view(SELECT * FROM merge('^ledger_rec'))",
    "merge-tree-index": "SELECT * FROM mergeTreeIndex(default, ledger_records)",
    "remote": "SELECT * FROM remote('127.0.0.1', default.ledger_records)",
    "loop": "SELECT * FROM loop(ledger_records) LIMIT 1",
    "join-get": "SELECT joinGet('ledger_records', 'tenant', 1)",
    "multi-statement": "SELECT 1; SELECT tenant FROM merge('^ledger_rec')",
    "insert-function": "INSERT INTO FUNCTION file('sneaky.csv', 'CSV', 'x UInt8') VALUES (1)",
}


@pytest.mark.parametrize("user", ["audrey", "ana"])
@pytest.mark.parametrize("sql", list(REFUSED.values()), ids=list(REFUSED))
def test_read_only_users_are_refused(interface: ClickHouseHTTPInterface, admin: Client, user: str, sql: str) -> None:
    before = admin.query("SELECT count(), sum(seq) FROM ledger_records").result_rows
    c = connect(interface, user)
    try:
        with pytest.raises(DatabaseError) as refused:
            c.command(sql)
        assert refused.value.code in (164, 497, 62), str(refused.value)  # READONLY, ACCESS_DENIED, multi-statement
        assert (
            "(READONLY)" in str(refused.value)
            or "(ACCESS_DENIED)" in str(refused.value)
            or ("Multi-statements" in str(refused.value))
        )
    finally:
        c.close()
    assert admin.query("SELECT count(), sum(seq) FROM ledger_records").result_rows == before
    assert admin.command("SELECT count() FROM ledger_checkpoints") == 2
    assert admin.command("SELECT count() FROM system.tables WHERE name = 'sneaky'") == 0


@pytest.mark.parametrize(
    "sql",
    ["SET additional_table_filters = {}", "SELECT tenant FROM ledger_records SETTINGS additional_table_filters = {}"],
    ids=["set", "settings-clause"],
)
def test_analyst_cannot_clear_the_tenant_filter(analyst: Client, sql: str) -> None:
    with pytest.raises(DatabaseError, match="Cannot modify 'additional_table_filters' setting in readonly mode"):
        analyst.command(sql)
    assert tenants_seen(analyst, "SELECT tenant FROM ledger_records") == {"a"}


@pytest.mark.parametrize("user", ["audrey", "ana"])
def test_client_inserts_are_refused(interface: ClickHouseHTTPInterface, admin: Client, user: str) -> None:
    c = connect(interface, user)
    with pytest.raises(DatabaseError, match="READONLY"):
        c.insert("ledger_checkpoints", [[7, 7]], column_names=["shard", "tree_size"])
    c.close()
    assert admin.command("SELECT count() FROM ledger_checkpoints") == 2


@pytest.mark.parametrize(
    "setting",
    [{"readonly": "0"}, {"additional_table_filters": "{}"}, {"max_threads": "1"}],
    ids=["readonly-0", "clear-tenant-filter", "any-setting"],
)
def test_settings_in_the_url_are_refused(interface: ClickHouseHTTPInterface, setting: dict[str, str]) -> None:
    credentials = basic("ana", PASSWORDS["ana"])
    status, headers, body = raw(interface, b"SELECT count() FROM ledger_records", setting, credentials)
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (403, "164"), body
    assert b"Cannot modify" in body


def test_auditor_reads_every_tenant_and_the_system_tables(auditor: Client, admin: Client) -> None:
    assert tenants_seen(auditor, "SELECT DISTINCT tenant FROM ledger_records") == set(TENANTS)
    assert auditor.command("SELECT count() FROM ledger_records") == admin.command("SELECT count() FROM ledger_records")
    assert auditor.command("SELECT count() > 0 FROM system.parts WHERE table = 'ledger_records'") == 1


# -- an analyst sees their tenant's rows only ----------------------------------------------------------

ONE_TENANT_QUERIES = {
    "table": "SELECT tenant FROM ledger_records",
    "qualified": "SELECT tenant FROM default.ledger_records",
    "backquoted": "SELECT tenant FROM `default`.`ledger_records`",
    "subquery": "SELECT tenant FROM (SELECT * FROM ledger_records WHERE tenant != 'a' OR 1)",
    "cte": "WITH r AS (SELECT tenant FROM ledger_records) SELECT tenant FROM r",
    "join": "SELECT s.tenant FROM ledger_records AS r INNER JOIN default.ledger_records AS s ON r.seq = s.seq",
    "union": "SELECT tenant FROM ledger_records UNION ALL SELECT tenant FROM default.ledger_leaves",
    "union-distinct": "SELECT tenant FROM ledger_sessions UNION DISTINCT SELECT tenant FROM ledger_records",
    "in-subquery": "SELECT arrayJoin(['a', 'b']) AS tenant WHERE tenant IN (SELECT tenant FROM ledger_records)",
    "scalar": "SELECT arrayJoin((SELECT groupArray(tenant) FROM ledger_records)) AS tenant",
    "view-function": "SELECT tenant FROM view(SELECT tenant FROM ledger_records)",
    "leaves": "SELECT tenant FROM ledger_leaves",
    "other-database": "SELECT tenant FROM side.notes",
    "prewhere": "SELECT tenant FROM ledger_records PREWHERE tenant = 'b' OR 1",
}


@pytest.mark.parametrize("sql", list(ONE_TENANT_QUERIES.values()), ids=list(ONE_TENANT_QUERIES))
def test_analyst_sees_only_their_tenant(analyst: Client, admin: Client, sql: str) -> None:
    assert tenants_seen(admin, sql) >= {"a", "b"}  # the query does reach other tenants' rows
    assert tenants_seen(analyst, sql) == {"a"}


def test_analyst_counts_and_in_table_see_their_tenant_only(analyst: Client, admin: Client) -> None:
    own = admin.command("SELECT count() FROM ledger_records WHERE tenant = 'a'")
    assert own > 0 and analyst.command("SELECT count() FROM ledger_records") == own
    assert analyst.command("SELECT count() FROM ledger_records WHERE tenant = 'b'") == 0
    assert analyst.command("SELECT uniqExact(tenant) FROM ledger_records") == 1
    probe = "SELECT (toUInt32({s:UInt32}), toUInt64({q:UInt64})) IN (SELECT shard, seq FROM ledger_leaves)"
    b_leaf = admin.query("SELECT shard, seq FROM ledger_leaves WHERE tenant = 'b' LIMIT 1").result_rows[0]
    assert admin.command(probe, parameters={"s": b_leaf[0], "q": b_leaf[1]}) == 1
    assert analyst.command(probe, parameters={"s": b_leaf[0], "q": b_leaf[1]}) == 0
    assert admin.command("SELECT ('b', 'theirs') IN side.notes") == 1
    assert analyst.command("SELECT ('b', 'theirs') IN side.notes") == 0  # IN <table> reads through the filter


def test_every_view_shows_the_analyst_their_tenant_only(analyst: Client, admin: Client) -> None:
    views = [row[0] for row in admin.query(
        "SELECT t.name FROM system.tables AS t INNER JOIN system.columns AS c ON c.database = t.database "
        "AND c.table = t.name WHERE t.database = 'default' AND t.engine = 'View' AND c.name = 'tenant'"
    ).result_rows]  # fmt: skip
    assert {"ledger_sessions", "ledger_llm_calls", "ledger_tool_calls", "ledger_privileged_actions"} <= set(views)
    for view in views:
        everyone = tenants_seen(admin, f"SELECT DISTINCT tenant FROM {view}")
        assert tenants_seen(analyst, f"SELECT DISTINCT tenant FROM {view}") == everyone & {"a"}, view
        assert tenants_seen(analyst, f"SELECT DISTINCT tenant FROM default.{view}") == everyone & {"a"}, view
        assert "b" in everyone, f"{view}: the fixture rows should reach every view"


def test_tables_without_tenant_data_stay_readable(analyst: Client, admin: Client) -> None:
    assert analyst.command("SELECT count() FROM ledger_checkpoints") == 2
    assert analyst.command("SELECT sum(x) FROM side.plain") == 3
    frame = analyst.query_df("SELECT shard, tree_size FROM ledger_checkpoints ORDER BY shard")
    assert list(frame["tree_size"]) == [6, 6]
    assert analyst.query_arrow("SELECT tenant FROM ledger_records").column("tenant").to_pylist() == ["a"] * 6


def test_analyst_gets_the_catalogue_but_not_other_system_tables(analyst: Client) -> None:
    assert analyst.command("SELECT count() FROM system.tables WHERE name = 'ledger_records'") == 1
    assert analyst.command("SELECT count() > 10 FROM system.columns WHERE table = 'ledger_records'") == 1
    for sql in ("SELECT query FROM system.processes", "SELECT * FROM system.parts",
                "SELECT 1 WHERE 'x' IN (SELECT query FROM system.processes)"):  # fmt: skip
        with pytest.raises(DatabaseError, match="ACCESS_DENIED"):
            analyst.command(sql)


def test_a_tenant_with_quotes_is_quoted_not_broken(interface: ClickHouseHTTPInterface) -> None:
    c = connect(interface, "odd")
    assert tenants_seen(c, "SELECT tenant FROM ledger_records") == {ODD_TENANT}
    c.close()


# -- the users file is re-read -------------------------------------------------------------------------


def test_users_file_changes_apply_without_a_restart(interface: ClickHouseHTTPInterface, users_file: Path) -> None:
    with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED"):
        connect(interface, "bea", "bea-Pw-5")
    try:
        write_users(users_file, users(bea=StoreUser("bea", Role.ANALYST, ("b",), hash_password("bea-Pw-5"))))
        bea = connect(interface, "bea", "bea-Pw-5")
        assert tenants_seen(bea, "SELECT tenant FROM ledger_records") == {"b"}
        time.sleep(0.01)  # a distinct mtime even on coarse clocks; size differs anyway
        write_users(users_file, users(bea=StoreUser("bea", Role.ANALYST, ("a", "b"), hash_password("bea-Pw-5"))))
        assert tenants_seen(bea, "SELECT tenant FROM ledger_records") == {"a", "b"}
        write_users(users_file, users())
        with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED"):
            bea.command("SELECT 1")  # removed: the next request is refused, the remembered password too
        bea.close()
    finally:
        write_users(users_file, users())


def test_a_broken_users_file_refuses_everyone_until_fixed(interface: ClickHouseHTTPInterface, users_file: Path) -> None:
    good = users_file.read_text()
    try:
        users_file.write_text(good.replace('role = "admin"', 'role = "boss"'))
        assert raw(interface, b"SELECT 1", headers=basic("admin", PASSWORDS["admin"]))[0] == 401
    finally:
        users_file.write_text(good)
    assert raw(interface, b"SELECT 1", headers=basic("admin", PASSWORDS["admin"]))[2] == b"1\n"
