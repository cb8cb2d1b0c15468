"""Errors raised by the Merkle layer.

Auditors need to know *which* check failed, so every failed check has its own type under one base,
and every error can explain itself to a person through ``diagnostics()``. None of these derive from
``ValueError``: callers catch ``MerkleError`` and never have to guess what a bare ``ValueError`` meant.

The ``require_*`` helpers at the bottom are the boundary checks that raise ``MalformedInput``; they live here
so every entry point words its errors the same way ("wrong proof[1] size 33, want 32").
"""

from __future__ import annotations

from .hashing import HASH_SIZE

__all__ = [
    "ConsistencyError",
    "MalformedInput",
    "MerkleError",
    "RootMismatchError",
    "require_bytes",
    "require_count",
    "require_hash",
    "require_hashes",
]


def _describe(value: bytes) -> str:
    """Hex for people, with the width called out because a wrong width is itself a finding."""
    note = "" if len(value) == HASH_SIZE else f" ({len(value)} bytes, want {HASH_SIZE})"
    return value.hex() + note


class MerkleError(Exception):
    """Base of every failure in proof checking or tree state handling."""

    def diagnostics(self) -> str:
        """A multi-line explanation for people; the default is the message itself."""
        return f"{type(self).__name__}: {self}"


class MalformedInput(MerkleError):
    """Input that cannot be valid whatever the hashes are: bad sizes, widths or proof lengths.

    In an audit context this may well be tampering, so it is a verification failure, not a usage error.
    """


class RootMismatchError(MerkleError):
    """A root recomputed from the evidence differs from the root we were told to trust."""

    def __init__(self, expected: bytes, calculated: bytes, *, what: str = "root") -> None:
        self.expected = bytes(expected)
        self.calculated = bytes(calculated)
        self.what = what
        super().__init__(f"{what} mismatch: calculated {self.calculated.hex()}, want {self.expected.hex()}")

    def diagnostics(self) -> str:
        return "\n".join(
            [
                f"RootMismatchError: the recomputed {self.what} does not match the trusted one.",
                f"  expected:   {_describe(self.expected)}",
                f"  calculated: {_describe(self.calculated)}",
                "  The leaf, the proof, the index/size or the trusted root has been altered.",
            ]
        )


class ConsistencyError(MerkleError):
    """The evidence does not show the older tree to be a prefix of the newer one (a fork or a rewrite)."""

    def __init__(self, message: str, *, expected: bytes | None = None, calculated: bytes | None = None) -> None:
        self.expected = None if expected is None else bytes(expected)
        self.calculated = None if calculated is None else bytes(calculated)
        super().__init__(message)

    def diagnostics(self) -> str:
        lines = [f"ConsistencyError: {self}"]
        if self.expected is not None:
            lines.append(f"  expected:   {_describe(self.expected)}")
        if self.calculated is not None:
            lines.append(f"  calculated: {_describe(self.calculated)}")
        lines.append("  The log history may have been rewritten, or two different logs were compared.")
        return "\n".join(lines)


# --- boundary checks ------------------------------------------------------------------------------------


def require_count(value: object, what: str) -> int:
    """Sizes and indices are non-negative ints; bools and floats are rejected rather than coerced."""
    if type(value) is not int:
        raise MalformedInput(f"{what} must be an int, got {type(value).__name__}")
    if value < 0:
        raise MalformedInput(f"{what} must be >= 0, got {value}")
    return value


def require_bytes(value: object, what: str) -> bytes:
    """Bytes-like input as immutable bytes; a str or None is a caller's mistake we refuse to coerce."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise MalformedInput(f"{what} must be bytes, got {type(value).__name__}")
    return bytes(value)


def require_hash(value: object, what: str) -> bytes:
    """A hash is exactly HASH_SIZE bytes; anything else cannot have come from an honest log."""
    value = require_bytes(value, what)
    if len(value) != HASH_SIZE:
        raise MalformedInput(f"wrong {what} size {len(value)}, want {HASH_SIZE}")
    return value


def require_hashes(values: object, what: str) -> list[bytes]:
    """Validate a proof-like list element by element, naming the offending position."""
    if values is None:
        return []
    if isinstance(values, bytes | bytearray | memoryview | str):
        raise MalformedInput(f"{what} must be a sequence of hashes, got {type(values).__name__}")
    try:
        items = list(values)  # type: ignore[call-overload]
    except TypeError as exc:
        raise MalformedInput(f"{what} must be a sequence of hashes, got {type(values).__name__}") from exc
    return [require_hash(item, f"{what}[{i}]") for i, item in enumerate(items)]
