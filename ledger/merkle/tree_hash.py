"""The Merkle Tree Hash (RFC 6962 §2.1, RFC 9162 §2.1.1) of a whole list of leaf hashes."""

from __future__ import annotations

from collections.abc import Iterable

from .frontier import CompactFrontier
from .hashing import RootHash

__all__ = ["root_of"]


def root_of(leaf_hashes: Iterable[bytes]) -> RootHash:
    """MTH over all leaf hashes, in order; requires 32-byte ``bytes`` leaf hashes.

    Streams through a CompactFrontier, so a verifier can feed millions of records from a cursor or a
    generator in O(log n) memory and without recursion.
    """
    frontier = CompactFrontier()
    frontier.extend(leaf_hashes)
    return frontier.root()
