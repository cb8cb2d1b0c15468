"""Driving approvals on the real stack: publish steps as an approver would, emit covered actions, read
back the state, the ledger record and the alerts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Producer

from auditledger.config import Settings
from producers.emitter import AuditEmitter
from schemas import SchemaStore
from schemas.action_fingerprint import action_fingerprint
from stream.approval_changelog import load_approval_book
from stream.partition_reader import tail_consumer
from tests.identity.token_factory import TokenFactory
from tests.stack.conftest import topic_bytes, wait_for

STORE = SchemaStore()
PROD = "pg://prod/main"
GROUPS = {"alice": ["dev"], "bob": ["dba"], "dan": ["dba"], "carol": ["support"], "fay": ["finance"]}


class Approvals:
    """One tenant's approval traffic on the stack; tokens minted by the test issuer with GROUPS."""

    def __init__(self, settings: Settings, idp: TokenFactory, tenant: str = "acme") -> None:
        self.settings = settings
        self.idp = idp
        self.tenant = tenant

    def token(self, subject: str, groups: list[str] | None = None) -> str:
        claims = {"groups": GROUPS.get(subject, []) if groups is None else groups}
        return self.idp.mint(datetime.now(UTC), subject=subject, claims=claims)

    def step(self, kind: str, request_id: str, subject: str, *, request: dict | None = None,
             groups: list[str] | None = None, comment: str | None = None) -> str:  # fmt: skip
        event_id = str(uuid.uuid4())
        datum = {
            "event_id": event_id, "request_id": request_id, "tenant": self.tenant, "kind": kind,
            "occurred_at": datetime.now(UTC), "actor": {"subject": subject, "groups": [], "kind": "user"},
            "request": request, "comment": comment, "source": {"service": "approvals-test"},
            "credential": {"kind": "oidc_id_token", "token": self.token(subject, groups)},
        }  # fmt: skip
        producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap, "enable.idempotence": True})
        producer.produce(self.settings.topics.approvals, STORE.encode("ApprovalEvent", datum), request_id.encode())
        assert producer.flush(30) == 0
        return event_id

    def request(self, subject: str = "alice", *, query: str | None = None, tool: str | None = None,
                arguments: str | None = None, ttl_s: float = 600) -> str:  # fmt: skip
        request_id = str(uuid.uuid4())
        action_type, name = ("db.query", "run_sql") if tool is None else ("tool.call", tool)
        request = {
            "action_type": action_type, "action_name": name,
            "fingerprint": action_fingerprint(action_type, name, arguments, query),
            "arguments": arguments, "query": query, "resource": PROD if tool is None else None, "risk": "high",
            "reason": "ticket OPS-1", "expires_at": datetime.now(UTC) + timedelta(seconds=ttl_s), "session_id": None,
        }  # fmt: skip
        self.step("requested", request_id, subject, request=request)
        return request_id

    def state(self, request_id: str) -> dict[str, Any] | None:
        consumer = tail_consumer(self.settings.kafka_bootstrap, f"t-{uuid.uuid4()}")
        try:
            return load_approval_book(consumer, self.settings.topics.approvals_state, STORE).get(request_id)
        finally:
            consumer.close()

    def wait_state(self, request_id: str, decisions: int, status: str | None = None) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            state = self.state(request_id)
            if state and state["request"] and len(state["decisions"]) >= decisions:
                return state if status is None or state["status"] == status else None
            return None

        return wait_for(ready, 60, f"request {request_id} folded with {decisions} decisions")

    def action(self, subject: str = "alice", *, query: str | None = None, tool: str | None = None,
               arguments: str | None = None, request_id: str | None = None,
               outcome: str = "success") -> dict:  # fmt: skip
        attributes = {"approval_request_id": request_id} if request_id else {}
        event = {
            "event_id": str(uuid.uuid4()), "tenant": self.tenant,
            "actor": {"subject": subject, "kind": "agent"},
            "action": {"type": "db.query", "name": "run_sql"} if tool is None else {"type": "tool.call", "name": tool},
            "target": {"kind": "database", "name": PROD} if tool is None else {},
            "payload": {"query": query, "tool_arguments": arguments, "attributes": attributes},
            "outcome": {"status": outcome},
            "source": {"service": "ops-agent"},
            "correlation": {"session_id": f"sess-appr-{uuid.uuid4()}"},
            "credential": {"kind": "oidc_id_token", "token": self.token(subject)},
        }  # fmt: skip
        with AuditEmitter(self.settings.kafka_bootstrap, topic=self.settings.topics.events) as emitter:
            emitter.emit(event)
        return event


RECORD_COLUMNS = ("shard", "seq", "source_topic", "approval_status", "approval_request_id", "approval_rule",
                  "approval_required", "approval_violations", "approval_covers", "action_type",
                  "attributes")  # fmt: skip


def stored_records(ch, where: str, parameters: dict) -> list[dict[str, Any]]:
    """Records matching `where`; `approvers`: the subjects of the approved decisions they carry."""
    approvers = "arrayMap(a -> a.subject, arrayFilter(a -> a.kind = 'approved', approvers))"
    rows = ch.query(f"SELECT {', '.join(RECORD_COLUMNS)}, {approvers} FROM ledger_records WHERE {where} "
                    "ORDER BY shard, seq", parameters=parameters).result_rows  # fmt: skip
    return [dict(zip((*RECORD_COLUMNS, "approvers"), row, strict=True)) for row in rows]


def stored_record(ch, event_id: str) -> dict[str, Any]:
    found = wait_for(lambda: stored_records(ch, "toString(event_id) = {id:String}", {"id": event_id}), 60,
                     f"event {event_id} in ClickHouse")  # fmt: skip
    assert len(found) == 1
    return found[0]


def all_alerts(settings: Settings) -> list[dict[str, Any]]:
    return [STORE.decode(v, reader="Alert") for v in topic_bytes(settings, settings.topics.alerts)]


def alerts_of(settings: Settings, event_id: str) -> list[dict[str, Any]]:
    return [a for a in all_alerts(settings) if a["event_id"] == event_id]


def steps_of(ch, request_id: str, count: int) -> list[dict[str, Any]]:
    """The ledger records of a request's steps, once there are `count` of them."""
    where = "source_topic = 'approvals' AND approval_request_id = {r:String}"
    return wait_for(lambda: len(found := stored_records(ch, where, {"r": request_id})) >= count and found, 60,
                    f"{count} steps of {request_id} in ClickHouse")  # fmt: skip
