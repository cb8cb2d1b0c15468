"""How the HTTP interface runs a read-only user's request on the engine: the connection's settings, and the
statement check before it runs.

Why apart from ``ledger.http_interface``: that module moves bytes; this one applies ``ledger.access_rules``
to a chDB connection. Order matters: the tenant filter is set first, then ``readonly = 1``, then the
request's own settings, which the engine refuses to change in readonly mode (the filter included).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ledger.access import Role, StoreUser
from ledger.access_rules import TENANT_TABLES_SQL, refusal, tenant_filters
from ledger.http_protocol import RequestError, quote

REALM = 'Basic realm="auditledger"'
_AUTHENTICATION_FAILED = "Authentication failed: password is incorrect, or there is no user with such name"


class AuthenticationFailed(RequestError):
    """What a ClickHouse server answers for missing or wrong credentials; never names the password."""

    def __init__(self) -> None:
        super().__init__(516, "AUTHENTICATION_FAILED", _AUTHENTICATION_FAILED)


def restrict_connection(conn: Any, user: StoreUser, settings: Mapping[str, str]) -> None:
    """Tenant filter (analysts), then readonly = 1, then the request's own settings: the engine
    refuses to change any of them in readonly mode, the tenant filter included."""
    if user.role is Role.ANALYST:
        rows = conn.query(TENANT_TABLES_SQL, "JSONCompactEachRow").bytes().decode().splitlines()
        tables = [(str(db), str(table)) for db, table in map(json.loads, rows)]
        if tables:
            conn.query("SET additional_table_filters = " + tenant_filters(tables, user.tenants), "TSV")
    conn.query("SET readonly = 1", "TSV")
    if settings:
        conn.query("SET " + ", ".join(f"{name} = {quote(value, chr(39))}" for name, value in settings.items()), "TSV")


def inspect_statement(conn: Any, user: StoreUser, text: bytes, params: Mapping[str, str], database: str) -> None:
    """Refuse a read-only user's statement that reads around the tenant filter (see ledger.access_rules)."""
    try:
        sql = text.decode()
    except UnicodeDecodeError:
        raise RequestError(36, "BAD_ARGUMENTS", "Query text must be UTF-8 for read-only users") from None
    conn.query(f"SELECT formatQuery({quote(sql, chr(39))})", "TSV")  # parses only: refuses multi-statements
    dump = conn.query("EXPLAIN AST " + sql, "TSV", params=dict(params)).bytes().decode("utf-8", "replace")
    reason = refusal(dump, database, analyst=user.role is Role.ANALYST)
    if reason is not None:
        raise RequestError(497, "ACCESS_DENIED", f"{user.name}: Not enough privileges: {reason}")
