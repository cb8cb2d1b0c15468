"""`auditledger access`: adding, listing and removing users, passwords never on the command line, and the
SQL for a ClickHouse server (checked by the engine's own parser)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

import chdb
import pytest

from auditledger.cli import main
from ledger.access import Role, StoreUser, UsersFile, ensure_admin, read_users
from ledger.access_server_sql import server_statements


def run(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), "access", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    ensure_admin(tmp_path / "clickhouse-users.toml")
    code, out, _ = run(tmp_path, capsys, "add-analyst", "ana", "--tenant", "acme", "--tenant", "beta")
    password = re.search(r"password \(shown once; the file keeps only its hash\): (\S+)", out).group(1)
    assert code == 0 and len(password) >= 24
    users_file = tmp_path / "clickhouse-users.toml"
    assert password not in users_file.read_text() and stat.S_IMODE(os.stat(users_file).st_mode) == 0o600
    assert UsersFile(users_file).authenticate("ana", password).tenants == ("acme", "beta")

    secret = tmp_path / "pw.txt"
    secret.write_text("auditor-password-42\n")
    assert run(tmp_path, capsys, "add-auditor", "audrey", "--password-file", str(secret))[0] == 0
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("analyst-password-43\n"))
    code, out, _ = run(tmp_path, capsys, "add-analyst", "ana", "--tenant", "gamma", "--password-stdin", "--replace")
    assert code == 0 and "password" not in out.split(")")[-1]
    assert UsersFile(users_file).authenticate("ana", "analyst-password-43").tenants == ("gamma",)

    code, out, _ = run(tmp_path, capsys, "list", "--json")
    listed = [json.loads(line) for line in out.splitlines()]
    assert {u["name"]: (u["role"], u["tenants"]) for u in listed} == {
        "admin": ("admin", []), "audrey": ("auditor", []), "ana": ("analyst", ["gamma"])}  # fmt: skip
    assert "scrypt" not in out
    assert run(tmp_path, capsys, "remove", "ana")[0] == 0 and "ana" not in read_users(users_file)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add-analyst", "ana"], None),  # argparse: --tenant is required
        (["add-analyst", "ana", "--tenant", "a", "--password-file", "short.txt"], "at least 12 characters"),
        (["add-analyst", "1ana", "--tenant", "a"], "user name '1ana'"),
        (["add-auditor", "admin"], "exists"),
        (["remove", "nobody"], "no user 'nobody'"),
        (["remove", "admin"], "the only admin"),
    ],
)
def test_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch, args: list[str], message: str | None
) -> None:
    ensure_admin(tmp_path / "clickhouse-users.toml")
    (tmp_path / "short.txt").write_text("short\n")
    monkeypatch.chdir(tmp_path)
    if message is None:
        with pytest.raises(SystemExit):
            run(tmp_path, capsys, *args)
        return
    code, _, err = run(tmp_path, capsys, *args)
    assert code == 2 and message in err


def test_server_sql_parses_and_carries_no_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ensure_admin(tmp_path / "clickhouse-users.toml")
    run(tmp_path, capsys, "add-analyst", "ana", "--tenant", "acme", "--tenant", "o'brien")
    run(tmp_path, capsys, "add-auditor", "audrey")
    code, sql, err = run(tmp_path, capsys, "server-sql", "--database", "ledger")
    passwords = dict(re.findall(r"server password for (\S+) \(shown once\): (\S+)", err))
    assert code == 0 and set(passwords) == {"ana", "audrey"}  # admins stay local
    assert not any(p in sql for p in passwords.values())
    assert "CREATE USER IF NOT EXISTS `ana` IDENTIFIED WITH sha256_hash BY" in sql and "readonly = 1" in sql
    assert "GRANT SELECT ON `ledger`.* TO `ana`" in sql
    assert "ON `ledger`.`ledger_records` FOR SELECT USING tenant IN ('acme', 'o\\'brien') AS permissive TO `ana`" in sql
    assert "USING 1 AS permissive TO ALL EXCEPT `ana`" in sql
    salt, digest = re.search(r"`ana` IDENTIFIED WITH sha256_hash BY '(\w+)' SALT '(\w+)'", sql).group(2, 1)
    assert hashlib.sha256((passwords["ana"] + salt).encode()).hexdigest() == digest  # what the server checks
    code_lines = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in code_lines.split(";\n") if s.strip()]
    kinds = [s.split(" ")[0] + " " + s.split(" ")[1] for s in statements]
    assert kinds == ["CREATE USER"] * 2 + ["CREATE ROW"] * 4 + ["GRANT SELECT"] * 2  # grants only after the policies
    engine = chdb.connect(":memory:")
    try:
        for statement in statements:
            engine.query("EXPLAIN AST " + statement, "TSV")  # the server's parser accepts each one
        with pytest.raises(RuntimeError):
            policy = [s for s in statements if s.startswith("CREATE ROW")][-1]
            engine.query("EXPLAIN AST " + policy.replace("FOR SELECT", "FOR SELEKT"), "TSV")
    finally:
        engine.close()


def test_server_statements_without_analysts_keep_every_row_for_everyone() -> None:
    statements = server_statements([StoreUser("audrey", Role.AUDITOR, (), "")], {"audrey": "pw-for-audrey"})
    assert statements[1].endswith("USING 1 AS permissive TO ALL") and statements[-1].startswith("GRANT SELECT")
    assert all("EXCEPT" not in s for s in statements)
