"""The masking keys behind `hash` actions: one master key per key id, one derived key per tenant.

Directory (mode 0700 when this module creates it):
    <key_id>.key    32 random bytes as 64 hex digits and a newline (mode 0600, owned by the current user)

A `hash` action replaces a value with an HMAC under the tenant's derived key,

    tenant_key = HMAC-SHA-256(master, b"auditledger/mask/v1\\x00" + tenant as UTF-8)

so equal values hash equally within a tenant (analysts can join on them) but not across tenants, and
no tenant's hashes can be checked against a guess without the master key. Key ids name files, so they
are restricted to `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`. A key file is never overwritten: replacing a key
would silently change every hash from then on, breaking joins with what was recorded before.

Errors name the file and the problem and never include key material. One MaskingKeys is meant for one
thread (its caches have no lock).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
KEY_SUFFIX = ".key"
KEY_BYTES = 32
TENANT_KEY_CONTEXT = b"auditledger/mask/v1\x00"
MAX_KEY_FILE_BYTES = 4096
MAX_CACHED_TENANT_KEYS = 10_000  # tenant names come from events: bound what an event stream can make us hold


class MaskingKeyError(Exception):
    """A masking key is missing, unsafe or unreadable; the message names the file and the problem."""


class MaskingKeyExistsError(MaskingKeyError):
    """`generate` for a key id whose file already exists."""


def check_key_id(key_id: str) -> str:
    """The key id itself, or MaskingKeyError when it is not `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`."""
    if not isinstance(key_id, str) or not KEY_ID_PATTERN.fullmatch(key_id):
        raise MaskingKeyError(
            f"bad masking key id {key_id!r}: want a letter or digit, then up to 63 letters, digits, '.', '_' or '-'"
        )
    return key_id


class MaskingKeys:
    """The key files in one directory; master keys and tenant keys are cached once read."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._masters: dict[str, bytes] = {}
        self._tenant_keys: dict[tuple[str, str], bytes] = {}

    def path(self, key_id: str) -> Path:
        return self.directory / f"{check_key_id(key_id)}{KEY_SUFFIX}"

    def generate(self, key_id: str) -> Path:
        """A new random key in <directory>/<key_id>.key (0600); refuses when the file exists."""
        path = self.path(key_id)
        if not self.directory.exists():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)  # the umask may have taken bits from mkdir's mode
        if path.exists() or path.is_symlink():
            raise MaskingKeyExistsError(f"masking key file {path} already exists: refusing to overwrite it")
        # Written in full under a temporary name, then linked into place: link() fails when the name exists,
        # so a concurrent generate cannot be overwritten and a crash never leaves a half-written key file.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)  # left by a crashed run with the same pid
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (secrets.token_bytes(KEY_BYTES).hex() + "\n").encode("ascii"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise MaskingKeyExistsError(f"masking key file {path} already exists: refusing to overwrite it") from None
        finally:
            tmp.unlink(missing_ok=True)
        self._sync_directory()
        return path

    def _sync_directory(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def load(self, key_id: str) -> bytes:
        """The 32-byte master key, after checking the file's type, owner and mode (cached once read)."""
        cached = self._masters.get(key_id)
        if cached is not None:
            return cached
        path = self.path(key_id)
        try:
            # O_NONBLOCK: a FIFO planted under the key's name must not hang the stream at start.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise MaskingKeyError(f"masking key {key_id!r} is missing: no file {path}") from None
        except OSError as exc:
            raise MaskingKeyError(f"cannot open masking key file {path}: {exc.strerror}") from None
        try:
            info = os.fstat(fd)  # the file we read, not whatever the name points to later
            if not stat.S_ISREG(info.st_mode):
                raise MaskingKeyError(f"masking key file {path} is not a regular file")
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                raise MaskingKeyError(
                    f"masking key file {path} has mode {info.st_mode & 0o777:o} and owner uid {info.st_uid}; "
                    f"want owner uid {os.getuid()} and no group or other access: chmod 600 {path}"
                )
            raw = b""
            while len(raw) <= MAX_KEY_FILE_BYTES:
                chunk = os.read(fd, MAX_KEY_FILE_BYTES + 1 - len(raw))
                if not chunk:
                    break
                raw += chunk
        finally:
            os.close(fd)
        master = _parse_key_text(raw)
        if master is None:
            raise MaskingKeyError(
                f"masking key file {path} is malformed: want {KEY_BYTES * 2} hex digits ({KEY_BYTES} bytes) on one line"
            )
        self._masters[key_id] = master
        return master

    def tenant_key(self, key_id: str, tenant: str) -> bytes:
        """HMAC-SHA-256(master, b"auditledger/mask/v1\\x00" + tenant UTF-8): the key `hash` uses for a tenant."""
        cached = self._tenant_keys.get((key_id, tenant))
        if cached is not None:
            return cached
        derived = hmac.new(self.load(key_id), TENANT_KEY_CONTEXT + tenant.encode("utf-8"), hashlib.sha256).digest()
        if len(self._tenant_keys) >= MAX_CACHED_TENANT_KEYS:
            self._tenant_keys.clear()
        self._tenant_keys[(key_id, tenant)] = derived
        return derived

    def ensure(self, key_ids: Iterable[str]) -> list[str]:
        """Create the keys that do not exist yet (local stack setup); the ids created, sorted.

        Keys that already exist are loaded, so an unusable one fails here rather than at stream start.
        """
        created: list[str] = []
        for key_id in sorted(set(key_ids)):
            if not self.path(key_id).exists():
                try:
                    self.generate(key_id)
                    created.append(key_id)
                except MaskingKeyExistsError:
                    pass  # another process created it between our look and our link
            self.load(key_id)
        return created

    def check(self, key_ids: Iterable[str]) -> None:
        """MaskingKeyError naming every key that is missing or unusable (the stream refuses to start)."""
        problems: list[str] = []
        for key_id in sorted(set(key_ids)):
            try:
                self.load(key_id)
            except MaskingKeyError as exc:
                problems.append(str(exc))
        if problems:
            raise MaskingKeyError("; ".join(problems))


def _parse_key_text(raw: bytes) -> bytes | None:
    if len(raw) > MAX_KEY_FILE_BYTES:
        return None
    text = raw.strip()
    if len(text) != KEY_BYTES * 2 or not re.fullmatch(rb"[0-9a-fA-F]+", text):
        return None
    return bytes.fromhex(text.decode("ascii"))
