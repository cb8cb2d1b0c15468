"""Avro single-object encoding: how a reader finds the writer's schema without a registry.

Layout (Avro specification, "Single-object encoding"):
    MAGIC (C3 01) || CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form,
    8 bytes little-endian || the Avro binary encoding of the datum.
"""

from __future__ import annotations

MAGIC = b"\xc3\x01"
FINGERPRINT_SIZE = 8
HEADER_SIZE = len(MAGIC) + FINGERPRINT_SIZE


class FramingError(ValueError):
    """The bytes are not a single-object encoded Avro datum."""


def frame(fingerprint: bytes, body: bytes) -> bytes:
    """Prefix an Avro body with the single-object header for its writer schema."""
    if len(fingerprint) != FINGERPRINT_SIZE:
        raise FramingError(f"fingerprint has {len(fingerprint)} bytes, want {FINGERPRINT_SIZE}")
    return MAGIC + fingerprint + body


def unframe(data: bytes) -> tuple[bytes, memoryview]:
    """Split a message into (writer fingerprint, Avro body) without copying the body."""
    if len(data) < HEADER_SIZE:
        raise FramingError(f"message has {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header")
    if data[:2] != MAGIC:
        raise FramingError(f"message starts with {bytes(data[:2]).hex()}, want single-object marker c301")
    view = memoryview(data)
    return bytes(view[2:HEADER_SIZE]), view[HEADER_SIZE:]
