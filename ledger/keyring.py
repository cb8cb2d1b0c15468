"""The checkpoint-signing keyring on disk: which keys sign now, which verifiers must trust.

Directory (mode 0700):
    keyring.json    public metadata only (mode 0644): one record per key ever generated, oldest first
    <hex id>.key    NoteSigner.private_text() of that key (mode 0600, owned by the current user)
    keyring.lock    held while the ring is changed, so two `auditledger keys` runs cannot lose an update

States of a key at time t (`Keyring.state_at`):
    revoked  t >= revoked_at; never signs again
    active   activated at or before t and not yet succeeded by a newer key (at most one at any t)
    grace    succeeded by a newer key, t < signs_until: still signs, so workers that have not yet seen
             the rotation and verifiers that have not yet fetched the new key keep working
    retired  succeeded, grace window over
    pending  t < activated_at (only for times before the key existed)
The clock is always passed in; nothing here reads the real time.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ledger.signed_note import MalformedNoteError, NoteSigner, VerifierKey
from ledger.trusted_keys import TrustedKey, format_time, parse_time

KEYRING_FILE = "keyring.json"
LOCK_FILE = "keyring.lock"
KEY_SUFFIX = ".key"
KEYRING_VERSION = 1
TIME_FIELDS = ("created_at", "activated_at", "signs_until", "revoked_at")


class KeyringError(Exception):
    """The keyring cannot do what was asked; the message says why and what to run instead."""


class ActiveKeyExistsError(KeyringError):
    """`generate` on a keyring that already has an active key."""


class NoSigningKeyError(KeyringError):
    """No key in the ring may sign at the given time."""


class UnknownKeyError(KeyringError):
    """A key id that is not in the ring."""


class RevokeRefusedError(KeyringError):
    """Revoking this key would leave nothing to sign with, or it is already revoked."""


class KeyringFormatError(KeyringError):
    """keyring.json does not parse (hand-edited or damaged)."""


class KeyFilePermissionError(KeyringError):
    """A private key file that other users could read, or that belongs to someone else."""


class KeyFileMismatchError(KeyringError):
    """A private key file whose key is not the one its name and the ring say."""


@dataclass(frozen=True)
class KeyRecord:
    """Public metadata of one key; signs_until is set when the key is rotated out."""

    name: str
    key_id: str
    verifier_key: str
    created_at: datetime
    activated_at: datetime
    signs_until: datetime | None = None
    revoked_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in TIME_FIELDS:
            data[name] = format_time(data[name]) if data[name] is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyRecord:
        try:
            values = dict(data)
            for name in TIME_FIELDS:
                values[name] = parse_time(values[name]) if values.get(name) is not None else None
            record = cls(**values)
            key = VerifierKey.parse(record.verifier_key)
        except (TypeError, ValueError, MalformedNoteError) as exc:
            raise KeyringFormatError(f"{KEYRING_FILE}: bad key record: {exc}") from exc
        if key.key_id.hex() != record.key_id or key.name != record.name:
            raise KeyringFormatError(f"{KEYRING_FILE}: key {record.key_id}: verifier key says {key.key_id.hex()}")
        return record


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment!r}")


def _write_atomically(path: Path, text: str, mode: int) -> None:
    """Temp file created with `mode` from the start, fsynced, then renamed over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a crashed run with the same pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have removed bits we want (0644 for the public file)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)


class Keyring:
    """One keyring directory; methods that change it re-read it under a lock first."""

    def __init__(self, directory: Path, records: list[KeyRecord]) -> None:
        self.directory = directory
        self._records = records

    @classmethod
    def load(cls, directory: Path) -> Keyring:
        """An empty keyring when the directory or keyring.json does not exist yet."""
        return cls(Path(directory), cls._read(Path(directory)))

    @staticmethod
    def _read(directory: Path) -> list[KeyRecord]:
        try:
            data = json.loads((directory / KEYRING_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise KeyringFormatError(f"cannot read {directory / KEYRING_FILE}: {exc}") from exc
        keys = data.get("keys") if isinstance(data, dict) and data.get("version") == KEYRING_VERSION else None
        if not isinstance(keys, list):
            raise KeyringFormatError(
                f"{directory / KEYRING_FILE}: want {{'version': {KEYRING_VERSION}, 'keys': [...]}}"
            )
        return [KeyRecord.from_json(item) for item in keys]

    @property
    def path(self) -> Path:
        return self.directory / KEYRING_FILE

    @property
    def records(self) -> list[KeyRecord]:
        return list(self._records)

    def record(self, key_id_hex: str) -> KeyRecord:
        for record in self._records:
            if record.key_id == key_id_hex.lower():
                return record
        known = ", ".join(r.key_id for r in self._records) or "none"
        raise UnknownKeyError(f"no key {key_id_hex} in {self.path} (keys: {known})")

    def _successor(self, record: KeyRecord) -> KeyRecord | None:
        index = self._records.index(record)
        return self._records[index + 1] if index + 1 < len(self._records) else None

    def state_at(self, record: KeyRecord, t: datetime) -> str:
        """revoked, pending, active, grace or retired (see the module docstring)."""
        _require_aware(t, "t")
        if record.revoked_at is not None and t >= record.revoked_at:
            return "revoked"
        if t < record.activated_at:
            return "pending"
        successor = self._successor(record)
        if record.signs_until is None or successor is None or t < successor.activated_at:
            return "active"
        return "grace" if t < record.signs_until else "retired"

    def active_at(self, t: datetime) -> KeyRecord | None:
        return next((r for r in reversed(self._records) if self.state_at(r, t) == "active"), None)

    def signing_records_at(self, t: datetime) -> list[KeyRecord]:
        """The active key first, then keys in grace, newest first."""
        active = self.active_at(t)
        grace = [r for r in reversed(self._records) if self.state_at(r, t) == "grace"]
        return ([active] if active else []) + grace

    def trusted_keys(self) -> list[TrustedKey]:
        """Every key ever in the ring, for verifiers; reads no private file."""
        return [TrustedKey(VerifierKey.parse(r.verifier_key), r.revoked_at) for r in self._records]

    def signers_at(self, t: datetime) -> list[NoteSigner]:
        return [self.load_signer(r) for r in self.signing_records_at(t)]

    def load_signer(self, record: KeyRecord) -> NoteSigner:
        """Read <id>.key after checking owner and mode; the key must be the one the ring records."""
        path = self.directory / f"{record.key_id}{KEY_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise KeyringError(f"cannot open private key file {path}: {exc.strerror}") from exc
        with os.fdopen(fd, encoding="utf-8") as handle:
            info = os.fstat(handle.fileno())  # the file we read, not whatever the name points to later
            if info.st_uid != os.getuid() or info.st_mode & 0o077:
                raise KeyFilePermissionError(
                    f"private key file {path} has mode {info.st_mode & 0o777:o} and owner uid {info.st_uid}; "
                    f"want owner uid {os.getuid()} and no group or other access: chmod 600 {path}"
                )
            text = handle.read()
        try:
            signer = NoteSigner.from_private_text(text)
        except (MalformedNoteError, ValueError):
            raise KeyFileMismatchError(f"private key file {path} does not hold a signed-note private key") from None
        if signer.verifier_key.text() != record.verifier_key:
            raise KeyFileMismatchError(
                f"private key file {path} holds key {signer.name}+{signer.key_id.hex()}, "
                f"want {record.name}+{record.key_id} as {self.path} records"
            )
        return signer

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold the lock, start from what is on disk now, and save on success."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.directory / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._records = self._read(self.directory)
            yield
            payload = {"version": KEYRING_VERSION, "keys": [r.to_json() for r in self._records]}
            _write_atomically(self.path, json.dumps(payload, indent=2) + "\n", 0o644)

    def _add_key(self, name: str, now: datetime) -> KeyRecord:
        """Private file first, so the ring never names a key whose file is missing."""
        if self._records and now < self._records[-1].activated_at:
            raise KeyringError(f"now {format_time(now)} is before the newest key's activation: is the clock right?")
        signer = NoteSigner.generate(name)
        _write_atomically(self.directory / f"{signer.key_id.hex()}{KEY_SUFFIX}", signer.private_text(), 0o600)
        record = KeyRecord(name, signer.key_id.hex(), signer.verifier_key.text(), now, now)
        self._records.append(record)
        return record

    def _replace(self, old: KeyRecord, new: KeyRecord) -> None:
        self._records[self._records.index(old)] = new

    def generate(self, name: str, now: datetime) -> KeyRecord:
        """The first key (or a fresh start when no key is active); refuses when a key is active."""
        _require_aware(now, "now")
        with self._changing():
            active = self.active_at(now)
            if active is not None:
                raise ActiveKeyExistsError(
                    f"keyring {self.directory} already has active key {active.key_id}: use rotate to replace it"
                )
            return self._add_key(name, now)

    def rotate(self, now: datetime, grace: timedelta) -> KeyRecord:
        """A new key signs from now; the previous active key also signs until now + grace."""
        _require_aware(now, "now")
        if grace < timedelta(0):
            raise KeyringError(f"grace window {grace} is negative")
        with self._changing():
            active = self.active_at(now)
            if active is None:
                raise NoSigningKeyError(f"keyring {self.directory} has no active key: use generate")
            self._replace(active, replace(active, signs_until=now + grace))
            return self._add_key(active.name, now)

    def revoke(self, key_id_hex: str, at: datetime, now: datetime) -> KeyRecord:
        """Signatures by the key at or after `at` are void; a key in grace stops signing at `at`."""
        _require_aware(at, "at")
        _require_aware(now, "now")
        if at > now:
            raise RevokeRefusedError(f"revocation time {format_time(at)} is in the future (now {format_time(now)})")
        with self._changing():
            record = self.record(key_id_hex)
            if record.revoked_at is not None and record.revoked_at <= at:
                raise RevokeRefusedError(f"key {record.key_id} is already revoked at {format_time(record.revoked_at)}")
            if self.state_at(record, now) == "active":
                raise RevokeRefusedError(
                    f"key {record.key_id} is the active signing key and no newer key exists: "
                    "rotate first (auditledger keys rotate), then revoke it"
                )
            revoked = replace(record, revoked_at=at)
            self._replace(record, revoked)
            return revoked


def ensure_signing_key(directory: Path, name: str, now: datetime) -> bool:
    """Generate the first key when the keyring is empty (stack up); True when it generated one."""
    if Keyring.load(directory).records:
        return False
    try:
        Keyring.load(directory).generate(name, now)
    except ActiveKeyExistsError:  # another process generated it between our read and our lock
        return False
    return True


class SigningKeys:
    """What a running worker holds: the keys to sign with now, re-read when keyring.json changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._stamp: tuple[int, int, int] | None = None
        self._keyring: Keyring | None = None
        self._signers: dict[str, NoteSigner] = {}

    def signers(self, now: datetime) -> list[NoteSigner]:
        """Active key first, then keys in grace; one os.stat per call, files re-read only after a change."""
        path = self.directory / KEYRING_FILE
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise NoSigningKeyError(f"no keyring at {path}: run auditledger keys generate") from None
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        if stamp != self._stamp or self._keyring is None:
            self._keyring = Keyring.load(self.directory)
            self._signers = {}
            self._stamp = stamp
        records = self._keyring.signing_records_at(now)
        if not records:
            when = format_time(now)
            raise NoSigningKeyError(f"no key in {self.directory} can sign at {when}: run auditledger keys generate")
        for record in records:
            if record.key_id not in self._signers:
                self._signers[record.key_id] = self._keyring.load_signer(record)
        return [self._signers[r.key_id] for r in records]
