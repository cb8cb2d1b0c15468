"""Hostile messages on audit.events, interleaved with valid events: each is dead-lettered with its reason, every
valid event is in the ledger exactly once, the stream worker neither crashes nor stalls, and verify passes.

The 10 MB message: the broker and audit.events allow 16 MiB (kafka_broker.py, message.max.bytes), so it gets in;
its 10 MB field is over the masking limit (max_field_bytes, 1 MiB), so strict mode dead-letters it as
unscannable, with the original sealed (the dead letter is itself about 10 MB; the stream's producer allows
16 MiB). A 17 MB message is refused by the broker at produce time (MSG_SIZE_TOO_LARGE): that refusal is the
outcome for anything over the limit, and the stream never sees it.

Bounded: 13 hostile and 24 valid messages, one further valid event, one verify: about a minute on the
session stack.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from confluent_kafka import KafkaError, Producer

from auditledger.stack.local_stack import stream_name
from auditledger.stack.processes import read_pid
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from tests.stack.conftest import wait_for
from tests.stack.test_end_to_end import counts_by_event, run_verify

pytestmark = pytest.mark.stack

BIG = 10 * 1024 * 1024


def hostile_messages(store: SchemaStore) -> dict[str, tuple[bytes, str, str]]:
    """name -> (raw message, expected error_kind, a word the reason must contain)."""
    base = [event_from_json(e) for e in demo_events(8, sessions=2, seed=901)]
    valid = store.encode("AuditEvent", base[0])

    def with_(i: int, change) -> bytes:
        event = json.loads(json.dumps(base[i], default=str))  # a copy
        event = event_from_json(event)
        change(event)
        return store.encode("AuditEvent", event)

    marker = "\u2603SUR"
    not_utf8 = with_(1, lambda e: e["payload"].__setitem__("prompt", f"hello {marker}")).replace(
        marker.encode(), b"\xff\xfe\xed\xa0\x80\xc0"
    )
    return {
        "random_bytes": (bytes(range(256)) * 4, "undecodable", "single-object"),
        "truncated_avro": (valid[: len(valid) // 2], "undecodable", "does not decode"),
        "wrong_fingerprint": (valid[:2] + b"\x5a" * 8 + valid[10:], "unknown_schema", "fingerprint"),
        "empty": (b"", "undecodable", "empty"),
        "invalid_utf8": (not_utf8, "undecodable", "does not decode"),
        "deep_json_arguments": (
            with_(2, lambda e: e["payload"].__setitem__("tool_arguments", "[" * 5000 + "]" * 5000)),
            "invalid",
            "nested too deep",
        ),  # fmt: skip
        "deep_json_response": (
            with_(3, lambda e: e["payload"].__setitem__("response", '{"a":' * 100 + "1" + "}" * 100)),
            "unscannable",
            "max_depth",
        ),  # fmt: skip
        "far_past": (
            with_(4, lambda e: e.__setitem__("occurred_at", datetime(1970, 1, 1, tzinfo=UTC))),
            "invalid",
            "before",
        ),  # fmt: skip
        "far_future": (
            with_(5, lambda e: e.__setitem__("occurred_at", datetime(9999, 1, 1, tzinfo=UTC))),
            "invalid",
            "ahead",
        ),  # fmt: skip
        "control_characters_in_tenant": (with_(6, lambda e: e.__setitem__("tenant", " \t\n ")), "invalid", "tenant"),
        "ten_megabytes": (
            with_(7, lambda e: e["payload"].__setitem__("prompt", "A" * BIG)),
            "unscannable",
            "max_field_bytes",
        ),  # fmt: skip
    }


def dead_letters(settings) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), "deadletter", "list",
                           "--json"], capture_output=True, text=True, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_hostile_input_is_dead_lettered_and_the_stream_keeps_going(stack, settings, ch) -> None:
    store = SchemaStore()
    worker_pid = read_pid(stack.pid_file(stream_name("0")))
    assert worker_pid
    hostile = hostile_messages(store)
    valid_events = list(demo_events(24, sessions=6, seed=902))
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True,
                         "message.max.bytes": 20 * 1024 * 1024, "compression.type": "none"})  # fmt: skip
    positions: dict[str, tuple[int, int]] = {}

    def delivered(name: str):
        def report(err, msg) -> None:
            positions[name] = (-1, -1) if err else (msg.partition(), msg.offset())

        return report

    valid_iter = iter(valid_events)
    for name, (raw, _, _) in hostile.items():  # each hostile message between two valid events
        for _ in range(2):
            event = next(valid_iter)
            producer.produce(settings.topics.events, store.encode("AuditEvent", event_from_json(event)),
                             key=event["correlation"]["session_id"].encode())  # fmt: skip
        producer.produce(settings.topics.events, raw, key=f"hostile-{name}".encode(), on_delivery=delivered(name))
    for event in valid_iter:
        producer.produce(settings.topics.events, store.encode("AuditEvent", event_from_json(event)),
                         key=event["correlation"]["session_id"].encode())  # fmt: skip
    assert producer.flush(120) == 0
    assert all(p[1] >= 0 for p in positions.values()), positions

    # Over the broker's limit: refused at produce time, never on the topic.
    refusals: list[KafkaError | None] = []
    producer.produce(settings.topics.events, b"\xc3\x01" + b"B" * (17 * 1024 * 1024),
                     on_delivery=lambda err, msg: refusals.append(err))  # fmt: skip
    producer.flush(60)
    assert refusals and refusals[0] is not None and refusals[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, refusals

    ids = [e["event_id"] for e in valid_events]
    wait_for(lambda: len(counts_by_event(ch, ids)) == len(ids), 180, "every valid event in ClickHouse")
    assert set(counts_by_event(ch, ids).values()) == {1}

    wanted = {f"{settings.topics.events}/{p}:{o}" for p, o in positions.values()}
    wait_for(lambda: wanted <= {r["source"] for r in dead_letters(settings)}, 120, "each hostile message dead-lettered")
    by_source = {r["source"]: r for r in dead_letters(settings)}
    for name, (raw, kind, word) in hostile.items():
        partition, offset = positions[name]
        dead = by_source[f"{settings.topics.events}/{partition}:{offset}"]
        assert (name, dead["error_kind"]) == (name, kind), dead["reason"]
        assert word in dead["reason"], (name, dead["reason"])
        assert dead["original_size"] == len(raw)

    # No crash, no stall: the same worker, and a later valid event arrives promptly.
    assert read_pid(stack.pid_file(stream_name("0"))) == worker_pid
    later = next(demo_events(1, sessions=1, seed=903))
    started = time.monotonic()
    producer.produce(settings.topics.events, store.encode("AuditEvent", event_from_json(later)))
    assert producer.flush(30) == 0
    wait_for(lambda: counts_by_event(ch, [later["event_id"]]), 60, "a valid event after the hostile ones")
    print(f"later event stored {time.monotonic() - started:.2f}s after it was produced")
    code, report = run_verify(settings, "--allow-unanchored")
    assert code == 0, report["problems"][:5]
