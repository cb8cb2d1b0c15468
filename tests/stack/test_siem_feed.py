"""The SIEM feed on the real stack: a plain confluent-kafka consumer (read_committed, nothing of ours) reads
audit.siem from the beginning; every message is OCSF JSON valid for its class; each emitted event appears once,
at the ledger position ClickHouse holds for it; each alert appears as a Detection Finding naming that record."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError

from auditledger.config import Settings
from producers.emitter import AuditEmitter
from tests.siem.ocsf_required import problems
from tests.stack.approval_flow import Approvals, alerts_of
from tests.stack.conftest import wait_for

pytestmark = pytest.mark.stack


def event(action_type: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "tenant": "acme", "actor": {"subject": "alice", "kind": "user"},
            "action": {"type": action_type, "name": name}, "target": {"kind": "tool", "name": name},
            "source": {"service": "siem-test", "host": "worker-3", "ip": "10.20.30.40"},
            "correlation": {"session_id": f"sess-siem-{uuid.uuid4()}"}, **fields}  # fmt: skip


def read_siem(settings: Settings, until: set[bytes], timeout_s: float = 90) -> list[tuple[bytes, dict]]:
    """What a SIEM does: subscribe with its own group, from the earliest offset, read committed messages only."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"siem-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe([settings.topics.siem])
    seen: list[tuple[bytes, dict]] = []
    missing = set(until)
    deadline = time.monotonic() + timeout_s
    try:
        while missing and time.monotonic() < deadline:
            for msg in consumer.consume(500, 1.0):
                if msg.error() is not None:
                    assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                    continue
                seen.append((msg.key(), json.loads(msg.value())))  # every message is JSON
                missing.discard(msg.key())
    finally:
        consumer.close()
    assert not missing, f"{len(missing)} keys never appeared on {settings.topics.siem}"
    return seen


def positions(ch, ids: list[str]) -> dict[str, tuple[int, int, str]]:
    query = ("SELECT toString(event_id), shard, seq, lower(hex(leaf_hash)) FROM ledger_records "
             "WHERE has({ids:Array(String)}, toString(event_id))")  # fmt: skip
    rows = ch.query(query, parameters={"ids": ids}).result_rows
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_a_plain_consumer_reads_valid_ocsf_at_the_ledger_positions(settings: Settings, ch, idp) -> None:
    flow = Approvals(settings, idp)
    expired = idp.expired(datetime.now(UTC))
    events = [
        event("tool.call", "crm_lookup", payload={"tool_arguments": {"customer": 42}}),
        event(
            "llm.request",
            "gpt-4o",
            payload={"prompt": "mail ana.lopez@example.org"},
            target={"kind": "model_endpoint", "name": "azure-eu/gpt-4o"},
            correlation={"session_id": f"sess-siem-{uuid.uuid4()}", "run_id": str(uuid.uuid4())},
        ),
        event(
            "db.query",
            "run_sql",
            payload={"query": "SELECT * FROM orders"},
            target={"kind": "database", "name": "pg://analytics/main"},
        ),
        event("tool.result", "crm_lookup", outcome={"status": "failure", "error": "timed out"}),
        event("tool.call", "crm_lookup", credential={"kind": "oidc_id_token", "token": expired}),
    ]
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for e in events:
            emitter.emit(e)
    # Covered by prod-sql-writes and never approved; a unique table, so no other test's request has its fingerprint.
    unapproved = flow.action(query=f"DROP TABLE customers_{uuid.uuid4().hex}")
    ids = [e["event_id"] for e in (*events, unapproved)]
    stored = wait_for(lambda: len(found := positions(ch, ids)) == len(ids) and found, 90, "events in ClickHouse")
    alerts = {a["kind"]: a for i in (events[-1]["event_id"], unapproved["event_id"]) for a in alerts_of(settings, i)}
    assert set(alerts) == {"identity_unverified", "approval_no_approval"}

    messages = read_siem(settings, {i.encode() for i in ids} | {str(a["alert_id"]).encode() for a in alerts.values()})
    for key, ocsf in messages:
        assert problems(ocsf) == [], (key, problems(ocsf))
    records = {key.decode(): ocsf for key, ocsf in messages if ocsf["class_uid"] == 6003}
    findings = {key.decode(): ocsf for key, ocsf in messages if ocsf["class_uid"] == 2004}
    assert all(sum(1 for k, o in messages if k == i.encode()) == 1 for i in ids)  # exactly once
    for event_id in ids:
        ocsf, (shard, seq, leaf) = records[event_id], stored[event_id]
        assert ocsf["metadata"]["uid"] == event_id
        ledger = ocsf["unmapped"]["ledger"]
        assert (ledger["shard"], ledger["seq"], ledger["leaf_hash"]) == (shard, seq, leaf)
    assert records[events[2]["event_id"]]["activity_id"] == 2  # SELECT: Read
    assert records[events[3]["event_id"]]["status_id"] == 2  # Failure
    assert records[events[4]["event_id"]]["unmapped"]["identity"]["verified"] is False
    assert records[unapproved["event_id"]]["unmapped"]["approval"]["violations"] == ["no_approval"]
    for kind, alert in alerts.items():
        finding = findings[str(alert["alert_id"])]
        assert finding["finding_info"]["types"] == [kind]
        assert finding["finding_info"]["related_events"][0]["uid"] == alert["event_id"]
        shard, seq, leaf = stored[alert["event_id"]]
        assert (finding["unmapped"]["ledger"]["shard"], finding["unmapped"]["ledger"]["seq"]) == (shard, seq)
        assert finding["unmapped"]["ledger"]["leaf_hash"] == leaf
    # `pytest -s` prints a record and a finding as they came off the topic (the README's examples).
    print(json.dumps(records[events[1]["event_id"]], indent=1))
    print(json.dumps(findings[str(alerts["identity_unverified"]["alert_id"])], indent=1))
    feed = json.dumps([o for _, o in messages])
    assert expired not in feed and "credential" not in feed
