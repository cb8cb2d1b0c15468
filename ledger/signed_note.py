"""C2SP signed-note with Ed25519: the envelope every published checkpoint travels in.

Layout (C2SP signed-note):
    note      = body || "\\n" || signature-line+
    body      = UTF-8 text lines, each ending in "\\n" (no other control characters)
    signature = "\\u2014 " || key name || " " || base64(key id || Ed25519(body)) || "\\n"
    key id    = SHA-256(key name || "\\n" || 0x01 || public key)[:4]
Verifier key text: <name>+<hex key id>+<base64(0x01 || public key)>.
Private key text:  PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)> (file contents only).

A verifier ignores signatures by keys it does not know, as the spec requires, but a note is only
accepted when a known key's signature checks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519_ALGORITHM = 0x01
SIGNATURE_PREFIX = "\u2014 "
KEY_ID_SIZE = 4
SIGNATURE_SIZE = 64
MAX_SIGNATURES = 100
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"


class MalformedNoteError(Exception):
    """Note, key or signature text that does not follow the signed-note format (may be tampering)."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + public_key).digest()[:KEY_ID_SIZE]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise MalformedNoteError(f"key name {name!r}: must be non-empty, printable, without spaces or '+'")


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MalformedNoteError(f"{what}: not standard base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise MalformedNoteError(f"{what}: not canonical base64")
    return raw


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class VerifierKey:
    """A public key with the name and key id it signs under; its text form is what auditors are given."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> VerifierKey:
        _check_name(name)
        return cls(name, key_id(name, public_key), public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)  # the base64 key may itself contain "+"
        if len(parts) != 3:
            raise MalformedNoteError(f"verifier key {text.strip()[:80]!r}: want <name>+<hex id>+<base64 key>")
        name, hex_id, encoded = parts
        _check_name(name)
        raw = _b64decode(encoded, f"verifier key {name}")
        if len(raw) != 33 or raw[0] != ED25519_ALGORITHM:
            raise MalformedNoteError(f"verifier key {name}: want 0x01 and a 32-byte Ed25519 key, got {len(raw)} bytes")
        key = cls.from_public_key(name, raw[1:])
        if key.key_id.hex() != hex_id.lower() or len(hex_id) != 2 * KEY_ID_SIZE:
            raise MalformedNoteError(f"verifier key {name}: key id {hex_id}, want {key.key_id.hex()}")
        return key

    def text(self) -> str:
        encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def signed(self, body: str, signature: NoteSignature) -> bool:
        """True when `signature` is this key's valid signature over `body`."""
        if signature.name != self.name or signature.key_id != self.key_id:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature.signature, body.encode())
        except InvalidSignature:
            return False
        return True


class NoteSigner:
    """An Ed25519 private key with its signed-note name; only the stream and `keys` ever hold one."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self._private = private_key
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier_key = VerifierKey.from_public_key(name, public)

    @property
    def name(self) -> str:
        return self.verifier_key.name

    @property
    def key_id(self) -> bytes:
        return self.verifier_key.key_id

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_text(cls, text: str) -> NoteSigner:
        if not text.startswith(PRIVATE_KEY_PREFIX):
            raise MalformedNoteError("private key: want PRIVATE+KEY+<name>+<hex id>+<base64 seed>")
        parts = text.strip()[len(PRIVATE_KEY_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise MalformedNoteError("private key: want PRIVATE+KEY+<name>+<hex id>+<base64 seed>")
        name, hex_id, encoded = parts
        raw = _b64decode(encoded, "private key")
        if len(raw) != 33 or raw[0] != ED25519_ALGORITHM:
            raise MalformedNoteError("private key: want 0x01 and a 32-byte Ed25519 seed")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.key_id.hex() != hex_id.lower():
            raise MalformedNoteError(f"private key {name}: key id {hex_id} does not match the key")
        return signer

    def private_text(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + seed).decode()
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}\n"

    def sign(self, body: str) -> NoteSignature:
        return NoteSignature(self.name, self.key_id, self._private.sign(body.encode()))


def _check_body(body: str) -> None:
    if not body.endswith("\n"):
        raise MalformedNoteError("note body must end with a newline")
    if any((ord(c) < 0x20 and c != "\n") or c == "\x7f" for c in body):
        raise MalformedNoteError("note body contains a control character")
    if "\n\n" in body or body.startswith("\n"):
        raise MalformedNoteError("note body contains an empty line")


@dataclass(frozen=True)
class SignedNote:
    body: str
    signatures: tuple[NoteSignature, ...]

    @classmethod
    def sign(cls, body: str, signers: Iterable[NoteSigner]) -> SignedNote:
        _check_body(body)
        signatures = tuple(s.sign(body) for s in signers)
        if not signatures:
            raise ValueError("a signed note needs at least one signer")
        return cls(body, signatures)

    def text(self) -> str:
        return self.body + "\n" + "".join(s.line() for s in self.signatures)

    @classmethod
    def parse(cls, text: str) -> SignedNote:
        """Split and check the format only; `verified_by` checks signatures."""
        if not text.endswith("\n"):
            raise MalformedNoteError("note must end with a newline")
        split = text.rfind("\n\n")
        if split < 0:
            raise MalformedNoteError("note has no blank line before its signatures")
        body, lines = text[: split + 1], text[split + 2 :].splitlines()
        _check_body(body)
        if not lines or len(lines) > MAX_SIGNATURES:
            raise MalformedNoteError(f"note has {len(lines)} signature lines, want 1..{MAX_SIGNATURES}")
        signatures = []
        for number, line in enumerate(lines, 1):
            if not line.startswith(SIGNATURE_PREFIX):
                raise MalformedNoteError(f"signature line {number} does not start with an em dash and a space")
            fields = line[len(SIGNATURE_PREFIX) :].split(" ")
            if len(fields) != 2:
                raise MalformedNoteError(f"signature line {number}: want '<name> <base64>'")
            name, encoded = fields
            _check_name(name)
            raw = _b64decode(encoded, f"signature line {number}")
            if len(raw) != KEY_ID_SIZE + SIGNATURE_SIZE:
                want = KEY_ID_SIZE + SIGNATURE_SIZE
                raise MalformedNoteError(f"signature line {number}: {len(raw)} bytes, want {want}")
            signatures.append(NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:]))
        return cls(body, tuple(signatures))

    def verified_by(self, keys: Iterable[VerifierKey]) -> list[VerifierKey]:
        """The known keys whose signature on this note checks (unknown signers are ignored)."""
        return [key for key in keys for sig in self.signatures if key.signed(self.body, sig)]
