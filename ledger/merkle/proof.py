"""Proof generation over a full list of leaf hashes (RFC 9162 §2.1.3.1 PATH, §2.1.4.1 PROOF/SUBPROOF).

Both definitions recurse by splitting a range at the largest power of two below its length and emitting the
root of the sibling range *after* recursing, so the recursion is unrolled here top-down into a list that is
reversed at the end. Each sibling root is computed by streaming its leaves, so a proof costs O(n) hashing
and O(log n) extra memory.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import MalformedInput, require_count
from .frontier import CompactFrontier

__all__ = ["consistency_proof", "inclusion_proof"]


def _split(n: int) -> int:
    """RFC 9162's k: the largest power of two strictly less than n (requires n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) without copying the slice."""
    frontier = CompactFrontier()
    frontier.extend(leaf_hashes[i] for i in range(lo, hi))
    return frontier.root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]): the audit path for one leaf in the tree of the first ``size`` leaves.

    Requires 0 <= index < size <= len(leaf_hashes).
    """
    require_count(index, "index")
    require_count(size, "size")
    if size > len(leaf_hashes):
        raise MalformedInput(f"size {size} exceeds the {len(leaf_hashes)} leaf hashes given")
    if index >= size:
        raise MalformedInput(f"index {index} out of range for size {size}")

    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:  # PATH(m, D[0:k]) : MTH(D[k:n])
            path.append(_range_root(leaf_hashes, mid, hi))
            hi = mid
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            path.append(_range_root(leaf_hashes, lo, mid))
            lo = mid
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]): shows the old tree is a prefix of the new one.

    Requires 0 < old_size <= new_size <= len(leaf_hashes); equal sizes give the empty proof. A proof from
    the empty tree is refused: it would prove nothing (and the verifier rejects it).
    """
    require_count(old_size, "old_size")
    require_count(new_size, "new_size")
    if new_size > len(leaf_hashes):
        raise MalformedInput(f"new_size {new_size} exceeds the {len(leaf_hashes)} leaf hashes given")
    if old_size == 0:
        raise MalformedInput("old_size must be > 0: consistency with the empty tree proves nothing")
    if old_size > new_size:
        raise MalformedInput(f"old_size {old_size} exceeds new_size {new_size}")

    proof: list[bytes] = []
    m = old_size  # position of the old tree's right edge, relative to lo
    lo, hi = 0, new_size
    complete = True  # SUBPROOF's b: is the current range's root the old root itself?
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            proof.append(_range_root(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            proof.append(_range_root(leaf_hashes, lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        proof.append(_range_root(leaf_hashes, lo, hi))
    proof.reverse()
    return proof
