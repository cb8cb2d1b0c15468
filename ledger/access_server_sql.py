"""The users file's rules as SQL for a real ClickHouse server: users, grants and row policies.

Why: in production (docker-compose) a ClickHouse server, not the ledger process, answers analysts. The
same rule must hold there: read-only users (``readonly = 1``), ``SELECT`` on the ledger's database only,
and row policies so an analyst reads their tenants' rows. A server hides every row of a table that has
row policies from users none of them names, so one permissive policy (``TO ALL EXCEPT`` the analysts)
keeps the table whole for auditors, admins and the sink's own user.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from ledger.access import Role, StoreUser
from ledger.http_protocol import quote

# Tables with a tenant column in ledger/ddl.py; a server has no chDB to discover them at request time.
TENANT_TABLES = ("ledger_records", "ledger_leaves")
UNRESTRICTED_POLICY = "auditledger_every_tenant"


def _ident(name: str) -> str:
    return quote(name, "`")


def _text(value: str) -> str:
    return quote(value, "'")


def sha256_hash_clause(password: str, salt: str | None = None) -> str:
    """``IDENTIFIED WITH sha256_hash BY '<hex>' SALT '<salt>'``: what a server stores for sha256_password
    (SHA-256 of password || salt), so the statement never carries the password itself."""
    salt = salt if salt is not None else secrets.token_hex(16)
    digest = hashlib.sha256((password + salt).encode()).hexdigest()
    return f"IDENTIFIED WITH sha256_hash BY {_text(digest)} SALT {_text(salt)}"


def server_statements(
    users: Iterable[StoreUser],
    passwords: dict[str, str],
    database: str = "default",
    tables: Iterable[str] = TENANT_TABLES,
) -> list[str]:
    """One statement per element, each runnable on its own (``clickhouse-client --multiquery``), for the
    file's auditors and analysts; admins stay local (the server's own admin is provisioned with it).
    ``passwords`` holds the server password of each user (the users file keeps only scrypt hashes)."""
    users = sorted((u for u in users if u.role is not Role.ADMIN), key=lambda u: u.name)
    db = _ident(database)
    analysts = [u for u in users if u.role is Role.ANALYST]
    # Order matters on a live server: users first without grants, then the policy that keeps whole tables
    # for everybody but the analysts (an analyst sees nothing until their own policy exists), then the
    # analysts' policies, and the grants last. No step shows an analyst another tenant's rows.
    out = [f"CREATE USER IF NOT EXISTS {_ident(u.name)} {sha256_hash_clause(passwords[u.name])} "
           f"DEFAULT DATABASE {db} SETTINGS readonly = 1" for u in users]  # fmt: skip
    everyone = "ALL" + (" EXCEPT " + ", ".join(_ident(u.name) for u in analysts) if analysts else "")
    for table in tables:
        target = f"{db}.{_ident(table)}"
        out.append(f"CREATE ROW POLICY OR REPLACE {_ident(UNRESTRICTED_POLICY)} ON {target} FOR SELECT "
                   f"USING 1 AS permissive TO {everyone}")  # fmt: skip
        for user in analysts:
            tenants = ", ".join(_text(t) for t in user.tenants)
            policy = _ident(f"auditledger_{user.name}_tenants")
            out.append(f"CREATE ROW POLICY OR REPLACE {policy} ON {target} FOR SELECT "
                       f"USING tenant IN ({tenants}) AS permissive TO {_ident(user.name)}")  # fmt: skip
    out += [f"GRANT SELECT ON {db}.* TO {_ident(u.name)}" for u in users]
    return out


def render_script(statements: list[str], database: str) -> str:
    head = [
        f"-- auditledger access for a ClickHouse server, database {database} (`auditledger access server-sql`).",
        "-- Analysts: readonly = 1, SELECT on the database, row policies limiting every tenant table to their tenants;",
        "-- everyone else (auditors, admins, the sink's user) keeps every row through the permissive policy.",
    ]  # fmt: skip
    return "\n".join(head + [s + ";" for s in statements]) + "\n"
