"""An emitting process SIGKILLed again and again while its spool drains: every event reaches the topic once.

The process dies after Kafka committed a batch and before the spool's own cursor recorded it (the cursor is
synced every 0.5 s here, batches commit every few ms): without the cursor committed in the batch's transaction
(producers/delivery_cursor.py), the next process would send those events again. Events go to a topic of this
test's own, read read_committed as the stream reads audit.events. Bounded: 6 short-lived processes and one
drain, about 30 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from auditledger.config import Settings
from producers.background_delivery import BackgroundDelivery
from producers.delivery_cursor import committed_cursor, spool_identity
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.partition_reader import read_to_end, tail_consumer
from tests.stack.conftest import wait_for

pytestmark = pytest.mark.stack

EVENTS, KILLS, PARTITIONS = 2000, 5, 3
REPO = Path(__file__).resolve().parents[2]

DELIVERING_PROCESS = textwrap.dedent(
    """
    import sys, time
    from producers.background_delivery import BackgroundDelivery
    from producers.demo_session import demo_events
    from producers.event_json import event_from_json
    bootstrap, spool, topic, cursors, submit = sys.argv[1:6]
    delivery = BackgroundDelivery(bootstrap, spool, topic=topic, cursor_topic=cursors, max_in_flight=20,
                                  sync_interval_s=0.5)
    if submit == "yes":
        for event in demo_events(int(sys.argv[6]), sessions=8, seed=31):
            delivery.submit(event_from_json(event))
    time.sleep(600)
    """
)


def _cursor_now(settings: Settings, spool: Path) -> int:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "t-spool-cursor",
                         "enable.partition.eof": True, "isolation.level": "read_committed"})  # fmt: skip
    try:
        return committed_cursor(consumer, settings.topics.spool_cursors, spool_identity(spool), 30)
    finally:
        consumer.close()


def _local_cursor(spool: Path) -> int:
    cursor = spool / "cursor.json"
    return json.loads(cursor.read_text())["next"] if cursor.exists() else 0


def _event_ids(settings: Settings, topic: str) -> Counter[str]:
    store, consumer = SchemaStore(), tail_consumer(settings.kafka_bootstrap, "t-spool-reader")
    try:
        return Counter(str(store.decode(value, reader="AuditEvent")["event_id"])
                       for p in range(PARTITIONS) for _, value in read_to_end(consumer, topic, p, 0, 60))  # fmt: skip
    finally:
        consumer.close()


def test_a_killed_emitter_never_sends_a_committed_event_again(settings: Settings, tmp_path: Path) -> None:
    topic = f"spool-test.events.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(30)
    spool = tmp_path / "spool"
    spool.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    behind_at_kill = []  # Kafka's committed cursor minus the spool's own, at each kill
    try:
        for n in range(KILLS):
            args = [settings.kafka_bootstrap, str(spool), topic, settings.topics.spool_cursors,
                    "yes" if n == 0 else "no", str(EVENTS)]  # fmt: skip
            child = subprocess.Popen([sys.executable, "-c", DELIVERING_PROCESS, *args], env=env, cwd=REPO)
            try:
                before = _cursor_now(settings, spool) if n else 0
                wait_for(lambda before=before: _cursor_now(settings, spool) > before, 60,
                         f"process {n} to commit a batch", interval_s=0.05)  # fmt: skip
            finally:
                child.send_signal(signal.SIGKILL)
                child.wait(30)
            behind_at_kill.append(_cursor_now(settings, spool) - _local_cursor(spool))
        assert any(gap > 0 for gap in behind_at_kill), f"no kill landed in the window: {behind_at_kill}"
        assert _cursor_now(settings, spool) < EVENTS, "the events ran out before the last kill"

        with BackgroundDelivery(settings.kafka_bootstrap, spool, topic=topic,
                                cursor_topic=settings.topics.spool_cursors) as delivery:  # fmt: skip
            delivery.flush(120)
            assert delivery.pending() == 0
        stored = _event_ids(settings, topic)
        expected = [str(e["event_id"]) for e in demo_events(EVENTS, sessions=8, seed=31)]
        assert {k: v for k, v in stored.items() if v != 1} == {}, "events sent twice"
        assert sorted(stored) == sorted(expected)
        assert _cursor_now(settings, spool) == EVENTS
    finally:
        admin.delete_topics([topic])


def test_a_refused_event_is_set_aside_and_the_rest_of_its_batch_delivered_once(
    settings: Settings, tmp_path: Path
) -> None:
    topic = f"spool-test.refusals.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(30)
    events = [event_from_json(e) for e in demo_events(5, sessions=1, seed=32)]
    events[2]["payload"]["attributes"]["blob"] = "z" * 5000  # over the 2,000-byte limit below
    errors: list[tuple[str, str]] = []
    try:
        with BackgroundDelivery(settings.kafka_bootstrap, tmp_path / "spool", topic=topic,
                                cursor_topic=settings.topics.spool_cursors, extra_config={"message.max.bytes": 2000},
                                on_delivery_error=lambda *error: errors.append(error)) as delivery:  # fmt: skip
            for event in events:
                delivery.submit(event)
            delivery.flush(60)
            assert [r.event_id for r in delivery.rejected] == [str(events[2]["event_id"])]
        stored = _event_ids(settings, topic)
        assert stored == Counter(str(e["event_id"]) for i, e in enumerate(events) if i != 2)
        assert [event_id for event_id, _ in errors] == [str(events[2]["event_id"])]
        assert "too large" in errors[0][1].lower() and "z" * 50 not in errors[0][1]
        assert (tmp_path / "spool" / "rejected" / f"{2:020d}.json").exists()
    finally:
        admin.delete_topics([topic])
