"""A validly signed ledger record produced again to audit.ledger by someone with write access: verify names it.

Runs on a stack of its own (not the session's): the replayed messages stay in audit.ledger, and a later test
that rewinds the sink (test_sink_replay) would meet them again. Bounded: one stack start (30-90 s), 30 events,
two produced messages, three verify runs; about 2 minutes on the 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Producer

from auditledger.config import Settings
from auditledger.stack.local_stack import LocalStack
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
    shards = [p for p in range(settings.partitions) if ledger_messages(settings, p)]
    assert len(shards) >= 2, "the demo events should reach two shards"
    shard, other = shards[0], shards[1]
    original_offset, value = ledger_messages(settings, shard)[0]
    seq = store.decode(value, reader="LedgerRecord")["seq"]
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

    # The store's admin clears the anomaly once it is explained: verify passes again, and the stream goes on.
    ch.command("ALTER TABLE ledger_arrivals DELETE WHERE kind != 'stored' SETTINGS mutations_sync = 2")
    emit_stored_anchored(settings, ch, list(demo_events(6, sessions=2, seed=78)))
    code, report = run_verify(settings)
    assert code == 0, report["problems"][:5]
