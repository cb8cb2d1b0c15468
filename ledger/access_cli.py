"""`auditledger access`: who may query the store, as what.

The ledger process (embedded default) reads the users file at every request that finds it changed, so
these commands take effect without a restart. Passwords never go on the command line (where `ps` and
shell history would keep them): they come from stdin, a file, or are generated and printed once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from auditledger.config import Settings
from ledger.access import (
    Role,
    StoreUser,
    UsersFileError,
    check_name,
    check_tenant,
    generate_password,
    hash_password,
    read_users,
    write_users,
)
from ledger.access_server_sql import TENANT_TABLES, render_script, server_statements

MIN_PASSWORD = 12
EXIT_OK, EXIT_ERROR = 0, 2

DESCRIPTION = """\
Users of the ledger's ClickHouse HTTP interface (the embedded store), kept in the users file
(clickhouse_users_file, default <home>/clickhouse-users.toml; hashes only, mode 0600):

  admin    writes and DDL; `stack up` creates one and local tools use it from stack.json
  auditor  read-only, every tenant
  analyst  read-only, only the rows of the tenants listed (--tenant, repeatable)

Read-only users run with readonly = 1: INSERT, ALTER, CREATE, DROP, TRUNCATE, OPTIMIZE, SET and setting
changes are refused. An analyst's every read of a table with a tenant column is filtered to their tenants.
`server-sql` prints the same rules for a real ClickHouse server (users, grants, row policies).
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("access", help="analysts, auditors: who may query the store, and what they see",
                              description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = p.add_subparsers(dest="access_action", required=True, metavar="ACTION")
    analyst = sub.add_parser("add-analyst", help="a read-only user who sees only the listed tenants' rows")
    analyst.add_argument("name")
    analyst.add_argument("--tenant", action="append", required=True, help="a tenant they may read (repeatable)")
    auditor = sub.add_parser("add-auditor", help="a read-only user who sees every tenant")
    auditor.add_argument("name")
    for adder in (analyst, auditor):
        source = adder.add_mutually_exclusive_group()
        source.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
        source.add_argument("--password-file", type=Path, help="read the password from this file's first line")
        adder.add_argument("--replace", action="store_true", help="replace an existing user of that name")
    remove = sub.add_parser("remove", help="remove a user; their next request is refused")
    remove.add_argument("name")
    listing = sub.add_parser("list", help="users, roles and tenants (never hashes)")
    listing.add_argument("--json", action="store_true", help="one JSON object per user")
    server = sub.add_parser("server-sql", help="the same users and rules as SQL for a ClickHouse server",
                            description="Prints CREATE USER (readonly = 1), GRANT SELECT and CREATE ROW POLICY "
                            "statements for the file's auditors and analysts. Each gets a new server password, "
                            "printed once on stderr; the statements carry only its salted SHA-256.")  # fmt: skip
    server.add_argument("--database", default=None, help="the ledger's database (default: clickhouse_database)")
    server.add_argument("--table", action="append", help=f"a table with a tenant column (default: {TENANT_TABLES})")
    p.set_defaults(run=run)


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password and whether it was generated (then it is printed once)."""
    if args.password_stdin:
        text = sys.stdin.readline()
    elif args.password_file:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        text = lines[0] if lines else ""
    else:
        return generate_password(), True
    password = text.rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        raise UsersFileError(f"the password must have at least {MIN_PASSWORD} characters")
    return password, False


def _add(path: Path, args: argparse.Namespace, role: Role, tenants: tuple[str, ...]) -> int:
    users = read_users(path) if path.exists() else {}
    name = check_name(args.name)
    if name in users and not args.replace:
        raise UsersFileError(f"{path}: user {name!r} exists; use --replace to change it")
    if name in users and users[name].role is Role.ADMIN:
        raise UsersFileError(f"{path}: user {name!r} is an admin; remove it first if you mean to demote it")
    password, generated = _password(args)
    users[name] = StoreUser(name, role, tenants, hash_password(password))
    write_users(path, users)
    scope = f"tenants {', '.join(tenants)}" if tenants else "every tenant"
    print(f"{role} {name}: read-only, {scope} ({path})")
    if generated:
        print(f"password (shown once; the file keeps only its hash): {password}")
    return EXIT_OK


def _remove(path: Path, name: str) -> int:
    users = read_users(path)
    if name not in users:
        raise UsersFileError(f"{path}: no user {name!r}")
    admins = [u for u in users.values() if u.role is Role.ADMIN]
    if users[name].role is Role.ADMIN and len(admins) == 1:
        raise UsersFileError(f"{path}: {name!r} is the only admin; local tools need it")
    del users[name]
    write_users(path, users)
    print(f"removed {name}")
    return EXIT_OK


def _list(path: Path, as_json: bool) -> int:
    for user in sorted(read_users(path).values(), key=lambda u: u.name):
        if as_json:
            print(json.dumps({"name": user.name, "role": user.role.value, "tenants": list(user.tenants)}))
        else:
            print(f"{user.name:20s} {user.role.value:8s} {', '.join(user.tenants) or '(every tenant)'}")
    return EXIT_OK


def _server_sql(path: Path, args: argparse.Namespace, settings: Settings) -> int:
    users = [u for u in read_users(path).values() if u.role is not Role.ADMIN]
    passwords = {u.name: generate_password() for u in users}
    database = args.database or settings.clickhouse_database
    statements = server_statements(users, passwords, database, tuple(args.table or TENANT_TABLES))
    sys.stdout.write(render_script(statements, database))
    for name, password in sorted(passwords.items()):
        print(f"server password for {name} (shown once): {password}", file=sys.stderr)
    return EXIT_OK


def run(args: argparse.Namespace, settings: Settings) -> int:
    path = settings.users_file_path
    try:
        if args.access_action == "add-analyst":
            return _add(path, args, Role.ANALYST, tuple(dict.fromkeys(check_tenant(t) for t in args.tenant)))
        if args.access_action == "add-auditor":
            return _add(path, args, Role.AUDITOR, ())
        if args.access_action == "remove":
            return _remove(path, args.name)
        if args.access_action == "list":
            return _list(path, args.json)
        return _server_sql(path, args, settings)
    except (UsersFileError, OSError) as exc:
        print(f"access: {exc}", file=sys.stderr)
        return EXIT_ERROR
