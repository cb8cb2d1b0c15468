"""RFC 6962 / RFC 9162 Merkle trees for the audit ledger: hashing, tree state, proofs and their checks.

Pure computation, no I/O: callers hand in bytes and get bytes or a ``MerkleError`` back.
"""

from .errors import ConsistencyError, MalformedInput, MerkleError, RootMismatchError
from .frontier import CompactFrontier
from .hashing import EMPTY_ROOT, HASH_SIZE, LEAF_PREFIX, NODE_PREFIX, LeafHash, RootHash, leaf_hash, node_hash
from .proof import consistency_proof, inclusion_proof
from .tree_hash import root_of
from .verify import (
    consistency_proof_size,
    inclusion_proof_size,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "CompactFrontier",
    "ConsistencyError",
    "LeafHash",
    "MalformedInput",
    "MerkleError",
    "RootHash",
    "RootMismatchError",
    "consistency_proof",
    "consistency_proof_size",
    "inclusion_proof",
    "inclusion_proof_size",
    "leaf_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]
