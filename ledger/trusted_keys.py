"""The public keys a verifier trusts, as `auditledger keys public` prints them.

One key per line:  <name>+<hex key id>+<base64(0x01 || public key)> [revoked-at=<RFC 3339 UTC>]
Blank lines and lines starting with "#" are ignored. A revoked key still vouches for what it signed
before its revocation time; a signature it made at or after that time is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ledger.signed_note import MalformedNoteError, SignedNote, VerifierKey

REVOKED_AT = "revoked-at="
RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class KeysFileError(Exception):
    """A keys file line that is not a verifier key (the message names the line)."""


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(RFC3339_FORMAT)


def parse_time(text: str) -> datetime:
    for fmt in (RFC3339_FORMAT, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not an RFC 3339 UTC time (e.g. 2026-11-23T10:00:00Z)")


@dataclass(frozen=True)
class TrustedKey:
    key: VerifierKey
    revoked_at: datetime | None = None

    def vouches_at(self, signed_at: datetime) -> bool:
        return self.revoked_at is None or signed_at < self.revoked_at

    def line(self) -> str:
        suffix = f" {REVOKED_AT}{format_time(self.revoked_at)}" if self.revoked_at else ""
        return self.key.text() + suffix

    @classmethod
    def parse(cls, line: str) -> TrustedKey:
        fields = line.split()
        if not fields or len(fields) > 2:
            raise KeysFileError("want '<verifier key> [revoked-at=<time>]'")
        key = VerifierKey.parse(fields[0])
        revoked_at = None
        if len(fields) == 2:
            if not fields[1].startswith(REVOKED_AT):
                raise KeysFileError(f"unknown attribute {fields[1][:40]!r}, want {REVOKED_AT}<time>")
            revoked_at = parse_time(fields[1][len(REVOKED_AT) :])
        return cls(key, revoked_at)


def parse_trusted_keys(text: str, source: str = "keys") -> list[TrustedKey]:
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            keys.append(TrustedKey.parse(line))
        except (KeysFileError, MalformedNoteError, ValueError) as exc:
            raise KeysFileError(f"{source} line {number}: {exc}") from exc
    return keys


def load_trusted_keys(path: Path) -> list[TrustedKey]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeysFileError(f"cannot read keys file {path}: {exc.strerror}") from exc
    return parse_trusted_keys(text, str(path))


@dataclass(frozen=True)
class NoteVerdict:
    """Which trusted keys signed a note validly, and which signed it after their revocation."""

    accepted: tuple[TrustedKey, ...]
    revoked: tuple[TrustedKey, ...]


def judge_note(note: SignedNote, trusted: Iterable[TrustedKey], signed_at: datetime) -> NoteVerdict:
    """Check every signature on `note` against the trusted keys at the note's own signing time."""
    accepted, revoked = [], []
    for candidate in trusted:
        if note.verified_by([candidate.key]):
            (accepted if candidate.vouches_at(signed_at) else revoked).append(candidate)
    return NoteVerdict(tuple(accepted), tuple(revoked))
