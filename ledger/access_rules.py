"""What a read-only user of the embedded store may ask, and the tenant filter an analyst reads through.

Why a module of its own: these are rules, not plumbing. The HTTP interface (``ledger.http_interface``)
authenticates, then asks the engine to enforce them: ``readonly = 1`` refuses writes, DDL, SET and
settings changes; ClickHouse's ``additional_table_filters`` setting adds ``tenant IN (...)`` to every
read of a table with a tenant column, through views, subqueries, JOINs, UNIONs and ``IN table``.

Checked on chDB 26.x, a few paths read a table without that filter, so read-only requests are parsed
by the engine first (``EXPLAIN AST``) and refused when they use one:

- table functions that read tables by name: ``merge()`` (the filter is not applied to its sources),
  ``mergeTreeIndex()`` (primary-key values, i.e. tenants, sessions and times, of every granule),
  ``loop()``, ``remote()``, ``file()``, ``url()`` (most already refused by readonly); only the
  generators in ``ALLOWED_TABLE_FUNCTIONS`` and ``view()`` (filtered like any subquery) are allowed;
- functions that read a table by name: ``joinGet``, ``dictGet`` and kin (no filter either);
- for analysts, ``system`` tables other than the catalogue ones clients need (``system.processes``
  would show other users' query text);
- several statements in one request: chDB runs them all, and EXPLAIN would see only the first.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

from ledger.http_protocol import quote

# Tables whose rows belong to a tenant: every table (not view) with a `tenant` column, outside system.
TENANT_TABLES_SQL = (
    "SELECT database, table FROM system.columns WHERE name = 'tenant' "
    "AND lower(database) NOT IN ('system', 'information_schema') "
    "AND (database, table) IN (SELECT database, name FROM system.tables WHERE engine != 'View')"
)
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {"numbers", "numbers_mt", "zeros", "zeros_mt", "values", "generateseries", "generate_series", "view", "null"}
)
# Catalogue tables an analyst's client or schema browser reads; everything else under system is refused.
ANALYST_SYSTEM_TABLES = frozenset(
    {"one", "numbers", "numbers_mt", "zeros", "zeros_mt", "settings", "databases", "tables", "columns",
     "functions", "table_functions", "formats", "data_type_families", "time_zones", "table_engines",
     "build_options", "collations", "keywords"}
)  # fmt: skip
_TABLE_READING_FUNCTIONS = ("joinget", "dictget", "dicthas", "dictisin", "dictgetchildren", "dictgetdescendants")
_SYSTEM_DATABASES = ("system",)


class CredentialsError(ValueError):
    """The request's credentials are malformed or given more than one way."""


def request_credentials(headers: Mapping[str, str], query_string: str) -> tuple[str, str] | None:
    """(user, password) from HTTP Basic, X-ClickHouse-User/-Key, or user/password URL parameters (the
    ways a ClickHouse server accepts); None if the request carries none. Mixing them is refused, as
    ClickHouse does, so that no proxy and server can disagree about who is asking."""
    found: list[tuple[str, str]] = []
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise CredentialsError("only HTTP Basic authorization is supported")
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError("malformed HTTP Basic credentials") from None
        if not sep:
            raise CredentialsError("malformed HTTP Basic credentials")
        found.append((user, password))
    if headers.get("X-ClickHouse-User") is not None or headers.get("X-ClickHouse-Key") is not None:
        found.append((headers.get("X-ClickHouse-User") or "", headers.get("X-ClickHouse-Key") or ""))
    params = dict(parse_qsl(query_string, keep_blank_values=True))
    if "user" in params or "password" in params:
        found.append((params.get("user", ""), params.get("password", "")))
    if len(found) > 1:
        raise CredentialsError("credentials given more than one way (Authorization, X-ClickHouse-*, URL)")
    return found[0] if found else None


def tenant_filters(tables: Iterable[tuple[str, str]], tenants: Iterable[str]) -> str:
    """The ``additional_table_filters`` value: each ``db.table`` restricted to ``tenant IN (...)``."""
    condition = "tenant IN (" + ", ".join(quote(t, "'") for t in tenants) + ")"
    pairs = sorted({f"{quote(f'{db}.{table}', chr(39))}: {quote(condition, chr(39))}" for db, table in tables})
    return "{" + ", ".join(pairs) + "}"


def refusal(ast_dump: str, database: str, analyst: bool) -> str | None:
    """Why a read-only user may not run the statement whose ``EXPLAIN AST`` (TSV) is ``ast_dump``,
    or None. Fails closed: an empty dump is refused."""
    lines = [line for line in ast_dump.split("\n") if line.strip()]
    if not lines:
        return "the statement could not be inspected"
    parents: list[str] = []
    for line in lines:
        depth = len(line) - len(line.lstrip(" "))
        node = line.strip()
        del parents[depth:]
        parent = parents[-1] if parents else ""
        parents.extend([""] * (depth - len(parents)))
        parents.append(node)
        kind, _, rest = node.partition(" ")
        name = rest.split(" ")[0] if rest else ""
        if kind == "Function" and parent.startswith("TableExpression") and name.lower() not in ALLOWED_TABLE_FUNCTIONS:
            return f"table function {name}() is not available to read-only users"
        if kind == "Function" and name.lower().startswith(_TABLE_READING_FUNCTIONS):
            return f"function {name}() reads tables outside the tenant filter; not available to read-only users"
        if analyst and kind in ("TableIdentifier", "Identifier") and _forbidden_system_table(name, database, kind):
            return f"{name} is not available to analysts"
    return None


def _forbidden_system_table(name: str, database: str, kind: str) -> bool:
    db, dot, table = name.partition(".")
    if not dot:
        if kind != "TableIdentifier":
            return False  # a bare column name
        db, table = database, name
    return db.strip('`"').lower() in _SYSTEM_DATABASES and table.strip('`"').lower() not in ANALYST_SYSTEM_TABLES
