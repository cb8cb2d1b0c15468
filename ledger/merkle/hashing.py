"""RFC 6962 / RFC 9162 tree hashing with SHA-256.

What is hashed, byte for byte::

    leaf hash  = SHA-256( LEAF_PREFIX || data )                 LEAF_PREFIX = 0x00
    node hash  = SHA-256( NODE_PREFIX || left || right )        NODE_PREFIX = 0x01, left/right 32 bytes each
    empty root = SHA-256( "" )                                  the root of a tree with no leaves

The one-byte prefixes give leaves and interior nodes disjoint domains, so a 64-byte leaf can never be passed
off as an interior node (the second-preimage attack on plain Merkle trees).
"""

from __future__ import annotations

import hashlib
from typing import NewType

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "LeafHash",
    "RootHash",
    "leaf_hash",
    "node_hash",
]

LeafHash = NewType("LeafHash", bytes)
RootHash = NewType("RootHash", bytes)

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32

# printf '' | sha256sum
EMPTY_ROOT = RootHash(hashlib.sha256(b"").digest())

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> LeafHash:
    """Hash a record's canonical bytes as a leaf; any bytes, including empty, are a valid leaf."""
    return LeafHash(_sha256(LEAF_PREFIX + data).digest())


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent; order matters, the left child covers earlier leaves.

    Widths are not checked here (callers on hot paths validate once at their boundary).
    """
    return _sha256(NODE_PREFIX + left + right).digest()
