"""DiskSpool: what is appended survives a restart until acknowledged, in order, within its bound."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.spool import HEADER, DiskSpool, SpoolCorruptError, SpoolFullError


def records(n: int, size: int = 10) -> list[bytes]:
    return [f"event-{i:04d}".encode().ljust(size, b".") for i in range(n)]


def drain(spool: DiskSpool) -> list[tuple[int, bytes]]:
    return spool.read(1_000_000)


def segment_files(directory: Path) -> list[Path]:
    return sorted((directory / "segments").glob("*.seg"))


def test_records_come_back_in_order_with_consecutive_indices(tmp_path: Path) -> None:
    data = records(50)
    with DiskSpool(tmp_path, segment_bytes=200) as spool:
        indices = [spool.append(d) for d in data]
        assert indices == list(range(50))
        assert drain(spool) == list(enumerate(data))
        assert len(segment_files(tmp_path)) > 1  # rotated, and read across segments in order


def test_unacknowledged_records_are_pending_again_after_reopen(tmp_path: Path) -> None:
    data = records(10)
    with DiskSpool(tmp_path) as spool:
        for d in data:
            spool.append(d)
        drain(spool)  # read (sent) but never acknowledged
    with DiskSpool(tmp_path) as spool:
        assert spool.pending() == 10
        assert [d for _, d in drain(spool)] == data


def test_cursor_survives_reopen_including_out_of_order_acks(tmp_path: Path) -> None:
    data = records(10)
    with DiskSpool(tmp_path) as spool:
        for d in data:
            spool.append(d)
        for i in (0, 1, 2, 5, 7):
            spool.acknowledge(i)
        spool.commit()
    with DiskSpool(tmp_path) as spool:
        assert spool.pending() == 5
        assert [i for i, _ in drain(spool)] == [3, 4, 6, 8, 9]


def test_acknowledgement_not_committed_is_resent(tmp_path: Path) -> None:
    """The one duplicate window: delivered, but the cursor was not written before the process stopped."""
    spool = DiskSpool(tmp_path)
    spool.append(b"a")
    spool.append(b"b")
    spool.acknowledge(0)
    spool.sync()  # the process dies here: no commit, no close
    reopened = DiskSpool(tmp_path)
    assert [d for _, d in drain(reopened)] == [b"a", b"b"]


def test_fully_acknowledged_segments_are_deleted_and_indices_continue(tmp_path: Path) -> None:
    with DiskSpool(tmp_path, segment_bytes=100) as spool:
        for d in records(30):
            spool.append(d)
        before = segment_files(tmp_path)
        for i in range(20):
            spool.acknowledge(i)
        spool.commit()
        after = segment_files(tmp_path)
        assert len(after) < len(before)
        assert all(int(p.stem) >= 20 for p in after)  # 5 records a segment: those of 0..19 are gone
        assert [i for i, _ in drain(spool)] == list(range(20, 30))
        for i in range(20, 30):
            spool.acknowledge(i)
        spool.commit()
        assert segment_files(tmp_path) == [] and spool.used_bytes() == 0
        assert spool.append(b"next") == 30
    with DiskSpool(tmp_path) as spool:
        assert drain(spool) == [(30, b"next")]


def test_torn_tail_is_cut_off_and_appends_continue_after_it(tmp_path: Path) -> None:
    with DiskSpool(tmp_path) as spool:
        for d in records(3):
            spool.append(d)
    segment = segment_files(tmp_path)[-1]
    whole = segment.stat().st_size
    with open(segment, "ab") as f:  # a record whose header made it to disk but not all its bytes
        f.write(HEADER.pack(100, 0) + b"partial")
    with DiskSpool(tmp_path) as spool:
        assert segment.stat().st_size == whole
        assert [d for _, d in drain(spool)] == records(3)
        assert spool.append(b"after") == 3
    with DiskSpool(tmp_path) as spool:
        assert [d for _, d in drain(spool)] == [*records(3), b"after"]


def test_flipped_byte_in_the_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    with DiskSpool(tmp_path) as spool:
        for d in records(3):
            spool.append(d)
    segment = segment_files(tmp_path)[-1]
    raw = bytearray(segment.read_bytes())
    raw[-1] ^= 0x01
    segment.write_bytes(bytes(raw))
    with DiskSpool(tmp_path) as spool:
        assert [d for _, d in drain(spool)] == records(2)


def test_corrupt_older_segment_is_refused_not_truncated(tmp_path: Path) -> None:
    with DiskSpool(tmp_path, segment_bytes=60) as spool:
        for d in records(10):
            spool.append(d)
    first = segment_files(tmp_path)[0]
    raw = bytearray(first.read_bytes())
    raw[HEADER.size] ^= 0xFF
    first.write_bytes(bytes(raw))
    with pytest.raises(SpoolCorruptError, match=first.name):
        DiskSpool(tmp_path, segment_bytes=60)
    assert first.read_bytes() == bytes(raw)


def test_full_spool_raises_and_keeps_what_was_spooled(tmp_path: Path) -> None:
    limit = 5 * (HEADER.size + 10)
    with DiskSpool(tmp_path, max_bytes=limit) as spool:
        for d in records(5):
            spool.append(d)
        with pytest.raises(SpoolFullError) as caught:
            spool.append(b"one too many")
        message = str(caught.value)
        assert str(tmp_path) in message and str(limit) in message
        assert spool.pending() == 5
    with DiskSpool(tmp_path, max_bytes=limit) as spool:
        assert [d for _, d in drain(spool)] == records(5)
        for i in range(5):
            spool.acknowledge(i)
        spool.commit()
        assert spool.append(b"fits again") == 5  # acknowledged space is given back


def test_rewind_reads_the_unacknowledged_records_again(tmp_path: Path) -> None:
    with DiskSpool(tmp_path) as spool:
        for d in records(4):
            spool.append(d)
        drain(spool)
        spool.acknowledge(1)
        spool.rewind()
        assert [i for i, _ in drain(spool)] == [0, 2, 3]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=40), st.sets(st.integers(0, 39)))
def test_reopen_yields_exactly_the_unacknowledged_records_in_order(
    tmp_path_factory: pytest.TempPathFactory, data: list[bytes], acked: set[int]
) -> None:
    directory = tmp_path_factory.mktemp("spool")
    with DiskSpool(directory, segment_bytes=128) as spool:
        for d in data:
            spool.append(d)
        for i in acked:
            if i < len(data):
                spool.acknowledge(i)
    with DiskSpool(directory, segment_bytes=128) as spool:
        assert drain(spool) == [(i, d) for i, d in enumerate(data) if i not in acked]
