"""`auditledger query`: ledger records by time range, tenant, actor, session, action type and status.

Every value is sent as a query parameter, never as SQL text. Records come in time order (occurred_at, then
ledger position shard/seq), at most --limit of them. Values are as stored: masked.

Examples:
  auditledger query --tenant acme --since 24h
  auditledger query --tenant acme --actor ana@acme.example --since 2026-11-01 --until 2026-12-01
  auditledger query --tenant acme --session sess-42 --format jsonl
  auditledger query --tenant acme --action-type 'tool.*' --action-type db.query --status failure
  auditledger query --tenant acme --approval violation --columns occurred_at,actor_subject,action_name,\\
      approval_violations --format csv > violations.csv

Give --tenant: the table's ordering key and its projections by actor, session and action type all start
with the tenant, so that is what lets them find the rows without scanning.

Exit codes: 0 the query ran (whether or not any record matched; none prints "no records" on stderr);
2 a filter is not usable or the store could not be queried.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from auditledger.config import Settings
from ledger.clickhouse_client import StoreUnreachableError, store_client
from ledger.record_query import (
    DEFAULT_COLUMNS,
    DEFAULT_LIMIT,
    OUTCOME_STATUSES,
    QUERYABLE_COLUMNS,
    FilterError,
    RecordFilter,
    build_query,
    parse_columns,
    parse_time,
)

EXIT_OK, EXIT_ERROR = 0, 2
FORMATS = ("table", "jsonl", "csv")
DEFAULT_CELL_WIDTH = 40


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "query",
        help="list ledger records by time, tenant, actor, session, action, status",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--since",
        metavar="TIME",
        help="records that occurred at or after TIME: ISO-8601 (2026-11-23, 2026-11-23T09:00:00Z; no offset = UTC) "
        "or a duration back from now (90s, 15m, 24h, 7d, 2w)",
    )
    p.add_argument("--until", metavar="TIME", help="records that occurred before TIME (same forms as --since)")
    p.add_argument("--tenant", help="only this tenant (recommended: it is what the indexes start with)")
    p.add_argument("--actor", action="append", default=[], metavar="SUBJECT",
                   help="the actor's subject, as emitted (repeatable: any of them)")  # fmt: skip
    p.add_argument("--session", action="append", default=[], metavar="SESSION_ID", help="session id (repeatable)")
    p.add_argument("--action-type", action="append", default=[], metavar="TYPE",
                   help="action type such as tool.call, or a prefix ending in .* such as 'tool.*' "
                   "(repeatable)")  # fmt: skip
    p.add_argument("--status", action="append", default=[], choices=OUTCOME_STATUSES,
                   help="outcome status (repeatable)")  # fmt: skip
    p.add_argument("--approval", action="append", default=[], metavar="STATUS",
                   help="approval status: approved, violation, blocked, approved_late on actions; "
                   "requested, approved, rejected, ... on approval steps (repeatable)")  # fmt: skip
    p.add_argument("--columns", metavar="A,B,...", help="columns to show, comma-separated (default: "
                   + ",".join(DEFAULT_COLUMNS) + "). Any column of ledger_records but the entry bytes and "
                   "hashes: " + ", ".join(QUERYABLE_COLUMNS))  # fmt: skip
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                   help=f"at most this many records (default {DEFAULT_LIMIT})")  # fmt: skip
    p.add_argument("--newest-first", action="store_true", help="latest records first (default: oldest first)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table: aligned columns, long cells cut with …; jsonl: one JSON object per record; "
                   "csv: a header line, then one line per record (default table)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="same as --format jsonl")
    p.add_argument("--max-width", type=int, default=DEFAULT_CELL_WIDTH,
                   help=f"table format: cut cells longer than this (default {DEFAULT_CELL_WIDTH}; "
                   "0 = never)")  # fmt: skip
    p.add_argument("--clickhouse-url",
                   help="ClickHouse HTTP URL (default: the local stack's or AUDITLEDGER_CLICKHOUSE_URL)")  # fmt: skip
    p.set_defaults(run=run)


def filter_from_args(args: argparse.Namespace, now: datetime) -> RecordFilter:
    """The RecordFilter the options describe; raises FilterError."""
    return RecordFilter(
        since=parse_time(args.since, now, "--since") if args.since else None,
        until=parse_time(args.until, now, "--until") if args.until else None,
        tenant=args.tenant,
        actors=tuple(args.actor),
        sessions=tuple(args.session),
        action_types=tuple(args.action_type),
        statuses=tuple(args.status),
        approvals=tuple(args.approval),
        columns=parse_columns(args.columns) if args.columns else RecordFilter.columns,
        limit=args.limit,
        newest_first=args.newest_first,
    )


def plain(value: Any) -> Any:
    """A JSON-ready value: times as ISO-8601 UTC with microseconds, UUIDs as text, tuples as lists."""
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def cell_text(value: Any) -> str:
    """One value as text for a table or CSV cell: strings as they are, everything else as compact JSON."""
    value = plain(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _fit(text: str, width: int) -> str:
    text = text.replace("\r", " ").replace("\n", "⏎").replace("\t", " ")
    return text if width <= 0 or len(text) <= width else text[: max(width - 1, 1)] + "…"


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = DEFAULT_CELL_WIDTH) -> str:
    """Aligned columns under a header; text and JSON cells longer than max_width end in … (times, ids and
    numbers are never cut); newlines shown as ⏎."""
    cuttable = (str, list, tuple, Mapping)
    cells = [[_fit(cell_text(v), max_width if isinstance(v, cuttable) else 0) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def render_jsonl(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return "".join(json.dumps(dict(zip(columns, plain(list(r)), strict=True)), ensure_ascii=False) + "\n" for r in rows)


def render_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """RFC 4180 CSV (quoted where needed, CRLF line ends); non-text values as compact JSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([cell_text(v) for v in row] for row in rows)
    return out.getvalue()


def render(fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int) -> str:
    if fmt == "jsonl":
        return render_jsonl(columns, rows)
    if fmt == "csv":
        return render_csv(columns, rows)
    return render_table(columns, rows, max_width)


def scrubbed(message: str, values: Any) -> str:
    """The first line of an error message with every filter value in it replaced by '…' (never logged)."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    for value in values:
        text = str(value)
        if len(text) >= 3:
            line = line.replace(text, "…")
    return line[:300]


def run(args: argparse.Namespace, settings: Settings) -> int:
    fmt = "jsonl" if args.json else args.format
    try:
        query = build_query(filter_from_args(args, datetime.now(UTC)))
    except FilterError as exc:
        print(f"query: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        client = store_client(settings, args.clickhouse_url)
        result = client.query(query.sql, parameters=query.parameters, settings=query.settings)
    except StoreUnreachableError as exc:
        print(f"query: cannot run: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # the store answered with an error: say which, without the values asked for
        print(f"query: cannot run: {type(exc).__name__}: {scrubbed(str(exc), query.parameters.values())}",
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    rows = result.result_rows
    if rows or fmt == "csv":
        sys.stdout.write(render(fmt, query.columns, rows, args.max_width))
    if not rows:
        print("query: no records match", file=sys.stderr)
    return EXIT_OK
