"""Which records of a shard's tail recovery folds in, and when a tail read reaches far enough (pure rules;
tests/stack/test_recovery_tail.py runs the reader on the real broker)."""

from __future__ import annotations

import pytest

from stream.recovery import own_records, tail_reaches
from stream.shard_chain import RecoveryGapError, ShardChain


def _record(shard: int, seq: int, leaf: bytes | None = None) -> dict:
    return {"shard": shard, "seq": seq, "leaf_hash": leaf or bytes([shard, seq % 256]) * 16}


def test_a_window_without_committed_records_is_widened() -> None:
    assert not tail_reaches(start=500, low=0, earliest_seq=None, first_seq=10)  # only aborted records seen
    assert tail_reaches(start=0, low=0, earliest_seq=None, first_seq=0)  # the whole partition: nothing there
    assert not tail_reaches(start=500, low=0, earliest_seq=11, first_seq=10)  # seq 10 lies before the window
    assert tail_reaches(start=500, low=0, earliest_seq=10, first_seq=10)
    assert tail_reaches(start=500, low=0, earliest_seq=3, first_seq=10)


def test_records_before_the_checkpoint_are_read_but_not_folded() -> None:
    earliest, kept = own_records(1, 5, [_record(1, s) for s in range(3, 9)])
    assert earliest == 3
    assert [r["seq"] for r in kept] == [5, 6, 7, 8]


def test_a_misrouted_record_is_neither_folded_nor_taken_for_the_start_of_the_window() -> None:
    foreign = _record(2, 0)  # shard 2's seq 0, produced to shard 1's partition by someone with write access
    earliest, kept = own_records(1, 5, [foreign, _record(1, 6), _record(2, 7), _record(1, 7)])
    assert earliest == 6  # seq 5 is not in this window: the reader must widen it
    assert [(r["shard"], r["seq"]) for r in kept] == [(1, 6), (1, 7)]


def test_an_exact_copy_of_a_record_is_folded_once() -> None:
    records = [_record(0, 5), _record(0, 6), _record(0, 5), _record(0, 7), _record(0, 6)]
    _, kept = own_records(0, 5, records)
    assert [r["seq"] for r in kept] == [5, 6, 7]


def test_a_different_record_at_a_seen_seq_is_kept_so_folding_it_fails() -> None:
    forked = _record(0, 1, leaf=b"\xff" * 32)
    _, kept = own_records(0, 0, [_record(0, 0), _record(0, 1), forked])
    assert [r["seq"] for r in kept] == [0, 1, 1]
    chain = ShardChain(shard=0)
    for record in kept[:2]:
        chain.replay_written(record["seq"], record["leaf_hash"], source_offset=record["seq"])
    with pytest.raises(RecoveryGapError, match="seq 1 where seq 2"):
        chain.replay_written(forked["seq"], forked["leaf_hash"], source_offset=2)
