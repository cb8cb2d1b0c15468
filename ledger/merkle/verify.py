"""Proof verification: compute, then compare (RFC 9162 §2.1.3.2 and §2.1.4.2).

``root_from_inclusion_proof`` only computes a root and rejects input that cannot be a proof at all; the
``verify_*`` functions compare what was computed with what the caller trusts and raise on any difference.
Every failure is a ``MerkleError`` subclass: ``MalformedInput`` for impossible shapes, ``RootMismatchError``
when a recomputed root differs, ``ConsistencyError`` when the old tree is not shown to be a prefix of the new.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import (
    ConsistencyError,
    MalformedInput,
    RootMismatchError,
    require_bytes,
    require_count,
    require_hash,
    require_hashes,
)
from .hashing import node_hash

__all__ = [
    "consistency_proof_size",
    "inclusion_proof_size",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def inclusion_proof_size(index: int, size: int) -> int:
    """Length of PATH(index, D[size]); requires 0 <= index < size.

    The path climbs through the levels where index and size-1 differ ("inner"), then joins the right
    border of the tree, where it needs one hash per set bit left above that point ("border").
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def consistency_proof_size(old_size: int, new_size: int) -> int:
    """Length of PROOF(old_size, D[new_size]); requires 0 < old_size < new_size.

    It is the inclusion path of leaf old_size-1, minus the levels inside the old tree's rightmost perfect
    subtree (its root stands in for them), plus that root unless the old tree is itself perfect.
    """
    shift = (old_size & -old_size).bit_length() - 1  # trailing zeros of old_size
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    seed = 0 if old_size == 1 << shift else 1
    return seed + (inner - shift) + border


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by a leaf and its audit path; never compares with anything.

    Requires 0 <= index < size, a 32-byte leaf hash and exactly ``inclusion_proof_size(index, size)``
    32-byte proof hashes; anything else raises MalformedInput.
    """
    require_count(index, "index")
    require_count(size, "size")
    if index >= size:
        raise MalformedInput(f"index {index} out of range for size {size}")
    leaf = require_hash(leaf_hash, "leaf hash")
    path = require_hashes(proof, "proof")
    want = inclusion_proof_size(index, size)
    if len(path) != want:
        raise MalformedInput(f"wrong proof size {len(path)}, want {want}")

    # RFC 9162 §2.1.3.2, steps 2-5 (step 1 is the range check above).
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:  # unreachable after the length check; kept so the algorithm stands on its own
            raise MalformedInput("proof longer than the tree is tall")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # unreachable after the length check, as above
        raise MalformedInput("proof shorter than the tree is tall")
    return r


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves whose root is ``root``.

    Requires what ``root_from_inclusion_proof`` requires, and a 32-byte root.
    """
    calculated = root_from_inclusion_proof(index, size, leaf_hash, proof)
    trusted = require_hash(root, "root")
    if calculated != trusted:
        raise RootMismatchError(trusted, calculated)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes] | None
) -> None:
    """Check that the tree of ``old_size`` leaves (``old_root``) is a prefix of ``new_size`` (``new_root``).

    Requires 0 < old_size <= new_size. A check from the empty tree proves nothing and is refused. When the
    sizes are equal the proof must be empty and the roots are compared as opaque bytes (the shared RFC 6962
    vector ``consistency/additional/sizes-are-equal-one-and-proof-is-empty`` expects exactly that);
    otherwise both roots must be 32-byte hashes.
    """
    require_count(old_size, "old_size")
    require_count(new_size, "new_size")
    if old_size > new_size:
        raise MalformedInput(f"old_size {old_size} exceeds new_size {new_size}")
    if old_size == 0:
        raise MalformedInput("old_size must be > 0: consistency with the empty tree proves nothing")
    path = require_hashes(proof, "proof")

    if old_size == new_size:
        if path:
            raise MalformedInput(f"wrong proof size {len(path)}, want 0")
        old, new = require_bytes(old_root, "old root"), require_bytes(new_root, "new root")
        if old != new:
            raise ConsistencyError(f"two different roots for the same size {old_size}", expected=old, calculated=new)
        return

    trusted_old = require_hash(old_root, "old root")
    trusted_new = require_hash(new_root, "new root")
    want = consistency_proof_size(old_size, new_size)
    if len(path) != want:
        raise MalformedInput(f"wrong proof size {len(path)}, want {want}")

    # RFC 9162 §2.1.4.2, steps 2-7 (step 1, the empty-proof check, is covered by the length check).
    if old_size & (old_size - 1) == 0:  # (2) a perfect old tree is its own seed
        path = [trusted_old, *path]
    fn, sn = old_size - 1, new_size - 1  # (3)
    while fn & 1:  # (4)
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # (5)
    for c in path[1:]:  # (6)
        if sn == 0:  # unreachable after the length check; kept so the algorithm stands on its own
            raise MalformedInput("proof longer than the tree is tall")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # (7); unreachable after the length check, as above
        raise MalformedInput("proof shorter than the tree is tall")
    if fr != trusted_old:
        raise ConsistencyError("proof does not reproduce the old root", expected=trusted_old, calculated=fr)
    if sr != trusted_new:
        raise RootMismatchError(trusted_new, sr, what="new root")
