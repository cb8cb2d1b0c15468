"""`auditledger demo`: the whole path once, end to end, on the local stack, with timings."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from auditledger.config import Settings
from auditledger.stack.local_stack import LocalStack
from ledger.clickhouse_client import store_client
from ledger.store_verification import verify_store
from ledger.verify_cli import report_json, trusted_keys
from producers.demo_session import demo_events
from producers.emitter import AuditEmitter


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="start the stack, emit a demo agent workload, wait, verify",
                              description=__doc__)  # fmt: skip
    p.add_argument("--events", type=int, default=2000, help="events to emit (default 2000)")
    p.add_argument("--sessions", type=int, default=24, help="agent sessions (Kafka keys) to spread them over")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for every event to be queryable")
    p.set_defaults(run=run)


def stored_records(client: Any) -> int:
    return int(client.query("SELECT count() FROM ledger_records").result_rows[0][0])


ID_CHUNK = 10_000  # chDB 26.9 takes ~25 s for one IN of 100k UUIDs over 100k rows, ~0.2 s per 10k


def count_stored_ids(client: Any, event_ids: list[str]) -> int:
    """How many distinct ids of `event_ids` are stored, asked in chunks the engine handles quickly."""
    unique = sorted(set(event_ids))
    return sum(
        int(
            client.query(
                "SELECT uniqExact(event_id) FROM ledger_records WHERE event_id IN {ids:Array(UUID)}",
                parameters={"ids": unique[i : i + ID_CHUNK]},
            ).result_rows[0][0]
        )
        for i in range(0, len(unique), ID_CHUNK)
    )


def wait_queryable(client: Any, event_ids: list[str], timeout_s: float, baseline: int = 0) -> int:
    """Wait until every event id is queryable; returns how many are. Polls a cheap row count (above
    `baseline`, the count before emitting) and checks the ids themselves only once that is reached,
    so that waiting does not compete with the sink for the machine."""
    deadline = time.monotonic() + timeout_s
    wanted = len(set(event_ids))
    found = 0
    while time.monotonic() < deadline:
        if stored_records(client) - baseline >= wanted:
            found = count_stored_ids(client, event_ids)
            if found >= wanted:
                return found
        time.sleep(0.1)
    return found


UNANCHORED_SHARDS_SQL = (
    "SELECT count() FROM (SELECT shard, max(seq) + 1 AS n FROM ledger_records GROUP BY shard) r "
    "LEFT JOIN (SELECT shard, max(tree_size) AS s FROM ledger_checkpoints GROUP BY shard) c USING shard "
    "WHERE c.s < r.n"
)


def wait_anchored(client: Any, timeout_s: float) -> bool:
    """Wait until every shard's newest record is covered by a stored checkpoint; False on timeout."""
    deadline = time.monotonic() + timeout_s
    while client.query(UNANCHORED_SHARDS_SQL).result_rows[0][0] > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def langchain_examples(settings: Settings, client: Any, timeout_s: float) -> list[Any] | None:
    """Run examples/langchain_agent.py and examples/langgraph_graph.py through the audit callback handler and
    wait until their events are queryable; None when langchain-core/langgraph or the examples are not here."""
    try:
        import langchain_core  # noqa: F401
        import langgraph  # noqa: F401
    except ImportError:
        return None
    repo = Path(__file__).resolve().parents[1]
    if not (repo / "examples" / "run_all.py").is_file():
        return None  # an installed package, not a checkout: the examples live in the repository
    if str(repo) not in sys.path:
        sys.path.append(str(repo))
    from examples.run_all import run_examples

    baseline = stored_records(client)
    runs = run_examples(settings)
    ids = [event_id for run in runs for event_id in run.event_ids]
    if wait_queryable(client, ids, timeout_s, baseline) < len(set(ids)):
        raise RuntimeError(f"the examples' {len(ids)} events did not all become queryable in {timeout_s:.0f}s")
    return runs


def run(args: argparse.Namespace, settings: Settings) -> int:
    t0 = time.monotonic()
    stack = LocalStack(settings)
    status = stack.up()
    t_up = time.monotonic()
    settings = replace(settings, kafka_bootstrap=status["kafka_bootstrap"], clickhouse_url=status["clickhouse_url"])
    events = list(demo_events(args.events, sessions=args.sessions, tenant="acme", seed=int(time.time())))
    client = store_client(settings)
    baseline = stored_records(client)
    t_emit0 = time.monotonic()
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for e in events:
            emitter.emit(e)
        delivered = emitter.flush()
    t_emitted = time.monotonic()
    ids = [e["event_id"] for e in events]
    found = wait_queryable(client, ids, args.timeout, baseline)
    t_queryable = time.monotonic()
    if found < len(ids):
        print(f"demo: only {found} of {len(ids)} events became queryable in {args.timeout:.0f}s", file=sys.stderr)
        return 1
    t_examples0 = time.monotonic()
    try:
        examples = langchain_examples(settings, client, args.timeout)
    except RuntimeError as exc:
        print(f"demo: langchain examples: {exc}", file=sys.stderr)
        return 1
    t_examples = time.monotonic()
    wait_anchored(client, 30)
    reports = verify_store(client, trusted_keys(None, settings), settings.log_origin)
    t_verified = time.monotonic()
    summary = report_json(reports)
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e["action"]["type"]] = kinds.get(e["action"]["type"], 0) + 1
    partitions = sorted({d.partition for d in delivered})
    path_s = t_queryable - t_emit0
    print("")
    print("auditledger demo")
    print(f"  stack up:            {t_up - t0:6.1f} s   (kafka {settings.kafka_bootstrap}, "
          f"clickhouse {settings.clickhouse_url})")  # fmt: skip
    print(f"  emitted:             {len(events)} events in {len(set(e['correlation']['session_id'] for e in events))} "
          f"sessions over {len(partitions)} partitions {partitions} in {t_emitted - t_emit0:.2f} s")  # fmt: skip
    print(f"  event kinds:         {json.dumps(dict(sorted(kinds.items())))}")
    print(f"  emit -> queryable:   {path_s:6.2f} s   ({len(events) / path_s:,.0f} events/s through the whole path)")
    if examples is None:
        print("  langchain examples:  skipped (pip install 'auditledger[langchain]' to run them)")
    else:
        print(f"  langchain examples:  {sum(len(r.event_ids) for r in examples)} events from examples/ queryable "
              f"in {t_examples - t_examples0:.2f} s")  # fmt: skip
        for r in examples:
            print(f"    {r.name + ':':20} session {r.session_id}")
        print(f"    replay one:          .venv/bin/auditledger replay {examples[0].session_id}")
    print(f"  verify:              {'INTACT' if summary['ok'] else 'FAILED'}: "
          f"{sum(s['records'] for s in summary['shards'])} records in {len(summary['shards'])} shards, "
          f"{sum(s['checkpoints_checked'] for s in summary['shards'])} signed checkpoints matched "
          f"in {t_verified - t_examples:.2f} s")  # fmt: skip
    for p in summary["problems"]:
        print(f"    problem: {p}")
    print(f"  total wall time:     {t_verified - t0:6.1f} s")
    print("  try:                 .venv/bin/auditledger keys public > keys.txt")
    print("                       .venv/bin/auditledger verify --keys keys.txt")
    print(f"                       .venv/bin/auditledger prove {ids[0]} --json > bundle.json")
    print("                       .venv/bin/auditledger verify-proof bundle.json --keys keys.txt")
    print("                       .venv/bin/auditledger query --since 1h --action-type 'tool.*' --limit 5")
    print("                       .venv/bin/auditledger access add-analyst ana --tenant acme   # a read-only login")
    return 0 if summary["ok"] else 1
