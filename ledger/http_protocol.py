"""ClickHouse's HTTP protocol, spelled out for a server whose engine is chDB.

Why a module of its own: the server in ``ledger.http_interface`` only moves bytes between sockets
and chDB. Which URL parameters are settings, where the SQL ends and INSERT data begins, how bodies
are chunked and compressed, and how results and errors are labelled are ClickHouse protocol facts
that clickhouse-connect relies on; they live here.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any, BinaryIO
from urllib.parse import unquote_to_bytes

import lz4.frame

try:  # Python < 3.14 ships zstd as a backport, which clickhouse-connect depends on there.
    from backports import zstd as _zstd
except ImportError:  # pragma: no cover - Python 3.14+
    try:
        from compression import zstd as _zstd  # type: ignore[no-redef]
    except ImportError:
        _zstd = None  # type: ignore[assignment]

# URL parameters the HTTP layer consumes itself; every other plain name is a ClickHouse setting.
TRANSPORT_PARAMS = frozenset(
    {
        "query", "database", "default_format", "user", "password", "quota_key", "role",
        "session_id", "session_timeout", "session_check", "query_id", "compress", "decompress",
        "buffer_size", "wait_end_of_query", "client_protocol_version", "stacktrace",
        "send_progress_in_http_headers", "http_headers_progress_interval_ms", "enable_http_compression",
        "http_zlib_compression_level", "http_native_compression_disable_checksumming_on_decompress",
        "http_response_buffer_size", "http_wait_end_of_query", "add_http_cors_header",
        "cancel_http_readonly_queries_on_client_close",
    }
)  # fmt: skip
# Formats whose per-block chunks concatenate into one valid stream (no global header or footer).
STREAMABLE_FORMATS = frozenset({"Native", "TabSeparated", "TSV", "CSV", "RowBinary", "JSONEachRow"})
# An INSERT's SQL head is looked for only this far into the body; past that the text is a query.
MAX_INSERT_HEAD = 1 << 20
_BAD_REQUEST_ERRORS = frozenset(
    {
        "SYNTAX_ERROR",
        "BAD_ARGUMENTS",
        "BAD_QUERY_PARAMETER",
        "TYPE_MISMATCH",
        "ILLEGAL_COLUMN",
        "INCORRECT_DATA",
    }
)
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLOCK = 1 << 20


class RequestError(Exception):
    """A request ClickHouse itself would refuse, with the code and name it would report."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")


@dataclass(frozen=True)
class RequestParams:
    """The URL parameters of one request, sorted by what consumes them."""

    query: str
    database: str | None
    default_format: str | None
    query_id: str | None
    wait_end_of_query: bool
    enable_compression: bool
    settings: Mapping[str, str]
    params: Mapping[str, str]


def _unquote(text: str) -> str:
    """Percent-decode form style, keeping bytes that are not UTF-8 as surrogates."""
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "surrogateescape")


def _escape_undecodable(value: str) -> str:
    """Spell non-UTF-8 bytes as \\xHH: parameter values use ClickHouse's Escaped format, where
    that escape means exactly the byte, and chDB accepts only text."""
    return re.sub("[\udc80-\udcff]", lambda m: f"\\x{ord(m.group()) - 0xDC00:02X}", value)


def read_form_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The named text fields of a multipart/form-data body (clickhouse-connect sends large
    ``param_`` values, and sometimes the query, this way). File parts are external data: refused."""
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise RequestError(62, "SYNTAX_ERROR", "multipart/form-data body without parts")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise RequestError(36, "BAD_ARGUMENTS", "form part without a name")
        if part.get_filename() is not None:
            raise RequestError(48, "NOT_IMPLEMENTED", "External data tables are not supported")
        payload = part.get_payload(decode=True) or b""
        fields[str(name)] = payload.decode("utf-8", "surrogateescape")
    return fields


def parse_params(query_string: str, form_fields: Mapping[str, str] | None = None) -> RequestParams:
    """Split a URL query string (and form fields, which win) into transport parameters, settings
    and ``param_`` values."""
    pairs: dict[str, str] = {}
    for part in query_string.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs[_unquote(name)] = _unquote(value)
    pairs.update(form_fields or {})
    if pairs.get("compress") == "1" or pairs.get("decompress") == "1":
        raise RequestError(48, "NOT_IMPLEMENTED", "ClickHouse's native HTTP compression is not supported")
    settings: dict[str, str] = {}
    params: dict[str, str] = {}
    for name, value in pairs.items():
        if name.startswith("param_"):
            params[name[6:]] = _escape_undecodable(value)
        elif name not in TRANSPORT_PARAMS:
            if not _SETTING_NAME.fullmatch(name):
                raise RequestError(115, "UNKNOWN_SETTING", f"Unknown setting '{name[:64]}'")
            settings[name] = value
    return RequestParams(
        query=pairs.get("query", ""),
        database=pairs.get("database") or None,
        default_format=pairs.get("default_format") or None,
        query_id=pairs.get("query_id") or None,
        wait_end_of_query=pairs.get("wait_end_of_query") == "1",
        enable_compression=pairs.get("enable_http_compression", "1") != "0",  # chDB's default is 1
        settings=settings,
        params=params,
    )


def read_body(rfile: BinaryIO, headers: Mapping[str, str]) -> Iterator[bytes]:
    """Yield the raw request body, sized by Content-Length or chunked (urllib3 chunks the
    generator bodies clickhouse-connect streams inserts with)."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        while True:
            try:
                size = int(rfile.readline(1024).split(b";")[0].strip(), 16)
            except ValueError:
                raise RequestError(33, "CANNOT_READ_ALL_DATA", "Malformed chunked request body") from None
            if size == 0:
                while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                return
            yield _read_exactly(rfile, size)
            rfile.readline(1024)
    remaining = int(headers.get("Content-Length") or 0)
    while remaining > 0:
        piece = _read_exactly(rfile, min(remaining, _BLOCK))
        remaining -= len(piece)
        yield piece


def _read_exactly(rfile: BinaryIO, size: int) -> bytes:
    data = rfile.read(size)
    if len(data) != size:
        raise RequestError(33, "CANNOT_READ_ALL_DATA", "Request body ended early")
    return data


def _codecs(decoding: bool) -> dict[str, Callable[[], Any]]:
    """Incremental decompressors or compressors by Content-Encoding name, in order of preference."""
    found: dict[str, Callable[[], Any]] = {"lz4": lz4.frame.LZ4FrameDecompressor if decoding else _Lz4Encoder}
    if _zstd is not None:
        found["zstd"] = _zstd.ZstdDecompressor if decoding else _zstd.ZstdCompressor
    gzip = zlib.decompressobj if decoding else zlib.compressobj
    found["gzip"] = lambda: gzip(wbits=31)  # wbits 31: zlib's spelling of "gzip container"
    found["deflate"] = zlib.decompressobj if decoding else zlib.compressobj
    return found


class _Lz4Encoder:
    """One LZ4 frame written incrementally, the shape clickhouse-connect decodes."""

    def __init__(self) -> None:
        self._comp = lz4.frame.LZ4FrameCompressor()
        self._head = self._comp.begin()

    def compress(self, data: bytes) -> bytes:
        head, self._head = self._head, b""
        return head + self._comp.compress(data)

    def flush(self) -> bytes:
        return self._head + self._comp.flush()


def decode_body(chunks: Iterable[bytes], content_encoding: str | None) -> Iterator[bytes]:
    """Undo Content-Encoding incrementally. Clients compress each insert block as a frame of its
    own, so a finished frame is followed by a fresh decompressor for the next one."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        yield from chunks
        return
    factory = _codecs(decoding=True).get(encoding)
    if factory is None:
        raise RequestError(36, "BAD_ARGUMENTS", f"Unsupported Content-Encoding '{encoding[:32]}'")
    decoder, pending = factory(), False
    for data in chunks:
        while data:
            try:
                out = decoder.decompress(data)
            except Exception as ex:
                raise RequestError(36, "BAD_ARGUMENTS", f"Cannot decompress request body: {ex}") from None
            pending = True
            if out:
                yield out
            data = b""
            if decoder.eof:
                data, decoder, pending = decoder.unused_data, factory(), False
    if pending:
        raise RequestError(33, "CANNOT_READ_ALL_DATA", "Compressed request body is truncated")


def response_encoder(accept_encoding: str | None) -> tuple[str, Any] | None:
    """The first encoding the client accepts that we can produce, with a fresh compressor."""
    encoders = _codecs(decoding=False)
    for part in (accept_encoding or "").split(","):
        name = part.split(";")[0].strip().lower()
        if name in encoders:
            return name, encoders[name]()
    return None


_TOKEN = re.compile(
    rb"""(?P<space>\s++)
    | (?P<comment>--[^\n]*+|\#[^\n]*+|/\*.*?\*/)
    | (?P<quoted>'(?:[^'\\]++|\\.|'')*+'|"(?:[^"\\]++|\\.|"")*+"|`(?:[^`\\]++|\\.|``)*+`)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*+)
    | (?P<number>[0-9][0-9A-Za-z_.]*+)
    | (?P<other>.)""",
    re.X | re.S,
)
_RESULT_KEYWORDS = frozenset(
    {"SELECT", "WITH", "(", "FROM", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK", "KILL"}
)
_PLAIN_INSERT_WORDS = frozenset({"VALUES", "SELECT", "WITH", "INFILE"})
_FORMAT_NAME = re.compile(rb"\s*+([A-Za-z_][A-Za-z0-9_]*+)")
_DATA_START = re.compile(rb"[ \t\f]*+\r?\n?")


@dataclass(frozen=True)
class Statement:
    """What the engine must be asked to do with one request's SQL text."""

    keyword: str  # first word, upper case; "(" for a parenthesised query; "" for none
    output_format: str | None = None  # trailing FORMAT clause of a query
    insert_format: str | None = None  # FORMAT of an INSERT whose data follows in the request
    insert_sql: bytes = b""  # that INSERT without its FORMAT clause
    data_start: int = 0  # offset of the INSERT's data in the request text

    @property
    def produces_result(self) -> bool:
        return self.keyword in _RESULT_KEYWORDS

    @property
    def streamable(self) -> bool:
        return self.keyword in ("SELECT", "WITH", "(", "FROM")


def scan_statement(text: bytes, complete: bool) -> Statement | None:
    """Tokenize just enough SQL to tell a query from an INSERT carrying data. On a partial text
    (``complete`` False) returns None while an INSERT's data start is still undecided."""
    tokens: list[tuple[str, str, int, int]] = []  # (kind, upper-cased text, start, end) at depth 0
    depth, keyword, pos = 0, "", 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match is not None  # the last alternative matches any byte
        kind, (start, pos), token = match.lastgroup or "other", match.span(), match.group()
        if kind in ("space", "comment"):
            continue
        if kind == "other" and (token in (b"'", b'"', b"`") or text.startswith(b"/*", start)):
            if not complete:
                return None  # an unterminated literal or comment may close in the next chunk
            break
        if token in (b"(", b"[", b"{"):
            keyword, depth = keyword or "(", depth + 1
            continue
        if token in (b")", b"]", b"}"):
            depth = max(0, depth - 1)
            continue
        if depth:
            continue
        upper = token.decode("latin-1").upper()
        keyword = keyword or upper
        if keyword != "INSERT" and not complete:
            return Statement(keyword)
        if keyword == "INSERT" and kind == "word" and upper in _PLAIN_INSERT_WORDS:
            return Statement(keyword)
        if keyword == "INSERT" and kind == "word" and upper == "FORMAT":
            return _insert_with_data(text, start, pos, complete)
        tokens.append((kind, upper, start, pos))
    if not complete and keyword in ("", "INSERT"):
        return None
    return Statement(keyword, output_format=_trailing_format(tokens, text))


def _insert_with_data(text: bytes, format_start: int, pos: int, complete: bool) -> Statement | None:
    """Locate the data of ``INSERT ... FORMAT name``: after the name, blanks and one line break."""
    name = _FORMAT_NAME.match(text, pos)
    if name is None:
        return Statement("INSERT") if complete else None  # malformed or partial; the engine judges
    data = _DATA_START.match(text, name.end())
    assert data is not None
    if data.end() == len(text) and not complete and not text.endswith(b"\n"):
        return None  # the name, or the line break after it, may still be on its way
    fmt, head = name.group(1).decode("ascii"), text[:format_start].rstrip()
    return Statement("INSERT", insert_format=fmt, insert_sql=head, data_start=data.end())


def _trailing_format(tokens: list[tuple[str, str, int, int]], text: bytes) -> str | None:
    """The FORMAT clause ending a query: FORMAT name, then nothing, ';' or a SETTINGS clause."""
    found = None
    for i, (kind, upper, _, _) in enumerate(tokens[:-1]):
        after = tokens[i + 2 : i + 3]
        if kind != "word" or upper != "FORMAT" or tokens[i + 1][0] != "word":
            continue
        if not after or after[0][1] in (";", "SETTINGS"):
            found = text[tokens[i + 1][2] : tokens[i + 1][3]].decode("ascii")
    return found


def read_statement(head: bytes, chunks: Iterator[bytes]) -> tuple[bytes, Statement, Iterator[bytes]]:
    """Read the body until the SQL is known: all of it for a query, up to the data for an INSERT,
    whose remaining chunks are returned unread. ClickHouse joins the ``query`` parameter and the
    body with a newline before parsing, so an INSERT's data may start in either."""
    text = bytearray(head + b"\n" if head else b"")
    statement = scan_statement(bytes(text), complete=False) if text else None
    for chunk in chunks:
        if statement is not None and statement.insert_format is not None:
            return bytes(text), statement, _prepend(chunk, chunks)
        text += chunk
        if statement is None and len(text) <= MAX_INSERT_HEAD:
            statement = scan_statement(bytes(text), complete=False)
    if statement is None or statement.insert_format is None:
        statement = scan_statement(bytes(text), complete=True)
    assert statement is not None
    return bytes(text), statement, iter(())


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def exception_text(ex: BaseException, version: str) -> tuple[int, str]:
    """The code and ``Code: N. DB::Exception: ... (NAME) (version V)`` text ClickHouse would send."""
    text = str(ex)
    start = text.find("Code: ")
    if start >= 0:
        text = text[start:].strip()
    else:
        text = f"Code: 1001. DB::Exception: {type(ex).__name__}: {text}. (STD_EXCEPTION)"
    code = re.match(r"Code: (\d+)", text)
    if "(version " not in text:
        text = f"{text} (version {version})"
    return (int(code.group(1)) if code else 1001), text


def http_status(text: str) -> int:
    """The HTTP status ClickHouse answers an exception with, judged by the exception's name."""
    found = re.search(r"\(([A-Z][A-Z0-9_]*)\)", text)
    name = found.group(1) if found else ""
    if name.startswith("UNKNOWN_"):
        return 404
    if name in ("READONLY", "ACCESS_DENIED"):
        return 403
    if name.startswith("CANNOT_PARSE") or name in _BAD_REQUEST_ERRORS:
        return 400
    return 501 if name == "NOT_IMPLEMENTED" else 500


def content_type(fmt: str) -> str:
    lower = fmt.lower()
    if lower.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if lower.startswith("csv"):
        return f"text/csv; charset=UTF-8; header={'present' if 'withnames' in lower else 'absent'}"
    if lower.startswith("json"):
        return "application/json; charset=UTF-8"
    if lower.startswith(("native", "rowbinary", "arrow", "parquet", "orc", "avro", "msgpack", "protobuf")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


def summary_header(result: Any = None, inserted: Any = None) -> str:
    """X-ClickHouse-Summary from a chDB query result or insert result; numbers go as strings."""
    keys = ("read_rows", "read_bytes", "written_rows", "written_bytes", "result_rows", "result_bytes")
    values: tuple[int, ...] = (0,) * len(keys)
    elapsed = 0.0
    if result is not None:
        values = (result.storage_rows_read(), result.storage_bytes_read(), result.rows_written(),
                  result.bytes_written(), result.rows_read(), result.bytes_read())  # fmt: skip
        elapsed = result.elapsed()
    elif inserted is not None:
        rows, size = inserted.rows_written, inserted.bytes_written
        values, elapsed = (rows, size, rows, size, 0, 0), inserted.elapsed
    summary = {key: str(value) for key, value in zip(keys, values, strict=True)}
    summary.update(total_rows_to_read="0", elapsed_ns=str(int(elapsed * 1e9)))
    return json.dumps(summary)


def quote(text: str, mark: str) -> str:
    """A ClickHouse string literal (mark ') or identifier (mark `)."""
    return mark + text.replace("\\", "\\\\").replace(mark, "\\" + mark) + mark
