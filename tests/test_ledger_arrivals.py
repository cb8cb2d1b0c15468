"""Replayed and misrouted records on audit.ledger: the sink keeps them apart from the ledger, verify names them.

Pure verdicts (ledger/anomalies.py), then the real sink logic against the ClickHouse engine (chDB behind
its HTTP interface, in process) with a fake consumer handing it real LedgerRecord bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ledger.anomalies import Arrival, KnownArrival, judge_arrival
from ledger.ddl import ensure_schema
from ledger.sink import LedgerSink
from ledger.store_verification import verify_store
from ledger.verification_errors import MisroutedRecordError, ReplayedRecordError
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from stream.sequencer import RawEvent
from tests.fuzz.sequencer_harness import sequencer, store

LEDGER, CHECKPOINTS = "audit.ledger", "audit.checkpoints"
A = Arrival(shard=2, seq=7, leaf_hash=b"\x01" * 32, partition=2, offset=40)


def test_a_first_arrival_is_stored() -> None:
    verdict = judge_arrival(A, [], leaf_stored=False)
    assert verdict.store and verdict.arrival == ("stored", -1)


def test_the_same_message_again_is_a_redelivery() -> None:
    verdict = judge_arrival(A, [KnownArrival("stored", 2, 40)], leaf_stored=True)
    assert not verdict.store and verdict.arrival is None


def test_the_same_record_at_a_later_offset_is_a_replay_naming_the_original() -> None:
    verdict = judge_arrival(Arrival(2, 7, A.leaf_hash, 2, 95), [KnownArrival("stored", 2, 40)], leaf_stored=True)
    assert not verdict.store and verdict.arrival == ("replayed", 40)


def test_a_record_on_another_shards_partition_is_misrouted_and_not_stored() -> None:
    verdict = judge_arrival(Arrival(2, 7, A.leaf_hash, 0, 12), [KnownArrival("stored", 2, 40)], leaf_stored=True)
    assert not verdict.store and verdict.arrival == ("misrouted", 40)
    unseen = judge_arrival(Arrival(2, 7, A.leaf_hash, 0, 12), [], leaf_stored=False)
    assert not unseen.store and unseen.arrival == ("misrouted", -1)


def test_a_record_stored_before_arrivals_were_kept_is_adopted_not_flagged() -> None:
    verdict = judge_arrival(A, [], leaf_stored=True)
    assert not verdict.store and verdict.arrival == ("stored", -1)


# ------------------------------------------------------------------------- the sink on the real engine


@dataclass
class FakeMessage:
    _topic: str
    _partition: int
    _offset: int
    _value: bytes

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def error(self) -> None:
        return None


class FakeConsumer:
    def __init__(self) -> None:
        self.batches: list[list[FakeMessage]] = []
        self.committed: list[Any] = []

    def consume(self, count: int, timeout: float) -> list[FakeMessage]:
        return self.batches.pop(0) if self.batches else []

    def commit(self, offsets: Any, asynchronous: bool) -> None:
        self.committed.append(offsets)

    def close(self) -> None:
        pass


@pytest.fixture
def client(http_store: Any) -> Any:
    ensure_schema(http_store)
    return http_store


def shard_zero_records(n: int) -> list[bytes]:
    raws = [RawEvent(0, i, store().encode("AuditEvent", event_from_json(e))) for i, e in enumerate(demo_events(n))]
    return [o.value for o in sequencer().process(raws, idle=False).outputs if o.role == "ledger" and o.value]


def sink_on(client: Any) -> tuple[LedgerSink, FakeConsumer]:
    sink = LedgerSink("127.0.0.1:9", LEDGER, CHECKPOINTS, client)
    sink._consumer.close()
    fake = FakeConsumer()
    sink._consumer = fake  # type: ignore[assignment]
    return sink, fake


def feed(sink: LedgerSink, fake: FakeConsumer, *messages: FakeMessage) -> None:
    fake.batches.append(list(messages))
    assert sink.run_once() == len(messages)


def arrivals(client: Any) -> list[tuple]:
    return client.query("SELECT kind, shard, seq, ledger_partition, ledger_offset, original_offset FROM "
                        "ledger_arrivals WHERE kind != 'stored' ORDER BY ledger_offset").result_rows  # fmt: skip


def test_sink_keeps_replays_and_misrouted_records_out_of_the_ledger_and_verify_names_them(client: Any) -> None:
    records = shard_zero_records(5)
    sink, fake = sink_on(client)
    feed(sink, fake, *(FakeMessage(LEDGER, 0, i, r) for i, r in enumerate(records)))
    assert client.query("SELECT count() FROM ledger_records").result_rows[0][0] == 5

    # a rewound consumer: the same messages at the same offsets change nothing
    feed(sink, fake, *(FakeMessage(LEDGER, 0, i, r) for i, r in enumerate(records)))
    assert arrivals(client) == []

    # seq 2 produced again to its own partition (offset 9), and seq 1 produced to partition 1 (offset 3)
    feed(sink, fake, FakeMessage(LEDGER, 0, 9, records[2]), FakeMessage(LEDGER, 1, 3, records[1]))
    assert client.query("SELECT count() FROM ledger_records").result_rows[0][0] == 5
    assert sorted(arrivals(client)) == [("misrouted", 0, 1, 1, 3, 1), ("replayed", 0, 2, 0, 9, 2)]

    # a restarted sink re-reading the replay does not record it twice
    again, fake_again = sink_on(client)
    feed(again, fake_again, FakeMessage(LEDGER, 0, 9, records[2]))
    assert len(arrivals(client)) == 2

    (report,) = verify_store(client, [], "fuzz.example/log", allow_unanchored=True)
    kinds = {type(p): p for p in report.problems}
    replayed, misrouted = kinds[ReplayedRecordError], kinds[MisroutedRecordError]
    assert (replayed.shard, replayed.seq) == (0, 2) and "offset 2" in replayed.detail and "offset 9" in replayed.detail
    assert (misrouted.shard, misrouted.seq) == (0, 1) and "partition 1 at offset 3" in misrouted.detail
    assert not report.ok


def test_a_replay_in_the_same_batch_as_its_original_is_caught(client: Any) -> None:
    records = shard_zero_records(2)
    sink, fake = sink_on(client)
    feed(sink, fake, FakeMessage(LEDGER, 0, 0, records[0]), FakeMessage(LEDGER, 0, 1, records[1]),
         FakeMessage(LEDGER, 0, 2, records[0]))  # fmt: skip
    assert client.query("SELECT count() FROM ledger_records").result_rows[0][0] == 2
    assert arrivals(client) == [("replayed", 0, 0, 0, 2, 0)]
