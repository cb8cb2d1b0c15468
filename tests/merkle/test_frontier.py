"""CompactFrontier: the append-only tree state must agree with the full-list tree hash at every size,
survive a serialise/restore round trip, and refuse state or leaves that cannot be right."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import EMPTY_ROOT, CompactFrontier, MalformedInput, leaf_hash, root_of


def _mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, literally (recursive), as an independent reference."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _leaves(salt: bytes, n: int) -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]


def test_empty_frontier() -> None:
    frontier = CompactFrontier()
    assert frontier.size == 0
    assert frontier.hashes == []
    assert frontier.root() == EMPTY_ROOT


def test_root_matches_spec_at_every_size() -> None:
    leaves = _leaves(b"every", 260)
    frontier = CompactFrontier()
    for n, h in enumerate(leaves, start=1):
        frontier.append(h)
        assert frontier.size == n
        assert len(frontier.hashes) == n.bit_count()
        assert frontier.root() == root_of(leaves[:n]) == _mth(leaves[:n]), f"size {n}"


def test_reference_tree_known_root() -> None:
    # The RFC 6962 reference tree of eight leaves; also the root in the shared vector inclusion/1/happy-path.
    data = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    frontier = CompactFrontier()
    frontier.extend(leaf_hash(bytes.fromhex(d)) for d in data)
    assert frontier.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert frontier.hashes == [frontier.root()]  # a perfect tree is one subtree


def test_hashes_are_the_perfect_subtree_roots_largest_first() -> None:
    leaves = _leaves(b"subtrees", 13)  # 13 = 8 + 4 + 1
    frontier = CompactFrontier()
    frontier.extend(leaves)
    assert frontier.hashes == [_mth(leaves[0:8]), _mth(leaves[8:12]), leaves[12]]


@given(st.integers(0, 300), st.integers(0, 40), st.binary(max_size=8))
@settings(max_examples=60, deadline=None)
def test_restore_then_continue_matches_uninterrupted(size: int, more: int, salt: bytes) -> None:
    leaves = _leaves(salt, size + more)
    original = CompactFrontier()
    original.extend(leaves[:size])
    restored = CompactFrontier.from_hashes(original.size, original.hashes)
    assert restored == original and restored.root() == original.root()
    restored.extend(leaves[size:])
    assert restored.root() == root_of(leaves)


@given(st.integers(0, 200), st.integers(0, 20))
@settings(max_examples=40, deadline=None)
def test_extend_equals_repeated_append(size: int, split: int) -> None:
    leaves = _leaves(b"extend", size)
    one_by_one = CompactFrontier()
    for h in leaves:
        one_by_one.append(h)
    batched = CompactFrontier()
    batched.extend(leaves[:split])
    batched.extend(iter(leaves[split:]))
    assert batched == one_by_one


def test_copy_is_independent() -> None:
    frontier = CompactFrontier()
    frontier.extend(_leaves(b"copy", 5))
    clone = frontier.copy()
    root_before = frontier.root()
    clone.append(leaf_hash(b"more"))
    assert frontier.size == 5 and frontier.root() == root_before
    assert clone.size == 6


def test_hashes_is_a_copy() -> None:
    frontier = CompactFrontier()
    frontier.extend(_leaves(b"snapshot", 3))
    frontier.hashes.clear()
    assert len(frontier.hashes) == 2


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33, "a" * 32, bytearray(32), None])
def test_append_rejects_non_hashes_and_keeps_state(bad: object) -> None:
    frontier = CompactFrontier()
    frontier.extend(_leaves(b"reject", 3))
    before = frontier.copy()
    with pytest.raises(MalformedInput):
        frontier.append(bad)  # type: ignore[arg-type]
    assert frontier == before


def test_extend_keeps_leaves_accepted_before_a_bad_one() -> None:
    good = _leaves(b"partial", 3)
    frontier = CompactFrontier()
    with pytest.raises(MalformedInput, match=r"at 2"):
        frontier.extend([good[0], good[1], b"short", good[2]])
    assert frontier.size == 2 and frontier.root() == root_of(good[:2])


@pytest.mark.parametrize(
    ("size", "hashes", "message"),
    [
        (3, [b"\x00" * 32], r"wrong frontier hash count 1, want 2 for size 3"),
        (0, [b"\x00" * 32], r"wrong frontier hash count 1, want 0 for size 0"),
        (4, [b"\x00" * 32, b"\x00" * 32], r"wrong frontier hash count 2, want 1 for size 4"),
        (1, [b"\x00" * 31], r"wrong frontier hash\[0\] size 31, want 32"),
        (2, ["x" * 32], r"frontier hash\[0\] must be bytes"),
        (-1, [], r"size must be >= 0"),
        (1.0, [b"\x00" * 32], r"size must be an int"),
        (1, None, r"must be a list of hashes"),
    ],
)
def test_from_hashes_rejects_inconsistent_state(size: object, hashes: object, message: str) -> None:
    with pytest.raises(MalformedInput, match=message):
        CompactFrontier.from_hashes(size, hashes)  # type: ignore[arg-type]


def test_from_hashes_copies_its_input() -> None:
    source: list[bytes] = [leaf_hash(b"a")]
    frontier = CompactFrontier.from_hashes(1, source)
    source[0] = leaf_hash(b"b")
    assert frontier.root() == bytes(leaf_hash(b"a"))


def test_equality_and_repr() -> None:
    a, b = CompactFrontier(), CompactFrontier()
    a.append(leaf_hash(b"x"))
    assert a != b
    b.append(leaf_hash(b"x"))
    assert a == b
    assert a != "not a frontier"
    assert repr(a) == "CompactFrontier(size=1, hashes=1)"
