"""The compact frontier: an append-only Merkle tree state in O(log n) hashes.

A tree of ``size`` leaves decomposes uniquely into perfect subtrees, one per set bit of ``size``, largest
(leftmost) first. Keeping only those subtree roots (RFC 9162's "compact range" over [0, size)) is enough to
append further leaves and to compute the RFC 6962 root, so the ledger never needs to hold or re-read old
leaves on its hot path.

Appending leaf number ``size`` merges one existing subtree per trailing one-bit of ``size`` (exactly like a
binary increment carries), so appends cost one node hash amortised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from .errors import MalformedInput, require_count
from .hashing import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX, RootHash

__all__ = ["CompactFrontier"]

_sha256 = hashlib.sha256


class CompactFrontier:
    """Append-only tree state: the roots of the perfect subtrees covering leaves [0, size).

    Invariant: ``len(hashes) == popcount(size)`` and ``hashes[i]`` covers ``2**b`` leaves for the i-th set
    bit ``b`` of ``size`` counted from the most significant end.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> CompactFrontier:
        """Restore a serialised state; requires len(hashes) == popcount(size) and 32-byte bytes hashes.

        The input is untrusted (it comes from storage), so it is checked rather than assumed.
        """
        require_count(size, "size")
        try:
            items = list(hashes)
        except TypeError as exc:
            raise MalformedInput(f"hashes must be a list of hashes, got {type(hashes).__name__}") from exc
        want = size.bit_count()
        if len(items) != want:
            raise MalformedInput(f"wrong frontier hash count {len(items)}, want {want} for size {size}")
        for i, h in enumerate(items):
            if not isinstance(h, bytes | bytearray | memoryview):
                raise MalformedInput(f"frontier hash[{i}] must be bytes, got {type(h).__name__}")
            if len(h) != HASH_SIZE:
                raise MalformedInput(f"wrong frontier hash[{i}] size {len(h)}, want {HASH_SIZE}")
        frontier = cls()
        frontier._size = size
        frontier._hashes = [bytes(h) for h in items]
        return frontier

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """Subtree roots, left to right (largest first); a copy, safe to serialise or keep."""
        return list(self._hashes)

    def copy(self) -> CompactFrontier:
        """An independent state, e.g. to compute a speculative root without disturbing this one."""
        clone = CompactFrontier()
        clone._size = self._size
        clone._hashes = list(self._hashes)
        return clone

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf; requires a 32-byte ``bytes`` leaf hash (see ``hashing.leaf_hash``).

        This is the ledger's hot path, so the node hash is inlined rather than calling ``node_hash``.
        """
        if type(leaf_hash) is not bytes or len(leaf_hash) != HASH_SIZE:
            raise _bad_leaf(leaf_hash, self._size)
        hashes = self._hashes
        n = self._size
        h = leaf_hash
        while n & 1:  # each trailing one-bit of size is a same-sized subtree to merge with
            h = _sha256(NODE_PREFIX + hashes.pop() + h).digest()
            n >>= 1
        hashes.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaves; same contract as ``append``, with the loop kept local for speed."""
        hashes = self._hashes
        size = self._size
        pop = hashes.pop
        push = hashes.append
        prefix = NODE_PREFIX
        sha = _sha256
        try:
            for h in leaf_hashes:
                if type(h) is not bytes or len(h) != HASH_SIZE:
                    raise _bad_leaf(h, size)
                n = size
                while n & 1:
                    h = sha(prefix + pop() + h).digest()
                    n >>= 1
                push(h)
                size += 1
        finally:
            self._size = size  # leaves accepted before a bad one stay appended, as with append()

    def root(self) -> RootHash:
        """The RFC 6962 Merkle Tree Hash of the current size (EMPTY_ROOT when empty).

        MTH splits at the largest power of two below n, so the root folds the subtree roots from the right.
        """
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        r = hashes[-1]
        for h in reversed(hashes[:-1]):
            r = _sha256(NODE_PREFIX + h + r).digest()
        return RootHash(r)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactFrontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactFrontier(size={self._size}, hashes={len(self._hashes)})"


def _bad_leaf(value: object, position: int) -> MalformedInput:
    if not isinstance(value, bytes):
        return MalformedInput(f"leaf hash at {position} must be bytes, got {type(value).__name__}")
    return MalformedInput(f"wrong leaf hash size {len(value)} at {position}, want {HASH_SIZE}")
