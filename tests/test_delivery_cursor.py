"""The spool's identity, its cursor record on Kafka, and how the spool follows a committed cursor (no Kafka here;
tests/stack/test_spool_exactly_once.py runs delivery against the real broker)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from producers.delivery_cursor import authentic_next, cursor_record, spool_identity, transactional_id
from producers.spool import DiskSpool, SpoolCorruptError


def test_a_spool_keeps_one_identity_readable_by_its_owner_only(tmp_path: Path) -> None:
    first, again = spool_identity(tmp_path), spool_identity(tmp_path)
    assert first == again and len(first.key) == 32
    assert transactional_id(first) == f"auditledger-spool-{first.id}"
    assert stat.S_IMODE((tmp_path / "spool-identity.json").stat().st_mode) == 0o600
    (tmp_path / "other").mkdir()
    other = spool_identity(tmp_path / "other")
    assert other.id != first.id and other.key != first.key


def test_a_cursor_record_is_accepted_only_from_its_own_spool(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    mine, theirs = spool_identity(tmp_path / "a"), spool_identity(tmp_path / "b")
    key, value = cursor_record(mine, 41)
    assert key == mine.id.encode() and authentic_next(value, mine) == 41
    assert authentic_next(value, theirs) is None  # another spool's record
    forged = json.loads(value) | {"next": 4100}  # an emitter moving someone else's cursor on: its MAC fails
    assert authentic_next(json.dumps(forged).encode(), mine) is None
    assert authentic_next(b"not json", mine) is None
    assert authentic_next(json.dumps({"spool": mine.id, "next": 3}).encode(), mine) is None  # no MAC


def test_the_spool_skips_what_kafka_committed(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    for i in range(10):
        spool.append(f"event {i}".encode())
    spool.acknowledge(7)  # set aside earlier
    assert spool.acknowledge_below(5) == 5
    assert [i for i, _ in spool.read(100)] == [5, 6, 8, 9]
    assert spool.acknowledge_below(3) == 0  # behind what is acknowledged: nothing changes
    assert spool.acknowledge_below(9) == 3  # 5, 6, 8 (7 was already)
    spool.commit()
    assert DiskSpool(tmp_path).pending() == 1


def test_a_cursor_past_the_end_of_the_spool_is_refused(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    spool.append(b"one")
    with pytest.raises(SpoolCorruptError, match="up to index 5"):
        spool.acknowledge_below(5)
    assert spool.pending() == 1
