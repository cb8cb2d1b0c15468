"""A validly signed ledger record produced again to audit.ledger by someone with write access: verify names it.

Runs on a stack of its own (not the session's): the replayed messages stay in audit.ledger, and a later test
that rewinds the sink (test_sink_replay) would meet them again. Bounded: one stack start (30-90 s), 30 events,
two produced messages, a worker restart, three verify runs; about 2 minutes on the 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from auditledger.config import Settings
from auditledger.stack.local_stack import LocalStack
from auditledger.stack.processes import pid_alive, read_pid, stop_pid_file
from ledger.clickhouse_client import store_client
from producers.demo_session import demo_events
from schemas import SchemaStore
from stream.partition_reader import read_to_end, tail_consumer
from tests.identity.token_factory import TokenFactory
from tests.stack.conftest import emit_stored_anchored, stack_of_its_own, wait_for
from tests.stack.test_end_to_end import run_verify

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with stack_of_its_own(tmp_path_factory, TokenFactory(), "replay-stack") as local:
        yield local


def ledger_messages(settings: Settings, partition: int) -> list[tuple[int, bytes]]:
    consumer = tail_consumer(settings.kafka_bootstrap, "t-replay-reader")
    try:
        return list(read_to_end(consumer, settings.topics.ledger, partition, 0, timeout_s=60))
    finally:
        consumer.close()


def produce(settings: Settings, partition: int, value: bytes) -> int:
    """As a plain (non-transactional) producer with write access would; returns the offset it got."""
    offsets: list[int] = []
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all"})
    producer.produce(settings.topics.ledger, value, partition=partition,
                     on_delivery=lambda err, msg: offsets.append(-1 if err else msg.offset()))  # fmt: skip
    producer.flush(30)
    assert offsets and offsets[0] >= 0
    return offsets[0]


def test_a_replayed_and_a_misrouted_record_fail_verify_by_name(own_stack: LocalStack) -> None:
    settings = own_stack.settings
    ch = store_client(settings)
    emit_stored_anchored(settings, ch, list(demo_events(30, sessions=6, seed=77)))
    assert run_verify(settings)[0] == 0

    store = SchemaStore()
    lengths = {p: len(ledger_messages(settings, p)) for p in range(settings.partitions)}
    written = sorted((n, p) for p, n in lengths.items() if n > 0)
    (_, other), (_, shard) = written[0], written[-1]
    assert lengths[shard] > lengths[other] > 0, "the demo events should reach two shards unevenly"
    # The copy carries the very seq `other` writes next: recovery that folded it in would graft a foreign leaf.
    original_offset, value = ledger_messages(settings, shard)[lengths[other]]
    seq = store.decode(value, reader="LedgerRecord")["seq"]
    assert seq == lengths[other]
    rows_before = ch.query("SELECT count() FROM ledger_records").result_rows[0][0]

    replay_offset = produce(settings, shard, value)  # the same bytes, to its own partition, later
    misroute_offset = produce(settings, other, value)  # and to another shard's partition

    def anomalies() -> list[tuple]:
        return ch.query("SELECT kind, shard, seq, ledger_partition, ledger_offset, original_offset "
                        "FROM ledger_arrivals WHERE kind != 'stored' ORDER BY kind").result_rows  # fmt: skip

    wait_for(lambda: len(anomalies()) == 2, 60, "the sink to keep both arrivals")
    assert anomalies() == [("misrouted", shard, seq, other, misroute_offset, original_offset),
                           ("replayed", shard, seq, shard, replay_offset, original_offset)]  # fmt: skip
    assert ch.query("SELECT count() FROM ledger_records").result_rows[0][0] == rows_before  # neither was stored

    code, report = run_verify(settings)
    assert code == 1
    named = {(p["kind"], p["shard"], p["seq"]): p["detail"] for p in report["problems"]}
    assert set(named) == {("replayed", shard, seq), ("misrouted", shard, seq)}
    assert f"offset {original_offset}" in named[("replayed", shard, seq)]
    assert f"offset {replay_offset}" in named[("replayed", shard, seq)]
    assert f"partition {other} at offset {misroute_offset}" in named[("misrouted", shard, seq)]

    # A worker started now recovers every shard past both copies: neither stops it nor joins a chain.
    worker = read_pid(own_stack.pid_file("stream"))
    stop_pid_file(own_stack.pid_file("stream"))
    wait_for(lambda: not pid_alive(worker), 30, "the worker to stop")
    own_stack.start_stream_worker(settings)
    later = list(demo_events(30, sessions=6, seed=78))
    emit_stored_anchored(settings, ch, later)
    assert read_pid(own_stack.pid_file("stream")) != worker and pid_alive(read_pid(own_stack.pid_file("stream")))
    after = {p: len(ledger_messages(settings, p)) for p in range(settings.partitions)}
    assert after[other] > lengths[other] + 1, "the later events should reach the shard the copy was put on"

    # The store's admin clears the anomaly once it is explained: verify passes again, every chain intact.
    ch.command("ALTER TABLE ledger_arrivals DELETE WHERE kind != 'stored' SETTINGS mutations_sync = 2")
    code, report = run_verify(settings)
    assert code == 0, report["problems"][:5]
    assert sum(s["records"] for s in report["shards"]) == 60
