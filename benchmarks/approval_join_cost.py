"""What the approval join costs the stream: the same batch step with every action covered by a rule, and with
no rule, in one run; plus the SQL classifier on statements it has not seen before.

Usage: .venv/bin/python benchmarks/approval_join_cost.py [--events N]
Uses the masking benchmark's 1 KB agent events (tool.call with a SQL query). The covered run judges each
action against the approval table (one request in the table per ten actions, referenced by id; the rest
find none and are alerted and kept as awaiting), so it pays for matching, fingerprinting, judging, alerts
and the changelog records. Its last line is machine-readable. No servers: the stream's own work.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.masking_throughput import agent_events, best_of, step_arguments  # noqa: E402
from ledger.signed_note import NoteSigner  # noqa: E402
from schemas import SchemaStore  # noqa: E402
from schemas.action_fingerprint import REQUEST_ATTRIBUTE, event_fingerprint  # noqa: E402
from stream.approval_join import ApprovalJoin  # noqa: E402
from stream.approvals.book import ApprovalBook  # noqa: E402
from stream.approvals.rules import ApprovalPolicy, ApprovalRule  # noqa: E402
from stream.approvals.sql_class import classify_sql  # noqa: E402
from stream.approvals.state import empty_state  # noqa: E402
from stream.sequencer import LedgerSequencer, RawEvent  # noqa: E402
from stream.shard_chain import ShardChain  # noqa: E402
from tests.ledger_path import admission, dead_letters  # noqa: E402

COVERING = ApprovalPolicy(rules=(ApprovalRule("orders", ("ops",), 1, action_types=frozenset({"tool.call"}),
                                              tools=frozenset({"order_lookup"})),))  # fmt: skip


def approved_book(datums: list[dict], start: datetime) -> ApprovalBook:
    """A table holding an approved request for every tenth action."""
    book = ApprovalBook()
    for i, d in enumerate(datums[::10]):
        state = empty_state(f"req-{i}", "acme", 0, i, start)
        state.update(status="approved", requested_at=start, required=1, approver_groups=["ops"],
                     requester_subject="agent-0", rule="orders",
                     request={"action_type": "tool.call", "action_name": "order_lookup", "arguments": None,
                              "query": None, "fingerprint": event_fingerprint(d), "resource": None, "risk": None,
                              "reason": None, "expires_at": start + timedelta(days=1), "session_id": None},
                     decisions=[{"kind": "approved", "subject": "ops-1", "verified": True, "groups": ["ops"],
                                 "decided_at": start, "event_id": "e", "shard": 0, "seq": i,
                                 "comment": None}])  # fmt: skip
        book.load(state["request_id"], state)
    return book


def main() -> int:
    args = step_arguments(__doc__ or "")
    store = SchemaStore()
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    datums = agent_events(args.events, seed=6)
    for i, d in enumerate(datums[::10]):
        d["payload"]["attributes"][REQUEST_ATTRIBUTE] = f"req-{i}"
    encoded = [store.encode("AuditEvent", d) for d in datums]
    n = len(encoded)
    signer = NoteSigner.generate("bench/log")
    gate = admission()

    def stream_step(policy: ApprovalPolicy) -> float:
        def work() -> None:
            join = ApprovalJoin(policy, approved_book(datums, start))
            sequencer = LedgerSequencer(store, lambda s: ShardChain(shard=s), "bench/log", "audit.events",
                                        signers=lambda now: [signer], admission=gate, approvals=join,
                                        dead_letters=dead_letters(store, gate))  # fmt: skip
            raws = [RawEvent(i % 6, i // 6, b) for i, b in enumerate(encoded)]
            for i in range(0, n, 1000):
                sequencer.process(raws[i : i + 1000], idle=False)
                sequencer.commit()

        return best_of(args.runs, work)

    sha = best_of(args.runs, lambda: [hashlib.sha256(b"\x00" + b).digest() for b in encoded])
    queries = [f"UPDATE orders SET status = 'x{i}' WHERE id = {i}; -- note {i}" for i in range(n)]
    sql = best_of(1, lambda: [classify_sql(q) for q in queries])
    covered = stream_step(COVERING)
    uncovered = stream_step(ApprovalPolicy())
    extra = (covered - uncovered) / n

    print(f"events: {n}, every one covered in the first run, one in ten with an approved request")
    print("raw limit of this machine, one core, same events:")
    print(f"  hashlib SHA-256 of the Avro bytes      {n / sha:>12,.0f} /s")
    print("ours, one core:")
    print(f"  stream step, every action covered      {n / covered:>12,.0f} /s   {covered / n * 1e6:6.1f} us/event")
    print(f"  stream step, no approval rule          {n / uncovered:>12,.0f} /s   {uncovered / n * 1e6:6.1f} us/event")
    share = extra / (covered / n)
    print(f"  the join's cost per covered action     {extra * 1e6:>12.1f} us   ({share:.1%} of the step)")
    print(f"  SQL classifier, unseen statements      {n / sql:>12,.0f} /s   {sql / n * 1e6:6.1f} us/statement")
    print(f"approval_join_us_per_event: {extra * 1e6:.1f} covered_events_per_s: {n / covered:.0f} "
          f"sql_classify_per_s: {n / sql:.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
