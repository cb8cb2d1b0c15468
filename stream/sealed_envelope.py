"""Sealing a dead letter's original bytes to a recipient key, so that only its holder can read them.

Why: a message the stream refuses may hold exactly the secrets masking exists to keep out of the
long-lived topics, yet someone must be able to recover and replay it. The stream holds only the
recipient's public key; the private key stays with whoever handles dead letters.

Envelope (version 1), all lengths fixed:

    magic "ALDL1" (5) || recipient key id (8) || ephemeral X25519 public key (32) || ciphertext || tag (16)

key = HKDF-SHA256(ikm = X25519(ephemeral, recipient), salt = ephemeral_pub || recipient_pub,
info = "auditledger/deadletter/v1"); cipher ChaCha20-Poly1305 with a zero nonce (the key is used once);
associated data = magic || key id || ephemeral_pub || context, where context names the message's
source position, so an envelope cannot be moved to another dead letter unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"ALDL1"
KEY_ID_SIZE = 8
PUBLIC_SIZE = 32
TAG_SIZE = 16
INFO = b"auditledger/deadletter/v1"
PUBLIC_KEY_PREFIX = "auditledger-deadletter-x25519:"
NONCE = bytes(12)


class SealError(ValueError):
    """An envelope is malformed, sealed to another key, altered, or bound to another position."""


class SealKeyError(ValueError):
    """A recipient key file is missing, malformed or too widely readable; the message says which."""


def key_id_of(public: bytes) -> bytes:
    return hashlib.sha256(b"auditledger/deadletter-key\x00" + public).digest()[:KEY_ID_SIZE]


def _derive(shared: bytes, ephemeral_pub: bytes, recipient_pub: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=ephemeral_pub + recipient_pub, info=INFO).derive(shared)


@dataclass(frozen=True)
class SealingKey:
    """The recipient's public key: all the stream needs."""

    public: bytes

    @property
    def key_id(self) -> str:
        return key_id_of(self.public).hex()

    def text(self) -> str:
        return PUBLIC_KEY_PREFIX + base64.b64encode(self.public).decode()

    @classmethod
    def from_text(cls, text: str) -> SealingKey:
        text = text.strip()
        if not text.startswith(PUBLIC_KEY_PREFIX):
            raise SealKeyError(f"a dead-letter public key starts with {PUBLIC_KEY_PREFIX!r}")
        try:
            public = base64.b64decode(text[len(PUBLIC_KEY_PREFIX) :], validate=True)
        except ValueError as exc:
            raise SealKeyError("dead-letter public key is not valid base64") from exc
        if len(public) != PUBLIC_SIZE:
            raise SealKeyError(f"dead-letter public key has {len(public)} bytes, want {PUBLIC_SIZE}")
        return cls(public)

    @classmethod
    def load(cls, path: Path) -> SealingKey:
        try:
            return cls.from_text(path.read_text(encoding="ascii"))
        except OSError as exc:
            raise SealKeyError(f"cannot read dead-letter public key {path}: {exc.strerror}") from None
        except SealKeyError as exc:
            raise SealKeyError(f"{path}: {exc}") from None

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        ephemeral = X25519PrivateKey.generate()
        ephemeral_pub = ephemeral.public_key().public_bytes_raw()
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.public))
        header = MAGIC + key_id_of(self.public) + ephemeral_pub
        key = _derive(shared, ephemeral_pub, self.public)
        return header + ChaCha20Poly1305(key).encrypt(NONCE, plaintext, header + context)


@dataclass(frozen=True)
class RecipientKey:
    """The private half, held by whoever may read and replay dead letters."""

    private: X25519PrivateKey

    @property
    def sealing_key(self) -> SealingKey:
        return SealingKey(self.private.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> RecipientKey:
        return cls(X25519PrivateKey.generate())

    def save(self, private_path: Path, public_path: Path) -> None:
        """Private key 0600 (refusing to overwrite one), public key beside it for the stream."""
        private_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        raw = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        public_path.write_text(self.sealing_key.text() + "\n", encoding="ascii")

    @classmethod
    def load(cls, path: Path) -> RecipientKey:
        try:
            status = path.stat()
            data = path.read_bytes()
        except OSError as exc:
            raise SealKeyError(f"cannot read dead-letter private key {path}: {exc.strerror}") from None
        if status.st_mode & 0o077:
            raise SealKeyError(f"{path}: readable or writable by group or others (mode {status.st_mode & 0o777:o}); "
                               "chmod 600 it")  # fmt: skip
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise SealKeyError(f"{path}: not a PEM private key") from None
        if not isinstance(private, X25519PrivateKey):
            raise SealKeyError(f"{path}: not an X25519 key")
        return cls(private)

    def open(self, envelope: bytes, context: bytes) -> bytes:
        header_size = len(MAGIC) + KEY_ID_SIZE + PUBLIC_SIZE
        if len(envelope) < header_size + TAG_SIZE or not envelope.startswith(MAGIC):
            raise SealError("not a version 1 dead-letter envelope")
        own = self.sealing_key.public
        key_id = envelope[len(MAGIC) : len(MAGIC) + KEY_ID_SIZE]
        if key_id != key_id_of(own):
            raise SealError(f"sealed to key {key_id.hex()}, this key is {key_id_of(own).hex()}")
        ephemeral_pub = envelope[len(MAGIC) + KEY_ID_SIZE : header_size]
        shared = self.private.exchange(X25519PublicKey.from_public_bytes(ephemeral_pub))
        key = _derive(shared, ephemeral_pub, own)
        try:
            return ChaCha20Poly1305(key).decrypt(NONCE, envelope[header_size:], envelope[:header_size] + context)
        except InvalidTag:
            raise SealError("envelope does not open: altered, or not for this source position") from None


def seal_context(topic: str, partition: int, offset: int) -> bytes:
    """The source position an envelope is bound to."""
    return f"{topic}\x00{partition}\x00{offset}".encode()
