"""From an analyst's filters to one parametrized SQL query over ledger_records.

Values never enter the SQL text: each is a ClickHouse query parameter (`{name:Type}`), bound by the server.
Column names do enter it, so they are checked against the table's columns first. Equality and prefix
conditions on tenant, actor, session and action type are written so that the ordering key
`(tenant, occurred_at, session_id)` and the projections by actor, session and action type can serve them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.ddl import RECORD_COLUMNS

DEFAULT_COLUMNS: tuple[str, ...] = (
    "occurred_at", "tenant", "actor_subject", "session_id", "action_type", "action_name", "outcome_status",
    "approval_status", "shard", "seq",
)  # fmt: skip
# The entry bytes and hashes are for the verifier; an analyst asks `auditledger prove` for them.
QUERYABLE_COLUMNS: tuple[str, ...] = tuple(
    c for c in RECORD_COLUMNS if c not in ("entry", "leaf_hash", "prev_leaf_hash")
)
OUTCOME_STATUSES = ("success", "failure", "blocked")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000_000
TIME_TYPE = "DateTime64(6, 'UTC')"

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_ACTION_TYPE = re.compile(r"^[A-Za-z0-9_.:-]+(\.\*)?$")


class FilterError(ValueError):
    """A filter value cannot be used; the message names the option and why (never echoing other values)."""


@dataclass(frozen=True)
class RecordFilter:
    """What to select. Every tuple is OR within itself; different fields are AND-ed."""

    since: datetime | None = None
    until: datetime | None = None
    tenant: str | None = None
    actors: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    action_types: tuple[str, ...] = ()  # exact ("tool.call") or a prefix ("tool.*")
    statuses: tuple[str, ...] = ()  # outcome status
    approvals: tuple[str, ...] = ()  # approval status
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    limit: int = DEFAULT_LIMIT
    newest_first: bool = False


# Reading in ordering-key order (for ORDER BY occurred_at ... LIMIT) keeps ClickHouse from applying a projection
# index, so a query that names an actor, a session or an action type turns it off: the projection then finds the
# few granules that match, and sorting those is cheaper than walking the tenant's rows in time order.
PROJECTION_SETTINGS: dict[str, Any] = {"optimize_read_in_order": 0}


@dataclass(frozen=True)
class SqlQuery:
    sql: str
    parameters: dict[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)


def parse_time(text: str, now: datetime, option: str = "--since") -> datetime:
    """ISO-8601 (a date, or a time with or without an offset; no offset means UTC) or a duration before `now`
    such as 90s, 15m, 24h, 7d, 2w. Returns an aware UTC datetime."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        return now.astimezone(UTC) - timedelta(seconds=int(relative.group(1)) * _UNIT_SECONDS[relative.group(2)])
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{option}: not an ISO-8601 time or a duration like 24h or 7d") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_columns(text: str) -> tuple[str, ...]:
    """A comma-separated list of ledger_records columns (checked: they are the only names that reach SQL)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise FilterError("--columns: empty")
    unknown = [n for n in names if n not in QUERYABLE_COLUMNS]
    if unknown:
        raise FilterError(f"--columns: unknown column(s) {', '.join(map(repr, unknown))}; "
                          f"known: {', '.join(QUERYABLE_COLUMNS)}")  # fmt: skip
    return names


def check_filter(f: RecordFilter) -> None:
    """Raise FilterError for a filter that cannot be right, before anything is sent."""
    if not 1 <= f.limit <= MAX_LIMIT:
        raise FilterError(f"--limit: {f.limit} is out of range, want 1 to {MAX_LIMIT}")
    if f.since and f.until and f.since >= f.until:
        raise FilterError("--since must be before --until")
    for status in f.statuses:
        if status not in OUTCOME_STATUSES:
            raise FilterError(f"--status: want one of {', '.join(OUTCOME_STATUSES)}")
    for action_type in f.action_types:
        if not _ACTION_TYPE.match(action_type):
            raise FilterError("--action-type: want a type such as tool.call, or a prefix such as tool.*")
    for name, values in (("--tenant", (f.tenant,) if f.tenant is not None else ()), ("--actor", f.actors),
                         ("--session", f.sessions), ("--approval", f.approvals)):  # fmt: skip
        if any(v == "" for v in values):
            raise FilterError(f"{name}: empty value")
    parse_columns(",".join(f.columns))


def _time_text(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _Where:
    """Collects conditions, each value a fresh named parameter."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.parameters: dict[str, Any] = {}

    def param(self, stem: str, value: Any, type_: str) -> str:
        name = f"{stem}_{len(self.parameters)}"
        self.parameters[name] = value
        return f"{{{name}:{type_}}}"

    def any_of(self, column: str, values: Sequence[str]) -> None:
        if len(values) == 1:
            self.conditions.append(f"{column} = {self.param(column, values[0], 'String')}")
        elif values:
            placeholders = ", ".join(self.param(column, v, "String") for v in values)
            self.conditions.append(f"{column} IN ({placeholders})")


def build_query(f: RecordFilter) -> SqlQuery:
    """SELECT the filter's columns, in ledger time order (occurred_at, then shard and seq), at most `limit` rows."""
    check_filter(f)
    where = _Where()
    if f.tenant is not None:
        where.any_of("tenant", [f.tenant])
    if f.since is not None:
        where.conditions.append(f"occurred_at >= {where.param('since', _time_text(f.since), TIME_TYPE)}")
    if f.until is not None:
        where.conditions.append(f"occurred_at < {where.param('until', _time_text(f.until), TIME_TYPE)}")
    where.any_of("actor_subject", f.actors)
    where.any_of("session_id", f.sessions)
    exact = [a for a in f.action_types if not a.endswith(".*")]
    prefixes = [a[:-1] for a in f.action_types if a.endswith(".*")]  # "tool.*" -> "tool."
    if prefixes:
        parts = [f"startsWith(action_type, {where.param('action_prefix', p, 'String')})" for p in prefixes]
        if exact:
            parts.append(f"action_type IN ({', '.join(where.param('action_type', a, 'String') for a in exact)})")
        where.conditions.append("(" + " OR ".join(parts) + ")")
    else:
        where.any_of("action_type", exact)
    where.any_of("outcome_status", f.statuses)
    where.any_of("approval_status", f.approvals)
    direction = "DESC" if f.newest_first else "ASC"
    sql = (
        f"SELECT {', '.join(f.columns)} FROM ledger_records"
        + (f" WHERE {' AND '.join(where.conditions)}" if where.conditions else "")
        + f" ORDER BY occurred_at {direction}, shard {direction}, seq {direction}"
        + f" LIMIT {where.param('limit', f.limit, 'UInt64')}"
    )
    uses_projection = bool(f.actors or f.sessions or f.action_types)
    return SqlQuery(sql, where.parameters, f.columns, dict(PROJECTION_SETTINGS) if uses_projection else {})
