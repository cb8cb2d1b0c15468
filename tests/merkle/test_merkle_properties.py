"""Known answers and invariants for hashing, tree hashes, proof generation and proof verification.

The reference ``_mth`` below is the RFC 6962 §2.1 definition transcribed literally (recursive, slow), so the
fast streaming implementation is checked against the spec rather than against itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    LEAF_PREFIX,
    NODE_PREFIX,
    ConsistencyError,
    MalformedInput,
    MerkleError,
    RootMismatchError,
    consistency_proof,
    consistency_proof_size,
    inclusion_proof,
    inclusion_proof_size,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_of,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 300
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)

# The RFC 6962 reference test tree (certificate-transparency's test data): eight leaves of growing length.
REFERENCE_LEAVES = [
    bytes.fromhex(x)
    for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
# Roots of its prefixes of size 1..8; sizes 1, 2, 3, 5, 7 and 8 also appear as roots in the shared vectors
# (e.g. inclusion/1/happy-path.json holds size 8's root, base64 XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=).
REFERENCE_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, literally: split at the largest power of two strictly below n."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _leaves(salt: bytes, n: int) -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _path_shape(index: int, size: int) -> list[bool]:
    """Per proof element, bottom-up: is the sibling on the right? Read off RFC 9162's PATH recursion."""
    shape: list[bool] = []
    while size > 1:
        k = 1 << ((size - 1).bit_length() - 1)
        shape.append(index < k)
        if index >= k:
            index, size = index - k, size - k
        else:
            size = k
    return shape[::-1]


def _consistency_shape(old: int, new: int) -> tuple[list[bool], bool]:
    """The SUBPROOF recursion's choices, plus whether the proof carries an explicit seed hash."""
    shape: list[bool] = []
    complete = True
    while old != new:
        k = 1 << ((new - 1).bit_length() - 1)
        shape.append(old <= k)
        if old <= k:
            new = k
        else:
            old, new, complete = old - k, new - k, False
    return shape[::-1], not complete


def _fails(check: Callable[..., object], *args: object) -> MerkleError:
    """Run a check that must fail with one of our errors (any other exception fails the test)."""
    with pytest.raises(MerkleError) as info:
        check(*args)
    return info.value


# --- known answers ---------------------------------------------------------------------------------------


def test_prefixes_and_empty_root_known_answers() -> None:
    assert LEAF_PREFIX == b"\x00" and NODE_PREFIX == b"\x01"
    # printf '' | sha256sum
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_of([]) == EMPTY_ROOT


def test_leaf_hash_known_answers() -> None:
    # printf '\x00' | sha256sum
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    # printf '\x00abc' | sha256sum
    assert leaf_hash(b"abc").hex() == "609f6e36d2405585188d5cfd761f407c7cc46a7d3f314c88270469dde315fcd1"


def test_node_hash_known_answer() -> None:
    # { printf '\x01'; printf '\x00' | openssl dgst -sha256 -binary;
    #   printf '\x00\x00' | openssl dgst -sha256 -binary; } | sha256sum
    expected = "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")).hex() == expected


def test_reference_tree_roots() -> None:
    hashes = [leaf_hash(d) for d in REFERENCE_LEAVES]
    for size, want in enumerate(REFERENCE_ROOTS, start=1):
        assert root_of(hashes[:size]).hex() == want, f"size {size}"


def test_root_of_matches_spec_definition_for_small_sizes() -> None:
    leaves = _leaves(b"small", 70)
    for n in range(len(leaves) + 1):
        assert root_of(leaves[:n]) == _mth(leaves[:n]), f"size {n}"


def test_root_of_streams_from_a_generator() -> None:
    leaves = _leaves(b"gen", 37)
    assert root_of(h for h in leaves) == _mth(leaves)


# --- hashing invariants ----------------------------------------------------------------------------------


@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
@settings(max_examples=50)
def test_child_order_matters(a: bytes, b: bytes) -> None:
    if a != b:
        assert node_hash(a, b) != node_hash(b, a)


def test_leaf_and_node_domains_are_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(a + b) != node_hash(a, b)


# --- proofs verify -----------------------------------------------------------------------------------------


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    index = draw(st.integers(0, size - 1))
    extra = draw(st.integers(0, 3))  # proofs over a prefix of a longer list
    return _leaves(draw(st.binary(max_size=8)), size + extra), index, size


@st.composite
def tree_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    new = draw(st.integers(1, MAX_SIZE))
    old = draw(st.integers(1, new))
    return _leaves(draw(st.binary(max_size=8)), new), old, new


@given(tree_and_index())
@PROPERTY_SETTINGS
def test_inclusion_proofs_verify(case: tuple[list[bytes], int, int]) -> None:
    leaves, index, size = case
    proof = inclusion_proof(leaves, index, size)
    root = root_of(leaves[:size])
    assert len(proof) == inclusion_proof_size(index, size)
    assert root_from_inclusion_proof(index, size, leaves[index], proof) == root
    verify_inclusion(index, size, leaves[index], proof, root)


@given(tree_and_sizes())
@PROPERTY_SETTINGS
def test_consistency_proofs_verify(case: tuple[list[bytes], int, int]) -> None:
    leaves, old, new = case
    proof = consistency_proof(leaves, old, new)
    assert len(proof) == (consistency_proof_size(old, new) if old < new else 0)
    verify_consistency(old, new, root_of(leaves[:old]), root_of(leaves), proof)


def test_all_small_proofs_verify_exhaustively() -> None:
    leaves = _leaves(b"exhaustive", 33)
    roots = [_mth(leaves[:n]) for n in range(len(leaves) + 1)]
    for new in range(1, len(leaves) + 1):
        for i in range(new):
            verify_inclusion(i, new, leaves[i], inclusion_proof(leaves, i, new), roots[new])
        for old in range(1, new + 1):
            verify_consistency(old, new, roots[old], roots[new], consistency_proof(leaves, old, new))


# --- any tampering fails -------------------------------------------------------------------------------


@given(tree_and_index(), st.integers(0, 255))
@PROPERTY_SETTINGS
def test_tampered_inclusion_fails(case: tuple[list[bytes], int, int], bit: int) -> None:
    leaves, index, size = case
    leaf, proof, root = leaves[index], inclusion_proof(leaves, index, size), root_of(leaves[:size])

    _fails(verify_inclusion, index, size, _flip(leaf, bit), proof, root)
    _fails(verify_inclusion, index, size, leaf, proof, _flip(root, bit))
    for i in range(len(proof)):
        bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        _fails(verify_inclusion, index, size, leaf, bad, root)
    for other in {index - 1, index + 1, index ^ (1 << (bit % 9))} - {index}:
        if other >= 0:
            _fails(verify_inclusion, other, size, leaf, proof, root)
    for other_size in (size - 1, size + 1):
        # An RFC 6962 path does not commit to the size by itself: a size whose path has the very same shape
        # reads the same hashes the same way (e.g. index 0 in sizes 3 and 4), so it verifies. Only the signed
        # checkpoint binds the size. Assert exactly that boundary: fails if and only if the shape differs.
        if index < other_size and _path_shape(index, other_size) == _path_shape(index, size):
            verify_inclusion(index, other_size, leaf, proof, root)
        else:
            _fails(verify_inclusion, index, other_size, leaf, proof, root)


@given(tree_and_sizes(), st.integers(0, 255))
@PROPERTY_SETTINGS
def test_tampered_consistency_fails(case: tuple[list[bytes], int, int], bit: int) -> None:
    leaves, old, new = case
    proof, old_root, new_root = consistency_proof(leaves, old, new), root_of(leaves[:old]), root_of(leaves)

    _fails(verify_consistency, old, new, _flip(old_root, bit), new_root, proof)
    _fails(verify_consistency, old, new, old_root, _flip(new_root, bit), proof)
    for i in range(len(proof)):
        bad = [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]]
        _fails(verify_consistency, old, new, old_root, new_root, bad)
    shape = _consistency_shape(old, new)
    for o, n in ((old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1)):
        # As with inclusion, sizes whose proof has the same shape are aliases (same hashes, same order) and
        # verify; every other size change fails.
        if 0 < o <= n and _consistency_shape(o, n) == shape:
            verify_consistency(o, n, old_root, new_root, proof)
        else:
            _fails(verify_consistency, o, n, old_root, new_root, proof)


def test_inclusion_path_alone_does_not_bind_the_size() -> None:
    """Documents the alias the tamper tests allow: leaf 0's path in a 4-leaf tree also reads as a 3-leaf path.

    It is not a forgery of leaf 0's position (the same hashes combine in the same order; no index change ever
    verifies), but it is why a verifier must take the size from the signed checkpoint, never from the proof.
    """
    leaves = _leaves(b"alias", 4)
    proof, root = inclusion_proof(leaves, 0, 4), root_of(leaves)
    verify_inclusion(0, 3, leaves[0], proof, root)
    assert root == root_of([leaves[0], leaves[1], node_hash(leaves[2], leaves[3])])


# --- error kinds and wording ---------------------------------------------------------------------------


def test_errors_say_got_and_want() -> None:
    leaves = _leaves(b"words", 8)
    proof = inclusion_proof(leaves, 0, 8)
    with pytest.raises(MalformedInput, match=r"wrong proof size 2, want 3"):
        root_from_inclusion_proof(0, 8, leaves[0], proof[:2])
    with pytest.raises(MalformedInput, match=r"index 8 out of range for size 8"):
        root_from_inclusion_proof(8, 8, leaves[0], proof)
    with pytest.raises(MalformedInput, match=r"wrong leaf hash size 31, want 32"):
        root_from_inclusion_proof(0, 8, leaves[0][:31], proof)
    with pytest.raises(MalformedInput, match=r"wrong proof\[1\] size 33, want 32"):
        root_from_inclusion_proof(0, 8, leaves[0], [proof[0], proof[1] + b"x", proof[2]])


def test_error_kinds_name_the_failed_check() -> None:
    leaves = _leaves(b"kinds", 7)
    r3, r7 = root_of(leaves[:3]), root_of(leaves)
    proof = consistency_proof(leaves, 3, 7)
    err = _fails(verify_consistency, 3, 7, _flip(r3, 0), r7, proof)
    assert isinstance(err, ConsistencyError)
    err = _fails(verify_consistency, 3, 7, r3, _flip(r7, 0), proof)
    assert isinstance(err, RootMismatchError)
    assert err.expected == _flip(r7, 0) and err.calculated == r7
    err = _fails(verify_consistency, 3, 3, r3, r7, [])
    assert isinstance(err, ConsistencyError)
    for bad in [(0, 7), (8, 7), (-1, 7)]:
        err = _fails(verify_consistency, bad[0], bad[1], r3, r7, proof)
        assert isinstance(err, MalformedInput)
    assert "RootMismatchError" in RootMismatchError(r7, r3).diagnostics()
    assert "want 32" in RootMismatchError(b"short", r3).diagnostics()


@pytest.mark.parametrize(
    "call",
    [
        lambda lv: inclusion_proof(lv, 5, 5),
        lambda lv: inclusion_proof(lv, 0, 6),
        lambda lv: inclusion_proof(lv, -1, 5),
        lambda lv: consistency_proof(lv, 0, 5),
        lambda lv: consistency_proof(lv, 3, 2),
        lambda lv: consistency_proof(lv, 1, 6),
        lambda lv: root_from_inclusion_proof(True, 5, lv[0], []),
        lambda lv: verify_inclusion(0, 5, lv[0], "not a proof", lv[0]),  # type: ignore[arg-type]
        lambda lv: verify_consistency(1, 1, None, lv[0], []),  # type: ignore[arg-type]
    ],
)
def test_bad_preconditions_raise_malformed_input(call: Callable[[list[bytes]], object]) -> None:
    with pytest.raises(MalformedInput):
        call(_leaves(b"pre", 5))
