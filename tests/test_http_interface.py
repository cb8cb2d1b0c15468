"""The ledger process's ClickHouse HTTP interface, driven by the stock clickhouse-connect HTTP client.

Everything runs against a real chDB store in a temporary directory: the point is that other
processes can treat the ledger's in-process engine exactly like a ClickHouse server.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import chdb
import clickhouse_connect
import lz4.frame
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, StreamFailureError

from ledger.http_interface import ClickHouseHTTPInterface

COLUMNS = ["id", "s", "ts", "m", "lc", "arr"]
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
Response = tuple[int, dict[str, str], bytes]


@pytest.fixture(scope="module")
def interface(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseHTTPInterface]:
    server = ClickHouseHTTPInterface(str(tmp_path_factory.mktemp("ledger-store")), access=None)
    server.start()
    yield server
    server.stop()


def http_client(server: ClickHouseHTTPInterface, **kwargs: object) -> Client:
    return clickhouse_connect.get_client(host="127.0.0.1", port=server.port, **kwargs)


@pytest.fixture
def client(interface: ClickHouseHTTPInterface) -> Iterator[Client]:
    c = http_client(interface)
    yield c
    c.close()


def new_table(c: Client) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    c.command(
        f"CREATE TABLE {name} (id UInt64, s String, ts DateTime64(6, 'UTC'), m Map(String, String), "
        "lc LowCardinality(String), arr Array(UInt32)) ENGINE = MergeTree ORDER BY id"
    )
    return name


def sample_rows(n: int) -> list[list[object]]:
    def row(i: int) -> list[object]:
        when = EPOCH + dt.timedelta(microseconds=1001 * i)
        return [i, f"event-{i}", when, {"k": str(i), "agent": "a"}, f"lc{i % 3}", list(range(i % 5))]

    return [row(i) for i in range(n)]


def request(
    server: ClickHouseHTTPInterface,
    sql: bytes = b"",
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> Response:
    """A bare HTTP request, to check what the wire carries rather than what the client makes of it."""
    url = f"{server.url}/?{urllib.parse.urlencode(params or {})}"
    body = sql if method == "POST" else None
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as ex:
        return ex.code, dict(ex.headers), ex.read()


def test_health_endpoints_answer_ok(interface: ClickHouseHTTPInterface) -> None:
    for path in ("/ping", "/"):
        with urllib.request.urlopen(interface.url + path, timeout=5) as response:
            assert response.read() == b"Ok.\n"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(interface.url + "/nowhere", timeout=5)
    assert missing.value.code == 404
    assert request(interface, b"   ")[:1] == (400,)  # an empty query is an error, not Ok.


def test_handshake_reports_the_engine(client: Client, interface: ClickHouseHTTPInterface) -> None:
    assert interface.url == f"http://127.0.0.1:{interface.port}" and interface.port > 0
    assert client.server_version == chdb.engine_version == interface.version
    assert client.server_tz.utcoffset(None) == dt.timedelta(0)
    assert "max_threads" in client.server_settings
    assert client.ping()
    assert client.command("SELECT 1") == 1
    assert client.command("SELECT 'a', 2") == ["a", "2"]


@pytest.mark.parametrize("compress", [True, False, "zstd", "gzip"], ids=["default", "off", "zstd", "gzip"])
def test_insert_and_read_back_every_column_kind(
    interface: ClickHouseHTTPInterface,
    compress: bool | str,
) -> None:
    c = http_client(interface, compress=compress)
    table = new_table(c)
    rows = sample_rows(3000)
    assert c.insert(table, rows, column_names=COLUMNS).written_rows == 3000

    result = c.query(f"SELECT * FROM {table} ORDER BY id")
    assert result.column_names == tuple(COLUMNS)
    naive = [tuple(r[:2]) + (r[2].replace(tzinfo=None),) + tuple(r[3:]) for r in rows]  # type: ignore[union-attr]
    assert result.result_rows == naive
    assert int(result.summary["result_rows"]) == 3000

    frame = c.query_df(f"SELECT id, s, lc, arr FROM {table} ORDER BY id")
    assert frame.shape == (3000, 4)
    assert frame["s"].iloc[2999] == "event-2999" and list(frame["arr"].iloc[4]) == [0, 1, 2, 3]

    arrow = c.query_arrow(f"SELECT id, s, m FROM {table} ORDER BY id")
    assert arrow.num_rows == 3000
    assert arrow.column("s").to_pylist()[:2] == ["event-0", "event-1"]
    assert arrow.column("m").to_pylist()[7] == [("k", "7"), ("agent", "a")]

    raw = c.raw_query(f"SELECT id, s, lc FROM {table} ORDER BY id", fmt="JSONEachRow")
    lines = [json.loads(line) for line in raw.splitlines()]
    assert len(lines) == 3000 and lines[-1] == {"id": 2999, "s": "event-2999", "lc": "lc2"}
    c.close()


def test_server_side_parameters_survive_quotes_and_newlines(client: Client) -> None:
    table = new_table(client)
    tricky = 'it\'s "quoted"\nsecond line with a \\ backslash and a\ttab'
    rows = [[1, tricky, EPOCH, {}, "x", []], [2, "plain", EPOCH, {}, "x", []]]
    client.insert(table, rows, column_names=COLUMNS)
    echoed = client.query("SELECT {v:String} AS v, length({v:String})", parameters={"v": tricky})
    assert echoed.result_rows == [(tricky, len(tricky.encode()))]
    found = client.query(f"SELECT id FROM {table} WHERE s = {{v:String}}", parameters={"v": tricky})
    assert found.result_rows == [(1,)]


@pytest.mark.parametrize("forced", [False, True], ids=["large-params-switch-to-form", "form-always"])
def test_form_encoded_parameters(interface: ClickHouseHTTPInterface, forced: bool) -> None:
    """Large parameter sets (or form_encode_query_params) arrive as multipart/form-data."""
    c = http_client(interface, form_encode_query_params=forced)
    ids = [f"id-{i:05d}-'quoted'" for i in range(3000 if not forced else 3)]
    result = c.query(
        "SELECT count() FROM (SELECT arrayJoin({ids:Array(String)}) AS id) WHERE id LIKE {pat:String}",
        parameters={"ids": ids, "pat": "id-0000%"},
    )
    assert result.result_rows[0][0] == min(len(ids), 10)


def test_binary_strings_round_trip_byte_exact(client: Client) -> None:
    table = f"bin_{uuid.uuid4().hex[:12]}"
    client.command(f"CREATE TABLE {table} (id UInt8, b String) ENGINE = MergeTree ORDER BY id")
    payload = bytes(range(256))
    client.insert(table, [[1, payload], [2, payload[::-1]]], column_names=["id", "b"])
    result = client.query(f"SELECT b FROM {table} ORDER BY id", query_formats={"String": "bytes"})
    assert [row[0] for row in result.result_rows] == [payload, payload[::-1]]
    assert client.command(f"SELECT hex(b) FROM {table} WHERE id = 1") == payload.hex().upper()


def test_errors_raise_database_error_and_the_server_keeps_serving(
    client: Client, interface: ClickHouseHTTPInterface
) -> None:
    with pytest.raises(DatabaseError, match="SYNTAX_ERROR") as syntax:
        client.command("SELEC 1")
    assert syntax.value.code == 62
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE") as missing:
        client.query("SELECT * FROM no_such_table")
    assert missing.value.code == 60
    status, headers, body = request(interface, b"SELECT * FROM no_such_table")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (404, "60")
    assert body.startswith(b"Code: 60. DB::Exception:")
    assert request(interface, b"SELEC 1")[0] == 400
    assert client.command("SELECT 42") == 42


def test_a_failure_mid_stream_reaches_the_client(client: Client) -> None:
    # One thread and small blocks, so rows certainly arrive before the engine reaches the failure.
    failing = "SELECT throwIf(number = 3000000, 'boom') FROM numbers(4000000)"
    one_thread = {"max_threads": 1, "max_block_size": 10000}
    received = 0
    with pytest.raises(StreamFailureError, match="boom"):
        with client.query_row_block_stream(failing, settings=one_thread) as stream:
            for block in stream:
                received += len(block)
    assert 0 < received <= 3000000
    with client.query_row_block_stream("SELECT number FROM numbers(300000)") as stream:
        assert sum(len(block) for block in stream) == 300000
    assert client.command("SELECT 7") == 7


def test_concurrent_clients_get_their_own_answers(interface: ClickHouseHTTPInterface) -> None:
    def work(worker: int) -> list[bool]:
        c = http_client(interface)
        try:
            checks = []
            for n in range(worker * 1000, worker * 1000 + 8):
                sql = "SELECT sum(number), {tag:String} FROM numbers({n:UInt64})"
                got = c.query(sql, parameters={"n": n, "tag": str(n)})
                checks.append(got.result_rows == [(n * (n - 1) // 2, str(n))])
            return checks
        finally:
            c.close()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(1, 9)))
    assert all(all(checks) for checks in results) and len(results) == 8


def test_an_open_stream_does_not_block_other_queries(interface: ClickHouseHTTPInterface) -> None:
    reader, other = http_client(interface), http_client(interface)
    with reader.query_row_block_stream("SELECT number FROM numbers(5000000)") as stream:
        first = next(iter(stream))
        started = time.monotonic()
        assert other.command("SELECT count() FROM numbers(10)") == 10
        assert time.monotonic() - started < 5
    assert first[0] == (0,)
    reader.close()
    other.close()


def test_in_process_chdb_client_and_http_share_one_engine(
    client: Client,
    interface: ClickHouseHTTPInterface,
) -> None:
    table = new_table(client)
    local = clickhouse_connect.get_client(dsn=f"chdb://{interface.path}")
    try:
        local.insert(table, sample_rows(10), column_names=COLUMNS)
        assert client.command(f"SELECT count() FROM {table}") == 10
        client.insert(table, sample_rows(25)[10:], column_names=COLUMNS)
        assert local.command(f"SELECT count() FROM {table}") == 25
        query = f"SELECT * FROM {table} ORDER BY id"
        assert client.query(query).result_rows == local.query(query).result_rows
    finally:
        local.close()


def test_settings_and_database_apply_to_one_request_only(
    client: Client,
    interface: ClickHouseHTTPInterface,
) -> None:
    probe = "SELECT getSetting('max_block_size')"
    assert client.query(probe, settings={"max_block_size": 1234}).result_rows == [(1234,)]
    assert client.query(probe).result_rows != [(1234,)]
    database = f"db_{uuid.uuid4().hex[:8]}"
    client.command(f"CREATE DATABASE {database}")
    client.command(f"CREATE TABLE {database}.only_here (x UInt8) ENGINE = Memory")
    scoped = http_client(interface, database=database)
    scoped.insert("only_here", [[5]], column_names=["x"])
    assert scoped.command("SELECT sum(x) FROM only_here") == 5
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE"):
        client.command("SELECT sum(x) FROM only_here")
    scoped.close()


def test_default_format_and_response_headers(interface: ClickHouseHTTPInterface) -> None:
    status, headers, body = request(interface, b"SELECT 1 AS x", {"wait_end_of_query": "1"})
    assert (status, body, headers["X-ClickHouse-Format"]) == (200, b"1\n", "TabSeparated")
    assert headers["X-ClickHouse-Timezone"] and headers["X-ClickHouse-Query-Id"]
    assert json.loads(headers["X-ClickHouse-Summary"])["result_rows"] == "1"
    status, headers, body = request(interface, b"SELECT 1 AS x")  # streamed as the engine produces it
    assert (status, body, headers["X-ClickHouse-Format"]) == (200, b"1\n", "TabSeparated")

    assert request(interface, b"SELECT 1 AS x", {"default_format": "JSONEachRow"})[2] == b'{"x":1}\n'
    explicit = request(interface, b"SELECT 1 AS x FORMAT CSVWithNames", {"default_format": "JSONEachRow"})
    assert (explicit[2], explicit[1]["X-ClickHouse-Format"]) == (b'"x"\n1\n', "CSVWithNames")
    assert request(interface, params={"query": "SELECT {a:UInt8} + 1", "param_a": "41"})[2] == b"42\n"


def test_compressed_request_bodies_and_responses(client: Client, interface: ClickHouseHTTPInterface) -> None:
    client.command("CREATE TABLE csv_in (a UInt32, b String) ENGINE = MergeTree ORDER BY a")
    csv = "".join(f"{i},row {i}\n" for i in range(500)).encode()
    insert = {"query": "INSERT INTO csv_in FORMAT CSV"}
    status, headers, _ = request(interface, gzip.compress(csv), insert, {"Content-Encoding": "gzip"})
    assert status == 200 and json.loads(headers["X-ClickHouse-Summary"])["written_rows"] == "500"
    for encoding, decode in (("lz4", lz4.frame.decompress), ("gzip", gzip.decompress)):
        accept = {"Accept-Encoding": encoding}
        status, headers, body = request(interface, b"SELECT sum(a) FROM csv_in", headers=accept)
        assert headers["Content-Encoding"] == encoding and decode(body) == b"124750\n"
    assert request(interface, b"\x00garbage", insert, {"Content-Encoding": "lz4"})[0] == 400
    assert client.command("SELECT count() FROM csv_in") == 500


def test_get_requests_are_read_only(interface: ClickHouseHTTPInterface) -> None:
    assert request(interface, params={"query": "SELECT 3"}, method="GET")[2] == b"3\n"
    create = {"query": "CREATE TABLE via_get (x UInt8) ENGINE = Memory"}
    status, headers, _ = request(interface, params=create, method="GET")
    assert (status, headers["X-ClickHouse-Exception-Code"]) == (403, "164")


def test_read_only_interface_refuses_writes(
    client: Client,
    interface: ClickHouseHTTPInterface,
    tmp_path: Path,
) -> None:
    table = new_table(client)
    client.insert(table, sample_rows(3), column_names=COLUMNS)
    writes = [
        f"INSERT INTO {table} (id) VALUES (99)",
        f"ALTER TABLE {table} DELETE WHERE 1",
        f"DROP TABLE {table}",
        "CREATE TABLE sneaky (x UInt8) ENGINE = Memory",
        f"INSERT INTO FUNCTION file('{tmp_path}/sneaky.csv', 'CSV', 'x UInt8') VALUES (1)",
    ]
    with ClickHouseHTTPInterface(interface.path, access=None, allow_writes=False) as read_only:
        reader = http_client(read_only)
        assert reader.command(f"SELECT count() FROM {table}") == 3
        for write in writes:
            with pytest.raises(DatabaseError, match="READONLY"):
                reader.command(write)
        with pytest.raises(DatabaseError, match="READONLY"):
            reader.insert(table, sample_rows(2), column_names=COLUMNS)
        reader.close()
        lifted = request(read_only, writes[0].encode(), {"readonly": "0"})
        assert (lifted[0], lifted[1]["X-ClickHouse-Exception-Code"]) == (403, "164")
    assert client.command(f"SELECT count() FROM {table}") == 3
    assert not (tmp_path / "sneaky.csv").exists()


def test_stop_returns_promptly_despite_keep_alive_connections(interface: ClickHouseHTTPInterface) -> None:
    second = ClickHouseHTTPInterface(interface.path, access=None)
    second.start()
    c = http_client(second)
    assert c.command("SELECT 1") == 1  # leaves a pooled keep-alive connection open
    started = time.monotonic()
    second.stop()
    assert time.monotonic() - started < 3
    with pytest.raises(OperationalError):
        c.command("SELECT 1")
    c.close()
    assert http_client(interface).command("SELECT 2") == 2  # the shared engine is still up


def test_a_second_engine_path_in_the_same_process_is_refused(
    interface: ClickHouseHTTPInterface, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError):
        ClickHouseHTTPInterface(str(tmp_path / "elsewhere"), access=None).start()
    assert http_client(interface).command("SELECT 5") == 5
