"""Who may query the embedded store over HTTP: the users file, its password hashes, and authentication.

Why: the ledger's ClickHouse HTTP interface is the one door to the embedded store, so it must know
who knocks. The users file (TOML, ``<home>/clickhouse-users.toml`` by default) lists each user with a
role and a salted scrypt hash of their password, never the password:

    [users.ana]
    role = "analyst"                       # admin: writes and DDL; auditor: reads everything;
    tenants = ["acme"]                     # analyst: reads the listed tenants' rows only
    password_hash = "scrypt$16384$8$1$<salt>$<hash>"

``UsersFile`` re-reads the file when it changes, so adding an analyst needs no restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

USERS_FILE_NAME = "clickhouse-users.toml"
# scrypt cost: about 50 ms and 16 MiB on the 2-core machine; verified passwords are remembered (see UsersFile).
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 1 << 14, 8, 1, 32
_SCHEME = "scrypt"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_MAX_TENANT = 256


class Role(StrEnum):
    ADMIN = "admin"  # writes and DDL: the local tools and tests that tamper
    AUDITOR = "auditor"  # read-only, every tenant
    ANALYST = "analyst"  # read-only, the listed tenants only


class UsersFileError(ValueError):
    """The users file is unusable; the message names the file, the user and the problem."""


@dataclass(frozen=True)
class StoreUser:
    name: str
    role: Role
    tenants: tuple[str, ...] = ()
    password_hash: str = field(default="", repr=False)

    @property
    def read_only(self) -> bool:
        return self.role is not Role.ADMIN


def check_name(name: str) -> str:
    """A user name usable in the file and, unquoted, in a server's SQL."""
    if not _NAME.fullmatch(name):
        raise UsersFileError(f"user name {name!r}: use letters, digits, '_', '.', '-' (at most 64, not a digit first)")
    return name


def check_tenant(tenant: str) -> str:
    if not tenant or len(tenant) > _MAX_TENANT or any(ord(c) < 32 for c in tenant):
        raise UsersFileError(f"tenant {tenant!r}: must be 1 to {_MAX_TENANT} printable characters")
    return tenant


def generate_password() -> str:
    return secrets.token_urlsafe(24)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` (standard base64), a fresh 16-byte salt unless one is given."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_DKLEN)
    b64 = base64.b64encode
    return f"{_SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        raise ValueError("password_hash is not scrypt$N$r$p$salt$hash")
    n, r, p = (int(x) for x in parts[1:4])
    if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or n > 1 << 20:
        raise ValueError("password_hash has unusable scrypt parameters")
    salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    if len(salt) < 8 or len(digest) < 16:
        raise ValueError("password_hash salt or hash is too short")
    return n, r, p, salt, digest


def password_matches(password: str, stored: str) -> bool:
    """Recompute the hash with the stored salt and parameters and compare in constant time."""
    n, r, p, salt, digest = _parse_hash(stored)
    got = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(digest), maxmem=256 * n * r + 1024)
    return hmac.compare_digest(got, digest)


def parse_users(text: str, source: str) -> dict[str, StoreUser]:
    """The users of a users file's text; every problem names ``source``, the user and what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileError(f"{source}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"users"}
    if unknown:
        raise UsersFileError(f"{source}: unknown top-level keys {sorted(unknown)}; only [users.NAME] tables")
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise UsersFileError(f"{source}: 'users' must be a table of [users.NAME] tables")
    return {name: _parse_user(name, entry, source) for name, entry in table.items()}


def _parse_user(name: str, entry: object, source: str) -> StoreUser:
    where = f"{source}: user {name!r}"
    try:
        check_name(name)
    except UsersFileError as exc:
        raise UsersFileError(f"{source}: {exc}") from None
    if not isinstance(entry, dict):
        raise UsersFileError(f"{where}: must be a table with role and password_hash")
    unknown = set(entry) - {"role", "tenants", "password_hash"}
    if unknown:
        raise UsersFileError(f"{where}: unknown keys {sorted(unknown)}; known: password_hash, role, tenants")
    try:
        role = Role(entry.get("role"))
    except ValueError:
        raise UsersFileError(f"{where}: role {entry.get('role')!r} is not one of admin, auditor, analyst") from None
    tenants = entry.get("tenants", [])
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise UsersFileError(f"{where}: tenants must be a list of strings")
    try:
        tenants = [check_tenant(t) for t in tenants]
    except UsersFileError as exc:
        raise UsersFileError(f"{where}: {exc}") from None
    if role is Role.ANALYST and not tenants:
        raise UsersFileError(f"{where}: an analyst needs at least one tenant")
    if role is not Role.ANALYST and tenants:
        raise UsersFileError(f"{where}: tenants apply to analysts only; a {role} reads every tenant")
    stored = entry.get("password_hash")
    try:
        if not isinstance(stored, str):
            raise ValueError("password_hash is missing")
        _parse_hash(stored)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise UsersFileError(f"{where}: {exc}") from None
    return StoreUser(name, role, tuple(dict.fromkeys(tenants)), stored)


def render_users(users: dict[str, StoreUser]) -> str:
    """The users file text for ``users`` (JSON string escapes are valid TOML basic strings)."""
    lines = ["# auditledger store users (auditledger access ...). Hashes only; keep this file 0600.", ""]
    for user in sorted(users.values(), key=lambda u: u.name):
        lines.append(f"[users.{json.dumps(user.name)}]")
        lines.append(f"role = {json.dumps(user.role.value)}")
        if user.tenants:
            lines.append(f"tenants = [{', '.join(json.dumps(t) for t in user.tenants)}]")
        lines.append(f"password_hash = {json.dumps(user.password_hash)}")
        lines.append("")
    return "\n".join(lines)


def write_users(path: Path, users: dict[str, StoreUser]) -> None:
    """Replace the file atomically, mode 0600, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(render_users(users))
    os.replace(tmp, path)


def read_users(path: Path) -> dict[str, StoreUser]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsersFileError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_users(text, str(path))


def ensure_admin(path: Path, known: object = None, name: str = "admin") -> dict[str, str]:
    """An admin for the local tools: ``known`` ({"user", "password"}, from stack.json) is kept if it still
    authenticates; otherwise ``name`` is (re)set as an admin with a new random password. Returns the pair."""
    users = read_users(path) if path.exists() else {}
    if isinstance(known, dict):
        user = users.get(str(known.get("user")))
        password = str(known.get("password", ""))
        if user is not None and user.role is Role.ADMIN and password_matches(password, user.password_hash):
            return {"user": user.name, "password": password}
    password = generate_password()
    users[name] = StoreUser(name, Role.ADMIN, (), hash_password(password))
    write_users(path, users)
    return {"user": name, "password": password}


class UsersFile:
    """The users file as the HTTP interface sees it: re-read when it changes, and the one authenticator.

    A password that verified is remembered as an HMAC under a per-process key (until the file changes),
    so clients that send credentials on every request do not pay for scrypt each time."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[str, StoreUser] = {}
        self._error: UsersFileError | None = None
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._dummy_hash = hash_password(secrets.token_urlsafe(16))
        self.users()  # fail fast on a missing or broken file

    def users(self) -> dict[str, StoreUser]:
        """The current users; re-reads the file if its mtime, size or inode changed.
        A file that became unusable denies everybody until it is fixed (fail closed)."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise UsersFileError(f"{self.path}: cannot read: {exc.strerror}") from exc
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if stamp != self._stamp:
                self._stamp, self._verified = stamp, {}
                try:
                    self._users, self._error = read_users(self.path), None
                except UsersFileError as exc:
                    self._users, self._error = {}, exc
            if self._error is not None:
                raise self._error
            return self._users

    def authenticate(self, name: str, password: str) -> StoreUser | None:
        """The user if the password is theirs, else None; unknown users cost the same scrypt as wrong passwords."""
        user = self.users().get(name)
        token = hmac.new(self._cache_key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            stamp, remembered = self._stamp, self._verified.get(name, b"")
        if user is not None and remembered and hmac.compare_digest(remembered, token):
            return user
        ok = password_matches(password, user.password_hash if user else self._dummy_hash)
        if user is None or not ok:
            return None
        with self._lock:
            if self._stamp == stamp:  # the file was not replaced meanwhile
                self._verified[name] = token
        return user
