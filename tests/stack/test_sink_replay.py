"""The sink replaying offsets it had already committed creates no duplicate rows."""

from __future__ import annotations

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from auditledger.stack.processes import stop_pid_file
from ledger.sink import SINK_GROUP
from producers.demo_session import demo_events
from tests.stack.conftest import wait_for
from tests.stack.test_end_to_end import counts_by_event, emit, run_verify, wait_anchored

pytestmark = pytest.mark.stack


def test_replayed_offsets_do_not_duplicate_rows(stack, settings, ch) -> None:
    events = list(demo_events(600, sessions=6, seed=123))
    ids = [e["event_id"] for e in events]
    emit(settings, events)
    wait_for(lambda: len(counts_by_event(ch, ids)) == len(ids), 120, "the events in ClickHouse")
    wait_anchored(ch)
    rows_before = ch.query("SELECT count() FROM ledger_records").result_rows[0][0]
    checkpoints_before = ch.query("SELECT count() FROM ledger_checkpoints").result_rows[0][0]

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})

    def committed() -> dict[tuple[str, int], int]:
        result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(SINK_GROUP)])
        return {(tp.topic, tp.partition): tp.offset for tp in result[SINK_GROUP].result(30).topic_partitions}

    before = {k: o for k, o in committed().items() if o > 0}
    assert any(topic == settings.topics.ledger for topic, _ in before)

    # Stop the ledger process, rewind its consumer group to the very beginning, start it again.
    stop_pid_file(stack.pid_file("ledger"))
    rewind = [TopicPartition(topic, p, 0) for topic, p in before]
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(SINK_GROUP, rewind)])[SINK_GROUP].result(30)
    assert all(committed()[k] == 0 for k in before)
    stack.restart_ledger()

    wait_for(lambda: all(committed().get(k, -1) >= o for k, o in before.items()), 120,
             "the sink to re-read everything it had committed")  # fmt: skip
    assert ch.query("SELECT count() FROM ledger_records").result_rows[0][0] == rows_before
    assert ch.query("SELECT count() FROM ledger_checkpoints").result_rows[0][0] == checkpoints_before
    assert set(counts_by_event(ch, ids).values()) == {1}
    code, report = run_verify(settings)
    assert code == 0, report["problems"][:5]
