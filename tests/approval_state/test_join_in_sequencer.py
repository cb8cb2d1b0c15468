"""The approval join inside the stream's batch step, without Kafka: steps recorded and folded, actions judged,
alerts positioned, the table's changes emitted as its changelog and undone when a batch is not written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from ledger.signed_note import NoteSigner
from producers.event_json import event_from_json
from schemas import SchemaStore
from schemas.action_fingerprint import action_fingerprint
from stream.approval_join import ApprovalJoin
from stream.approvals.book import ApprovalBook
from stream.approvals.rules import ApprovalPolicy, ApprovalRule
from stream.sequencer import LedgerSequencer, RawEvent
from stream.shard_chain import ShardChain
from tests.ledger_path import sequencer_parts

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SIGNER = NoteSigner.generate("test.example/log")
QUERY = "DROP TABLE customers"
POLICY = ApprovalPolicy(
    rules=(ApprovalRule("prod-ddl", ("dba",), 1, action_types=frozenset({"db.query"}), sql=frozenset({"ddl"})),),
    late_window_s=600,
)


def sequencer(store: SchemaStore) -> LedgerSequencer:
    return LedgerSequencer(store, lambda s: ShardChain(shard=s), "test.example/log", "audit.events",
                           signers=lambda now: [SIGNER], clock=lambda: NOW, state_partitions=3,
                           approvals=ApprovalJoin(POLICY, ApprovalBook()), **sequencer_parts(store))  # fmt: skip


def step(store: SchemaStore, kind: str, rid: str, subject: str, offset: int, query: str = QUERY) -> RawEvent:
    request = None
    if kind == "requested":
        request = {"action_type": "db.query", "action_name": "run_sql", "arguments": None, "query": query,
                   "fingerprint": action_fingerprint("db.query", "run_sql", None, query), "resource": None,
                   "risk": None, "reason": "call me at +1 415 555 0100", "expires_at": NOW + timedelta(hours=1),
                   "session_id": None}  # fmt: skip
    datum = {"event_id": str(uuid.uuid4()), "request_id": rid, "tenant": "acme", "kind": kind, "occurred_at": NOW,
             "actor": {"subject": subject, "groups": ["dba"], "kind": "user"}, "request": request,
             "comment": None, "source": {"service": "t"}, "credential": None}  # fmt: skip
    return RawEvent(0, offset, store.encode("ApprovalEvent", datum), topic="approvals")


def action(store: SchemaStore, offset: int, rid: str | None, query: str = QUERY) -> RawEvent:
    event = event_from_json({"event_id": str(uuid.uuid4()), "tenant": "acme",
                             "actor": {"subject": "agent", "kind": "agent"},
                             "action": {"type": "db.query", "name": "run_sql"}, "source": {"service": "t"},
                             "payload": {"query": query, "attributes": {"approval_request_id": rid} if rid else {}},
                             "correlation": {"session_id": "s"}})  # fmt: skip
    return RawEvent(1, offset, store.encode("AuditEvent", event))


def entries(store: SchemaStore, result) -> list[dict]:
    return [store.decode(store.decode(o.value, reader="LedgerRecord")["entry"], reader="LedgerEntry")
            for o in result.outputs if o.role == "ledger"]  # fmt: skip


def test_steps_are_recorded_first_and_masked_and_an_action_is_judged_against_them(store: SchemaStore) -> None:
    seq = sequencer(store)
    rid = str(uuid.uuid4())
    result = seq.process([action(store, 0, None), step(store, "requested", rid, "alice", 0),
                          step(store, "approved", rid, "bob", 1)], idle=True)  # fmt: skip
    written = entries(store, result)
    assert [e["event"]["action"]["type"] for e in written] == ["approval.requested", "approval.approved", "db.query"]
    assert [e["source_topic"] for e in written] == ["approvals", "approvals", "events"]
    assert "+1 415 555 0100" not in str(written[0]["event"])  # the request's reason is masked like any payload
    judged = written[2]["approval"]
    # No credential: the approver is unverified, so the approval counts for nothing.
    assert judged["violations"] == ["approver_unverified", "too_few_approvers"]
    alerts = [store.decode(o.value, reader="Alert") for o in result.outputs if o.role == "alerts"]
    assert {(a["kind"], a["shard"], a["seq"]) for a in alerts} == {
        ("approval_approver_unverified", 1, 0), ("approval_too_few_approvers", 1, 0)}  # fmt: skip
    changelog = [o for o in result.outputs if o.role == "approvals_state"]
    assert [o.key.decode() for o in changelog] == [rid]
    state = store.decode(changelog[0].value, reader="ApprovalState")
    assert state["status"] == "pending" and [d["subject"] for d in state["decisions"]] == ["bob"]
    assert state["decisions"][0]["shard"] == 0 and state["decisions"][0]["seq"] == 1


def test_a_batch_that_is_not_written_leaves_the_table_as_it_was(store: SchemaStore) -> None:
    seq = sequencer(store)
    rid = str(uuid.uuid4())
    seq.process([step(store, "requested", rid, "alice", 0)], idle=True)
    seq.commit()
    before = seq.approvals.book.get(rid)
    seq.process([step(store, "approved", rid, "bob", 1)], idle=True)
    assert len(seq.approvals.book.get(rid)["decisions"]) == 1
    seq.rollback()
    assert seq.approvals.book.get(rid) == before
    assert seq.approvals.book.changes() == []


def test_an_uncovered_action_has_no_section_and_a_redelivered_step_is_not_folded_twice(store: SchemaStore) -> None:
    seq = sequencer(store)
    rid = str(uuid.uuid4())
    first = [step(store, "requested", rid, "alice", 0), step(store, "approved", rid, "bob", 1)]
    seq.process(first, idle=True)
    again = seq.process([*first, action(store, 0, None, "SELECT 1")], idle=True)
    assert again.skipped_redelivered == 2
    assert [e["approval"] for e in entries(store, again)] == [None]
    assert len(seq.approvals.book.get(rid)["decisions"]) == 1


def test_an_undecodable_step_is_dead_lettered_with_its_source_topic(store: SchemaStore) -> None:
    seq = sequencer(store)
    result = seq.process([RawEvent(2, 7, b"\xc3\x01garbage", topic="approvals")], idle=True)
    dead = [store.decode(o.value, reader="DeadLetter") for o in result.outputs if o.role == "deadletter"]
    assert [(d["source_topic"], d["source_partition"], d["source_offset"]) for d in dead] == [("audit.approvals", 2, 7)]
    checkpoint = [store.decode(o.value, reader="Checkpoint") for o in result.outputs if o.role == "checkpoints"]
    assert checkpoint[0]["last_approval_offset"] == 7 and checkpoint[0]["last_source_offset"] == -1


def test_every_unapproved_action_before_a_request_is_cleared_by_its_late_approval(store: SchemaStore) -> None:
    seq = sequencer(store)
    seq.process([action(store, 0, None), action(store, 1, None)], idle=True)
    rid = str(uuid.uuid4())
    result = seq.process([step(store, "requested", rid, "alice", 0), step(store, "approved", rid, "bob", 1)],
                         idle=True)  # fmt: skip
    follow_ups = [e for e in entries(store, result) if e["event"]["action"]["type"] == "approval.late_join"]
    # The approver is unverified here, so nothing clears: both actions are still awaiting, none was dropped.
    assert follow_ups == []
    assert [w["seq"] for w in seq.approvals.book.get(rid)["awaiting"]] == [0, 1]


def test_an_action_naming_another_tenants_request_leaves_that_request_alone(store: SchemaStore) -> None:
    seq = sequencer(store)
    rid = str(uuid.uuid4())
    seq.process([step(store, "requested", rid, "alice", 0)], idle=True)
    before = seq.approvals.book.get(rid)
    other = action(store, 0, rid)
    event = store.decode(other.value, reader="AuditEvent")
    event["tenant"] = "globex"
    result = seq.process([RawEvent(1, 0, store.encode("AuditEvent", event))], idle=True)
    assert entries(store, result)[0]["approval"]["violations"] == ["no_approval"]
    assert seq.approvals.book.get(rid) == before
