"""Masking on the real stack: a generated sample of events full of secrets and personal data goes through
Kafka, the stream and the sink, and no sensitive value is in any byte past audit.events: not in
audit.ledger, audit.alerts, audit.deadletter, ClickHouse, nor the processes' logs. (The pure engine is
checked on thousands of hypothesis-generated events in tests/masking; this sample comes from the same
generators, drawn with a fresh seed each run so that every kind is covered and the runs vary.)"""

from __future__ import annotations

import json
import random
import uuid

import pytest

from auditledger.config import Settings
from producers.emitter import AuditEmitter
from schemas import SchemaStore
from stream.masking.plan import DETECTOR_NAMES
from tests.masking.secret_values import MAKERS, SecretValue, make_event
from tests.stack.conftest import topic_bytes, wait_for

pytestmark = pytest.mark.stack
STORE = SchemaStore()
SAMPLE = 40


def forms(secret: SecretValue) -> list[bytes]:
    """The sensitive part as raw text and as it reads inside JSON text (escaped newlines, quotes)."""
    escaped = json.dumps(secret.sensitive, ensure_ascii=False)[1:-1]
    return sorted({secret.sensitive.encode(), escaped.encode()})


def stored_ids(ch, ids: list[str]) -> set[str]:
    rows = ch.query("SELECT toString(event_id) FROM ledger_records WHERE has({ids:Array(String)}, toString(event_id))",
                    parameters={"ids": ids}).result_rows  # fmt: skip
    return {r[0] for r in rows}


def dead_lettered_ids(settings_: Settings) -> set[str]:
    letters = topic_bytes(settings_, settings_.topics.deadletter)
    return {STORE.decode(v, reader="DeadLetter")["event_id"] for v in letters}


def sample(seed: int) -> tuple[list[dict], list[SecretValue]]:
    """SAMPLE events with 1-6 secrets each; every detector kind appears at least twice."""
    rnd = random.Random(seed)
    kinds = [*DETECTOR_NAMES, *DETECTOR_NAMES]
    events, secrets = [], []
    for i in range(SAMPLE):
        planted = [MAKERS[kinds[i] if i < len(kinds) else rnd.choice(DETECTOR_NAMES)](rnd)]
        planted += [MAKERS[rnd.choice(DETECTOR_NAMES)](rnd) for _ in range(rnd.randint(0, 5))]
        event = make_event(rnd, planted)
        events.append({**event, "event_id": str(uuid.uuid4()),
                       "correlation": {**event["correlation"], "session_id": f"mask-{uuid.uuid4()}"}})  # fmt: skip
        secrets += planted
    return events, secrets


def test_no_generated_secret_reaches_the_ledger_topics_clickhouse_or_logs(settings: Settings, ch) -> None:
    seed = random.randrange(2**32)
    events, secrets = sample(seed)
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for event in events:
            emitter.emit_datum(event)
    ids = [e["event_id"] for e in events]
    wait_for(lambda: len(stored_ids(ch, ids) | (set(ids) & dead_lettered_ids(settings))) == len(ids), 120,
             f"{SAMPLE} events stored or dead-lettered")  # fmt: skip
    assert len(stored_ids(ch, ids)) >= SAMPLE - 2, f"seed {seed}: most of the sample should be stored, not refused"

    raw = b"".join(topic_bytes(settings, settings.topics.events))
    downstream = b"".join(v for t in (settings.topics.ledger, settings.topics.alerts, settings.topics.deadletter)
                          for v in topic_bytes(settings, t))  # fmt: skip
    downstream += ch.raw_query("SELECT * FROM ledger_records WHERE has({ids:Array(String)}, toString(event_id))",
                               parameters={"ids": ids}, fmt="RowBinary")  # fmt: skip
    downstream += b"".join(p.read_bytes() for p in settings.home.glob("*.log"))
    assert {s.kind for s in secrets} == set(DETECTOR_NAMES)
    for secret in secrets:
        assert any(f in raw for f in forms(secret)), f"seed {seed}: control: the emitter sent the {secret.kind} value"
        assert not any(f in downstream for f in forms(secret)), f"seed {seed}: a {secret.kind} value got past"
