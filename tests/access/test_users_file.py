"""The users file: parsing and its errors, password hashes, authentication, re-reading, the stack's admin."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from ledger.access import (
    Role,
    StoreUser,
    UsersFile,
    UsersFileError,
    ensure_admin,
    hash_password,
    parse_users,
    password_matches,
    read_users,
    write_users,
)

HASH = hash_password("correct horse battery")


def entry(name: str, body: str) -> str:
    return f'[users.{name}]\n{body}\npassword_hash = "{HASH}"\n'


def test_round_trip_keeps_roles_tenants_and_hashes(tmp_path: Path) -> None:
    users = {
        "ana": StoreUser("ana", Role.ANALYST, ("acme", 'we"ird\\t'), HASH),
        "audrey": StoreUser("audrey", Role.AUDITOR, (), HASH),
        "admin": StoreUser("admin", Role.ADMIN, (), HASH),
    }
    path = tmp_path / "users.toml"
    write_users(path, users)
    assert read_users(path) == users
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "correct horse" not in path.read_text()


def test_hashes_are_salted_and_verify_only_the_password() -> None:
    again = hash_password("correct horse battery")
    assert again != HASH and again.startswith("scrypt$16384$8$1$")
    assert password_matches("correct horse battery", HASH) and password_matches("correct horse battery", again)
    assert not password_matches("correct horse batterY", HASH) and not password_matches("", HASH)
    # the layout scrypt$N$r$p$salt$hash, the hash being hashlib.scrypt(b"pw", salt=bytes(16), n=16384, r=8, p=1)
    fixed = hash_password("pw", salt=bytes(16))
    want = hashlib.scrypt(b"pw", salt=bytes(16), n=16384, r=8, p=1, dklen=32)
    assert fixed == f"scrypt$16384$8$1${base64.b64encode(bytes(16)).decode()}${base64.b64encode(want).decode()}"
    assert "StoreUser" in repr(StoreUser("x", Role.ADMIN, (), fixed)) and fixed not in repr(
        StoreUser("x", Role.ADMIN, (), fixed)
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[users.ana\n", "users.toml: not valid TOML"),
        ("other = 1\n", "unknown top-level keys ['other']"),
        (entry("ana", 'role = "boss"'), "user 'ana': role 'boss' is not one of admin, auditor, analyst"),
        (entry("ana", 'role = "analyst"'), "user 'ana': an analyst needs at least one tenant"),
        (entry("ana", 'role = "analyst"\ntenants = "acme"'), "user 'ana': tenants must be a list of strings"),
        (entry("ana", 'role = "analyst"\ntenants = [""]'), "user 'ana': tenant '': must be 1 to 256"),
        (entry("bo", 'role = "auditor"\ntenants = ["acme"]'), "user 'bo': tenants apply to analysts only"),
        (entry("bo", 'role = "auditor"\ncolour = "red"'), "user 'bo': unknown keys ['colour']"),
        ('[users.bo]\nrole = "auditor"\n', "user 'bo': password_hash is missing"),
        ('[users.bo]\nrole = "auditor"\npassword_hash = "md5$abc"\n', "user 'bo': password_hash is not scrypt"),
        (
            '[users.bo]\nrole = "auditor"\npassword_hash = "scrypt$3$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA=="\n',
            "user 'bo': password_hash has unusable scrypt parameters",
        ),
        ('[users.bo]\nrole = "auditor"\npassword_hash = "scrypt$16384$8$1$!!$AAAA"\n', "user 'bo': "),
        (entry('"1bad name"', 'role = "auditor"'), "user name '1bad name'"),
    ],
)
def test_parse_errors_name_the_file_the_user_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(UsersFileError) as error:
        parse_users(text, "/etc/auditledger/users.toml")
    assert str(error.value).startswith("/etc/auditledger/users.toml") and message in str(error.value)


class ScryptCounter:
    """Counts key derivations: what makes a wrong password cost the same as an unknown user."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = hashlib.scrypt

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(hashlib, "scrypt", counted)


def test_unknown_user_and_wrong_password_get_the_same_answer_at_the_same_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.toml"
    write_users(path, {"ana": StoreUser("ana", Role.ANALYST, ("a",), HASH)})
    users = UsersFile(path)
    assert users.authenticate("ana", "correct horse battery") == read_users(path)["ana"]
    scrypt = ScryptCounter(monkeypatch)
    assert users.authenticate("ana", "nope") is None
    wrong = scrypt.calls
    assert users.authenticate("zed", "nope") is None
    unknown = scrypt.calls - wrong
    assert wrong == unknown == 1  # both pay one scrypt; neither answers early


def test_a_verified_password_is_remembered_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "users.toml"
    write_users(path, {"ana": StoreUser("ana", Role.ANALYST, ("a",), HASH)})
    users = UsersFile(path)
    assert users.authenticate("ana", "correct horse battery") is not None
    scrypt = ScryptCounter(monkeypatch)
    for _ in range(20):
        assert users.authenticate("ana", "correct horse battery") is not None
    assert scrypt.calls == 0  # no scrypt per request
    assert users.authenticate("ana", "correct horse batter") is None  # a remembered password is not a prefix match
    write_users(path, {"ana": StoreUser("ana", Role.ANALYST, ("a",), hash_password("a new password!"))})
    assert users.authenticate("ana", "correct horse battery") is None
    assert users.authenticate("ana", "a new password!").tenants == ("a",)


def test_missing_or_broken_file_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(UsersFileError, match="cannot read"):
        UsersFile(tmp_path / "absent.toml")
    path = tmp_path / "users.toml"
    write_users(path, {"ana": StoreUser("ana", Role.ANALYST, ("a",), HASH)})
    users = UsersFile(path)
    path.write_text(path.read_text() + "\n[users.bad]\nrole = 'nobody'\n")
    with pytest.raises(UsersFileError, match="user 'bad'"):
        users.authenticate("ana", "correct horse battery")


def test_ensure_admin_keeps_a_working_admin_and_resets_a_lost_one(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    first = ensure_admin(path, None)
    assert first["user"] == "admin" and len(first["password"]) >= 24
    assert read_users(path)["admin"].role is Role.ADMIN
    assert ensure_admin(path, first) == first  # stack up again: unchanged
    lost = ensure_admin(path, {"user": "admin", "password": "forgotten"})
    assert lost["password"] != first["password"]
    assert UsersFile(path).authenticate("admin", lost["password"]) is not None
