"""ClickHouse's HTTP query interface, served from the ledger process's in-process chDB engine.

Why: only one process can open a chDB data directory, yet analysts, the verifier CLI and tests
need the store. The ledger process owns it and serves the HTTP protocol a ClickHouse server
speaks, so every other process uses plain ``clickhouse_connect.get_client(host=..., port=...)``.
In-process code keeps using ``get_client(dsn="chdb:///path")``: chDB hosts one engine per
process, and any number of connections share it.

Each request runs on a short-lived chDB connection of its own (about a millisecond to open), so
requests run in parallel, a long streaming query blocks nobody, and ``USE``/``SET`` state never
leaks from one request into another, as with a ClickHouse server used without sessions.

With a users file (``ledger.access``) every request but ``/ping`` must authenticate, as on a server.
Admins run as before; auditors and analysts run with ``readonly = 1`` applied last, analysts also with
``additional_table_filters`` limiting every tenant table to their tenants, and read-only statements are
inspected first for the paths that filter does not cover (``ledger.access_rules``).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import chdb

from ledger.access import StoreUser, UsersFile, UsersFileError
from ledger.access_rules import CredentialsError, request_credentials
from ledger.http_protocol import (
    STREAMABLE_FORMATS,
    RequestError,
    RequestParams,
    Statement,
    content_type,
    decode_body,
    exception_text,
    http_status,
    parse_params,
    quote,
    read_body,
    read_form_fields,
    read_statement,
    response_encoder,
    summary_header,
)
from ledger.read_only_requests import REALM, AuthenticationFailed, inspect_statement, restrict_connection

logger = logging.getLogger(__name__)

_KEEP_ALIVE_SECONDS = 30
_STOP_WAIT_SECONDS = 10.0
# Names chDB's Python wrapper turns into Python objects instead of ClickHouse output bytes.
_PYTHON_FORMATS = frozenset({"dataframe", "arrowtable", "datastore", "debug"})
_Encoding = tuple[str, Any] | None  # Content-Encoding name and a compressor, or no compression


class ClickHouseHTTPInterface:
    """Serves ClickHouse's HTTP interface on host:port from the chDB engine at ``path``.

    ``access`` is the users file every request authenticates against; ``access=None`` must be said
    explicitly and serves without authentication (protocol tests). With ``allow_writes=False`` every
    query runs with ``readonly=1``, so the engine itself refuses INSERT, DDL, mutations and table functions.
    """

    def __init__(
        self, path: str, *, access: UsersFile | None, host: str = "127.0.0.1", port: int = 0, allow_writes: bool = True
    ) -> None:
        # clickhouse-connect's chdb client resolves the path the same way; chDB compares it literally.
        self.path = os.path.realpath(path)
        self.host = host
        self.access = access
        self.allow_writes = allow_writes
        self.version = ""
        self.timezone = "UTC"
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._anchor: Any = None
        self._lock = threading.Condition()
        self._active = 0
        self._stopping = False
        self._sockets: set[socket.socket] = set()

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Join (or start) the process's engine at ``path``, then serve from a daemon thread.
        Fails fast when this process's engine is already bound to another path."""
        if self._server is not None:
            return
        # Held until stop(): chDB shuts its engine down when the last connection closes.
        self._anchor = chdb.connect(self.path)
        try:
            info = self._anchor.query("SELECT version(), timezone()", "TabSeparated").bytes()
            self.version, self.timezone = info.decode().strip().split("\t")
            self._stopping = False
            self._server = _Server((self.host, self._port), self)
        except BaseException:
            self._anchor.close()
            raise
        serve = self._server.serve_forever
        self._thread = threading.Thread(target=serve, args=(0.2,), name="clickhouse-http", daemon=True)
        self._thread.start()
        logger.info("ClickHouse HTTP interface for %s listening on %s", self.path, self.url)

    def stop(self) -> None:
        """Stop listening, cut keep-alive connections, let running requests end, release the engine."""
        server, self._server = self._server, None
        if server is None:
            return
        self._port = server.server_address[1]
        with self._lock:
            self._stopping = True
            sockets = list(self._sockets)
        server.shutdown()
        server.server_close()
        for sock in sockets:  # idle keep-alive handlers are blocked reading; this wakes them
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(_STOP_WAIT_SECONDS)
        with self._lock:
            self._lock.wait_for(lambda: self._active == 0, _STOP_WAIT_SECONDS)
        self._anchor.close()
        self._anchor = None

    def __enter__(self) -> ClickHouseHTTPInterface:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._sockets.add if add else self._sockets.discard)(sock)

    def _enter(self) -> bool:
        with self._lock:
            if self._stopping:
                return False
            self._active += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1
            self._lock.notify_all()

    def authenticate(self, headers: Mapping[str, str], query_string: str) -> StoreUser | None:
        """The request's user; None when serving without a users file. Raises AuthenticationFailed."""
        if self.access is None:
            return None
        try:
            given = request_credentials(headers, query_string)
        except CredentialsError as exc:
            logger.info("refused a request: %s", exc)
            raise AuthenticationFailed() from None
        user, password = given or ("default", "")
        try:
            found = self.access.authenticate(user, password)
        except UsersFileError as exc:  # fail closed; the message names the file and user, never a password
            logger.error("users file unusable, refusing every request: %s", exc)
            raise AuthenticationFailed() from None
        if found is None:
            logger.info("authentication failed")
            raise AuthenticationFailed()
        return found

    def _readonly(self, method: str, requested: str | None) -> str | None:
        """readonly=1 when writes are off; GET requests get readonly=2 as on a ClickHouse server."""
        if not self.allow_writes:
            return "1"
        if method == "GET" and requested not in ("1", "2"):
            return "2"
        return requested

    def _connect(
        self, database: str | None, settings: Mapping[str, str], readonly: str | None, user: StoreUser | None = None
    ) -> Any:
        """A fresh engine connection with the request's database and settings applied."""
        conn = chdb.connect(self.path)
        try:
            if database:
                conn.query(f"USE {quote(database, '`')}", "TSV")
            if user is not None and user.read_only:
                restrict_connection(conn, user, settings)
                return conn
            changes = {name: value for name, value in settings.items() if name != "readonly"}
            if readonly is not None:
                changes["readonly"] = readonly  # last, or it would forbid applying the others
            if changes:
                assignments = (f"{name} = {quote(value, chr(39))}" for name, value in changes.items())
                conn.query("SET " + ", ".join(assignments), "TSV")
        except BaseException:
            conn.close()
            raise
        return conn


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() cuts keep-alive sockets itself rather than waiting on their threads

    def __init__(self, address: tuple[str, int], interface: ClickHouseHTTPInterface) -> None:
        self.interface = interface
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("Connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """One HTTP/1.1 connection; each request on it gets a chDB connection of its own."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; don't stall 40 ms
    server_version = "auditledger-chdb"
    timeout = _KEEP_ALIVE_SECONDS
    server: _Server
    _streaming = False

    def setup(self) -> None:
        super().setup()
        self.server.interface._track(self.connection, True)

    def finish(self) -> None:
        self.server.interface._track(self.connection, False)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The request line carries param_ values, which may be personal data: log the path only.
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http: %s", format)  # the arguments may quote the request line

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        has_query = any(part.partition("=")[0] == "query" for part in target.query.split("&"))
        if target.path == "/ping" or (target.path == "/" and not has_query):
            self._reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
        elif target.path == "/":
            self._serve("GET", target.query)
        else:
            self._fail(RequestError(36, "BAD_ARGUMENTS", f"No handler for {target.path[:64]}"), 404)

    def do_POST(self) -> None:
        target = urlsplit(self.path)
        if target.path == "/":
            self._serve("POST", target.query)
        else:
            self.close_connection = True  # the body is left unread
            self._fail(RequestError(36, "BAD_ARGUMENTS", f"No handler for {target.path[:64]}"), 404)

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        else:
            self.send_header("Keep-Alive", f"timeout={_KEEP_ALIVE_SECONDS}")
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, ex: BaseException, status: int | None = None) -> None:
        code, text = exception_text(ex, self.server.interface.version)
        headers = {"Content-Type": "text/plain; charset=UTF-8", "X-ClickHouse-Exception-Code": str(code)}
        if isinstance(ex, AuthenticationFailed):
            status, headers["WWW-Authenticate"] = 401, REALM
        self._reply(status or http_status(text), text.encode("utf-8", "replace") + b"\n", headers)

    def _serve(self, method: str, query_string: str) -> None:
        interface = self.server.interface
        if not interface._enter():
            self.close_connection = True
            self._fail(RequestError(210, "NETWORK_ERROR", "The server is shutting down"), 503)
            return
        self._streaming = body_read = False
        try:
            user = interface.authenticate(self.headers, query_string)
            content_type_header = self.headers.get("Content-Type") or ""
            chunks = decode_body(read_body(self.rfile, self.headers), self.headers.get("Content-Encoding"))
            if "multipart/form-data" in content_type_header:
                fields = read_form_fields(b"".join(chunks), content_type_header)
                body_read = True
                request = parse_params(query_string, fields)
                chunks = iter(())
            else:
                request = parse_params(query_string)
            text, statement, rest = read_statement(request.query.encode(), chunks)
            body_read = statement.insert_format is None
            if not text.strip():
                raise RequestError(62, "SYNTAX_ERROR", "Empty query")
            readonly = interface._readonly(method, request.settings.get("readonly"))
            conn = interface._connect(request.database, request.settings, readonly, user)
            try:
                if user is not None and user.read_only and statement.insert_format is None:
                    inspect_statement(conn, user, text, request.params, request.database or "default")
                if statement.insert_format is not None:
                    self._insert(conn, request, text, statement, rest)
                    body_read = True
                else:
                    self._query(conn, request, text, statement)
            finally:
                conn.close()
        except Exception as ex:
            # An unread body, a half-sent response or a vanished peer all end the connection.
            self.close_connection = self.close_connection or not body_read or self._streaming
            if not self._streaming and not isinstance(ex, (ConnectionError, TimeoutError)):
                logger.debug("Request failed with %s", type(ex).__name__)
                try:
                    self._fail(ex)
                except OSError:
                    self.close_connection = True
        finally:
            interface._leave()

    def _headers(self, request: RequestParams, fmt: str | None) -> dict[str, str]:
        timezone = request.settings.get("session_timezone") or self.server.interface.timezone
        headers = {
            "Content-Type": content_type(fmt) if fmt else "text/plain; charset=UTF-8",
            "X-ClickHouse-Query-Id": request.query_id or str(uuid.uuid4()),
            "X-ClickHouse-Timezone": timezone,
            "X-ClickHouse-Server-Display-Name": "chdb",
        }
        if fmt:  # a result set, even an empty one; clickhouse-connect's command() looks for it
            headers["X-ClickHouse-Format"] = fmt
        return headers

    def _insert(
        self, conn: Any, request: RequestParams, text: bytes, statement: Statement, rest: Iterator[bytes]
    ) -> None:
        """Feed INSERT data to chDB as it arrives: chDB cannot take binary data inline in SQL."""
        with conn.send_insert(statement.insert_sql.decode(), statement.insert_format) as inserter:
            if len(text) > statement.data_start:
                inserter.append(text[statement.data_start :])
            for chunk in rest:
                inserter.append(chunk)
            inserted = inserter.finish()
        headers = self._headers(request, None)
        headers["X-ClickHouse-Summary"] = summary_header(inserted=inserted)
        self._reply(200, b"", headers)

    def _query(self, conn: Any, request: RequestParams, text: bytes, statement: Statement) -> None:
        fmt = statement.output_format or request.default_format or "TabSeparated"
        if fmt.lower() in _PYTHON_FORMATS:
            raise RequestError(73, "UNKNOWN_FORMAT", f"Unknown output format {fmt}")
        try:
            sql: str | bytes = text.decode()
        except UnicodeDecodeError:
            sql = text
        accepted = None
        if request.enable_compression:
            accepted = response_encoder(self.headers.get("Accept-Encoding"))
        # clickhouse-connect asks for wait_end_of_query unless it streams; a buffered result can
        # still fail with a proper error status.
        if statement.streamable and fmt in STREAMABLE_FORMATS and not request.wait_end_of_query:
            self._stream(conn.send_query(sql, fmt, params=dict(request.params)), request, fmt, accepted)
            return
        result = conn.query(sql, fmt, params=dict(request.params))
        body = result.bytes() or b""
        headers = self._headers(request, fmt if body or statement.produces_result else None)
        headers["X-ClickHouse-Summary"] = summary_header(result)
        if accepted and body:
            headers["Content-Encoding"], encoder = accepted
            body = encoder.compress(body) + encoder.flush()
        self._reply(200, body, headers)

    def _stream(self, stream: Any, request: RequestParams, fmt: str, accepted: _Encoding) -> None:
        """Send blocks as chDB produces them, chunked. The first block is fetched before the headers
        so an early failure still gets an error status; a later one is written as ClickHouse's
        tagged exception block, which clickhouse-connect detects and raises."""
        try:
            chunk = stream.fetch()
            tag = secrets.token_hex(8)
            headers = self._headers(request, fmt)
            headers.update({"Transfer-Encoding": "chunked", "X-ClickHouse-Exception-Tag": tag})
            headers["X-ClickHouse-Summary"] = summary_header()
            encoder = None
            if accepted:
                headers["Content-Encoding"], encoder = accepted
            self._streaming = True
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            while chunk is not None:
                self._write_chunk(chunk.bytes(), encoder)
                try:
                    chunk = stream.fetch()
                except Exception as ex:
                    text = exception_text(ex, self.server.interface.version)[1].encode("utf-8", "replace")
                    block = b"__exception__\r\n%s\r\n%s\n%d %s\r\n__exception__\r\n"
                    self._write_chunk(block % (tag.encode(), text, len(text) + 1, tag.encode()), encoder)
                    self.close_connection = True
                    break
            if encoder is not None:
                self._write_chunk(encoder.flush(), None)
            self.wfile.write(b"0\r\n\r\n")
        finally:
            stream.close()

    def _write_chunk(self, data: bytes, encoder: Any) -> None:
        if encoder is not None:
            data = encoder.compress(data)
        if data:  # an empty chunk would end the chunked body
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
