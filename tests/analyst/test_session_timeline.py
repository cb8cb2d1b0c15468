"""The replay timeline: nesting by parent run whatever order records arrive in, orphans and cycles at the root,
a run's end after its children, masked values shown as stored; and the sandbox messages built from entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ledger.replay_cli import POSITION_HEADER, sandbox_messages
from ledger.session_timeline import build_tree, flatten, timeline_json_lines, tree_lines
from tests.analyst.ledger_rows import ledger_rows

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EMAIL_TOKEN = "[HASH:email:mk-default:0a1b2c3d4e5f60718293a4b5]"


def rec(seq: int, action_type: str, run: str | None, parent: str | None = None, **extra) -> dict:
    base = {"occurred_at": T0 + timedelta(seconds=seq), "shard": 1, "seq": seq, "event_id": f"e{seq}",
            "action_type": action_type, "action_name": "", "run_id": run or "", "parent_run_id": parent or "",
            "graph_node": "", "outcome_status": "success", "outcome_error": "", "approval_status": "",
            "masked": [], "approvers": [], "approval_violations": []}  # fmt: skip
    return {**base, **extra}


SESSION = [
    rec(0, "chain.start", "chain"),
    rec(
        1,
        "llm.request",
        "llm",
        "chain",
        prompt=f"User: write to {EMAIL_TOKEN}",
        masked=[{"path": "payload.prompt", "rule": "detector:email", "action": "hash", "count": 1}],
    ),  # fmt: skip
    rec(2, "llm.response", "llm", "chain"),
    rec(3, "tool.call", "tool", "chain", action_name="crm_lookup"),
    rec(4, "db.query", "q", "tool", query="SELECT 1"),
    rec(5, "tool.result", "tool", "chain"),
    rec(6, "chain.end", "chain"),
]


def shape(events) -> list[tuple[int, int, str | None]]:
    return [(e.record["seq"], e.depth, e.parent_event_id) for e in events]


def test_runs_nest_under_their_parent_run_in_time_order() -> None:
    assert shape(flatten(build_tree(SESSION))) == [
        (0, 0, None), (1, 1, "e0"), (2, 1, "e0"), (3, 1, "e0"), (4, 2, "e3"), (5, 1, "e0"), (6, 0, None),
    ]  # fmt: skip


def test_order_of_arrival_does_not_matter_children_before_parents_included() -> None:
    assert shape(flatten(build_tree(list(reversed(SESSION))))) == shape(flatten(build_tree(SESSION)))


def test_a_run_whose_parent_is_not_in_the_session_hangs_at_the_root() -> None:
    orphan = rec(7, "tool.call", "late", "gone-run")
    events = flatten(build_tree([*SESSION, orphan]))
    assert (7, 0, None) in shape(events)


def test_parent_cycles_do_not_loop_and_everything_is_shown_once() -> None:
    a, b = rec(0, "node.start", "a", "b"), rec(1, "node.start", "b", "a")
    events = flatten(build_tree([a, b]))
    assert sorted(e.record["seq"] for e in events) == [0, 1]
    assert sorted(e.depth for e in events) == [0, 1]  # the cycle is cut: one root, one child


def test_records_without_a_run_are_each_their_own_node() -> None:
    events = flatten(build_tree([rec(0, "approval.requested", None), rec(1, "approval.approved", None)]))
    assert shape(events) == [(0, 0, None), (1, 0, None)]


def test_the_text_view_puts_a_runs_end_after_its_children_and_marks_masking() -> None:
    lines = tree_lines(build_tree(SESSION), width=240)
    rest = [line.split("  ", 2)[2] for line in lines]  # after time and shard/seq: indent, then the event
    kinds = [r.split()[0] for r in rest]
    assert kinds == ["chain.start", "llm.request", "llm.response", "tool.call", "db.query", "tool.result", "chain.end"]
    assert rest[4].startswith("    db.query") and rest[3].startswith("  tool.call")  # two spaces per level
    assert EMAIL_TOKEN in lines[1] and "[masked: payload.prompt detector:email]" in lines[1]
    assert "[masked" not in lines[0]


def test_a_cut_preview_never_splits_a_mask_token() -> None:
    line = tree_lines(build_tree(SESSION[:2]), width=120)[1]
    assert "[HASH" not in line and line.split("prompt: ")[1].startswith("User: write to …")


def test_approval_and_approvers_are_shown() -> None:
    approver = {"kind": "approved", "subject": "dba@acme.example", "verified": True, "groups": ["dba"],
                "decided_at": T0, "shard": 2, "seq": 9}  # fmt: skip
    action = rec(0, "db.query", "q", approval_status="approved", approval_request_id="req-1", approval_rule="prod",
                 approvers=[approver])  # fmt: skip
    line = tree_lines(build_tree([action]))[0]
    assert "approval=approved by dba@acme.example" in line
    doc = json.loads(timeline_json_lines([action])[0])
    assert doc["approval"] == {"status": "approved", "request_id": "req-1", "rule": "prod", "violations": [],
                               "approvers": [{"kind": "approved", "subject": "dba@acme.example", "verified": True,
                                              "decided_at": "2026-11-23T09:00:00.000000Z"}]}  # fmt: skip


def test_json_lines_are_one_object_per_record_in_time_order_with_stable_fields() -> None:
    docs = [json.loads(line) for line in timeline_json_lines(list(reversed(SESSION)))]
    assert [d["seq"] for d in docs] == list(range(7)) and [d["index"] for d in docs] == list(range(7))
    assert list(docs[1]) == ["index", "depth", "parent_event_id", "event_id", "shard", "seq", "occurred_at",
                             "sequenced_at", "tenant", "session_id", "run_id", "parent_run_id", "graph_node",
                             "actor_subject", "identity_status", "action_type", "action_name", "target", "outcome",
                             "payload", "masked", "approval"]  # fmt: skip
    assert docs[1]["payload"]["prompt"] == f"User: write to {EMAIL_TOKEN}"
    assert docs[1]["masked"][0]["rule"] == "detector:email" and docs[1]["approval"] is None
    assert docs[4]["depth"] == 2 and docs[4]["parent_event_id"] == "e3"


def test_sandbox_messages_are_the_masked_events_the_entries_commit_to(store) -> None:
    from producers.demo_session import demo_events

    events = list(demo_events(6, sessions=1, seed=9))
    events[0]["credential"] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    rows = list(ledger_rows(events, store, shards=1))
    from ledger.ddl import RECORD_COLUMNS

    records = [dict(zip(RECORD_COLUMNS, r, strict=True)) for r in rows]
    messages = sandbox_messages(records, store)
    assert [m[2] for m in messages] == [[(POSITION_HEADER, f"0/{i}".encode())] for i in range(6)]
    decoded = [store.decode(value, reader="AuditEvent") for _, value, _ in messages]
    assert [str(d["event_id"]) for d in decoded] == [e["event_id"] for e in events]
    assert all(d["credential"] is None for d in decoded)
    assert {key for key, _, _ in messages} == {events[0]["correlation"]["session_id"].encode()}
