"""The whole path on real servers: emitter -> Kafka -> Faust stream -> Kafka -> sink -> ClickHouse -> verify."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from auditledger import demo
from auditledger.config import Settings
from ledger.ddl import RECORD_COLUMNS
from producers.demo_session import demo_events
from producers.emitter import AuditEmitter
from schemas import SchemaStore
from tests.stack.conftest import wait_for

pytestmark = pytest.mark.stack
N_EVENTS = 5000


def run_verify(settings: Settings, *extra: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), "verify", "--json", *extra],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def emit(settings: Settings, events: list[dict]) -> list:
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for e in events:
            emitter.emit(e)
        return emitter.flush()


def counts_by_event(ch, ids: list[str]) -> dict[str, int]:
    """How often each of `ids` is stored (absent ids are left out)."""
    wanted = set(ids)
    rows = ch.query("SELECT toString(event_id), count() FROM ledger_records GROUP BY event_id").result_rows
    return {event_id: n for event_id, n in rows if event_id in wanted}


def wait_anchored(ch) -> None:
    assert demo.wait_anchored(ch, 60), "a shard's tail stayed without a checkpoint for 60 s"


@pytest.fixture(scope="module")
def emitted(settings: Settings, ch) -> list[str]:
    events = list(demo_events(N_EVENTS, sessions=16, seed=11))
    delivered = emit(settings, events)
    assert len(delivered) == N_EVENTS
    assert len({d.partition for d in delivered}) == 3
    ids = [e["event_id"] for e in events]
    wait_for(lambda: sum(counts_by_event(ch, ids).values()) >= N_EVENTS, 240, f"{N_EVENTS} events in ClickHouse")
    wait_anchored(ch)
    return ids


def test_every_event_is_in_the_ledger_exactly_once_and_verifies(settings, ch, emitted) -> None:
    counts = counts_by_event(ch, emitted)
    assert len(counts) == N_EVENTS and set(counts.values()) == {1}
    code, report = run_verify(settings)
    assert code == 0, report["problems"][:5]
    assert report["ok"] is True and sum(s["records"] for s in report["shards"]) >= N_EVENTS
    assert all(s["checkpoints_checked"] > 0 for s in report["shards"])


def _row(ch, shard: int, seq: int) -> list:
    from ledger.ddl import BINARY_COLUMNS

    result = ch.query(
        f"SELECT {', '.join(RECORD_COLUMNS)} FROM ledger_records WHERE shard = {{s:UInt32}} AND seq = {{q:UInt64}}",
        parameters={"s": shard, "q": seq}, column_formats=BINARY_COLUMNS,
    )  # fmt: skip
    assert len(result.result_rows) == 1
    return list(result.result_rows[0])


def _delete(ch, shard: int, seq: int) -> None:
    ch.command(f"ALTER TABLE ledger_records DELETE WHERE shard = {shard} AND seq = {seq} SETTINGS mutations_sync = 2")


def _problem(report: dict) -> tuple:
    p = report["problems"][0]
    return p["shard"], p["seq"], p["kind"]


def test_tampering_is_named_by_shard_seq_and_kind(settings, ch, emitted) -> None:
    shard, seq = 1, 123
    original = _row(ch, shard, seq)

    _delete(ch, shard, seq)
    code, report = run_verify(settings)
    assert (code, _problem(report)) == (1, (shard, seq, "missing"))
    ch.insert("ledger_records", [original], column_names=list(RECORD_COLUMNS))
    assert run_verify(settings)[0] == 0

    ch.command(
        f"ALTER TABLE ledger_records UPDATE response = 'all good, nothing to see' "
        f"WHERE shard = {shard} AND seq = {seq} SETTINGS mutations_sync = 2"
    )
    code, report = run_verify(settings)
    assert (code, _problem(report)) == (1, (shard, seq, "modified"))
    _delete(ch, shard, seq)
    ch.insert("ledger_records", [original], column_names=list(RECORD_COLUMNS))
    assert run_verify(settings)[0] == 0

    ch.insert("ledger_records", [original], column_names=list(RECORD_COLUMNS))
    code, report = run_verify(settings)
    assert (code, _problem(report)) == (1, (shard, seq, "duplicated"))
    _delete(ch, shard, seq)
    ch.insert("ledger_records", [original], column_names=list(RECORD_COLUMNS))
    code, report = run_verify(settings)
    assert code == 0, report["problems"]


def test_verify_exits_2_when_the_store_is_unreachable(settings) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "auditledger.cli", "verify", "--json", "--clickhouse-url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "cannot run" in proc.stderr


def test_malformed_message_goes_to_dead_letter_and_nothing_else_is_lost(settings, ch, emitted) -> None:
    store = SchemaStore()
    good = list(demo_events(30, sessions=3, seed=99))
    garbage = b"\xc3\x01" + uuid.uuid4().bytes[:8] + b"not an event at all"
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    producer.produce(settings.topics.events, value=garbage, partition=2)
    producer.flush(30)
    emit(settings, good)
    ids = [e["event_id"] for e in good]
    wait_for(lambda: len(counts_by_event(ch, ids)) == len(ids), 120, "the valid events after the malformed one")

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"t-{uuid.uuid4()}",
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.assign([TopicPartition(settings.topics.deadletter, 2, 0)])
    found = None
    for _ in range(60):
        msg = consumer.poll(1.0)
        if msg is None or msg.error():
            continue
        letter = store.decode(msg.value(), reader="DeadLetter")
        if letter["original"] == garbage:
            found = letter
            break
    consumer.close()
    assert found is not None, "malformed message not in audit.deadletter"
    assert found["error_kind"] == "unknown_schema" and "fingerprint" in found["reason"]
    assert found["source_topic"] == settings.topics.events and found["source_partition"] == 2
    assert set(counts_by_event(ch, ids).values()) == {1}


def test_emit_cli_sends_good_lines_and_names_bad_ones(settings, ch, tmp_path) -> None:
    good = list(demo_events(5, sessions=1, seed=2024))
    lines = [json.dumps(good[0]), "{not json", json.dumps({**good[1], "tenant": 7}), *map(json.dumps, good[2:])]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), "emit", str(source), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "line 2:" in proc.stderr and "line 3: tenant" in proc.stderr
    assert json.loads(proc.stdout)["sent"] == 4
    ids = [good[i]["event_id"] for i in (0, 2, 3, 4)]
    wait_for(lambda: len(counts_by_event(ch, ids)) == 4, 60, "the four good events")
    assert good[1]["event_id"] not in counts_by_event(ch, [good[1]["event_id"]])


def test_stack_status_json_names_the_servers(settings) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), "stack", "status", "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    status = json.loads(proc.stdout)
    assert proc.returncode == 0 and status["running"] is True
    assert status["kafka_bootstrap"] == settings.kafka_bootstrap
    assert status["clickhouse_url"] == settings.clickhouse_url
