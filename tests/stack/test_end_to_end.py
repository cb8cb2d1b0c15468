"""The whole path on real servers: emitter -> Kafka -> Faust stream -> Kafka -> sink -> ClickHouse -> verify."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from auditledger import demo
from auditledger.config import Settings
from ledger.ddl import RECORD_COLUMNS
from producers.demo_session import demo_events
from producers.emitter import AuditEmitter
from tests.stack.conftest import topic_bytes, wait_for

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
    assert (code, _problem(report)) == (1, (shard, seq, "deleted"))  # its leaf is kept and its retention runs on
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


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def opened_dead_letters(settings: Settings, original: bytes, out: Path) -> list[dict]:
    """The dead letters (as `deadletter list --json` shows them) whose sealed original is `original`."""
    listed = cli(settings, "deadletter", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    candidates = [d for d in letters if d["original_size"] == len(original)]
    if not candidates:
        return []
    opened = cli(settings, "deadletter", "open", *(d["position"] for d in candidates), "--out", str(out))
    assert opened.returncode == 0, opened.stderr
    return [d for d in candidates
            if (out / f"deadletter-{d['position'].replace(':', '-')}.bin").read_bytes() == original]  # fmt: skip


def test_malformed_message_goes_to_dead_letter_sealed_and_can_be_replayed(settings, ch, emitted, tmp_path) -> None:
    good = list(demo_events(30, sessions=3, seed=99))
    garbage = b"\xc3\x01" + uuid.uuid4().bytes[:8] + b"not an event at all"
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    producer.produce(settings.topics.events, value=garbage, partition=2)
    producer.flush(30)
    emit(settings, good)
    ids = [e["event_id"] for e in good]
    wait_for(lambda: len(counts_by_event(ch, ids)) == len(ids), 120, "the valid events after the malformed one")

    found = opened_dead_letters(settings, garbage, tmp_path / "opened")
    assert len(found) == 1, "malformed message not in audit.deadletter, or there twice"
    letter = found[0]
    assert letter["error_kind"] == "unknown_schema" and "fingerprint" in letter["reason"]
    assert letter["source"].startswith(f"{settings.topics.events}/2:") and letter["original_size"] == len(garbage)
    assert garbage not in b"".join(topic_bytes(settings, settings.topics.deadletter)), "the original travels sealed"
    # The key holder replays it (here into audit.events again, where it is refused again, sealed again).
    replay = cli(settings, "deadletter", "replay", letter["position"])
    assert replay.returncode == 0, replay.stderr
    wait_for(lambda: len(opened_dead_letters(settings, garbage, tmp_path / "again")) == 2, 60, "the replayed original")
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
