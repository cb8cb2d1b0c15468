"""`auditledger verify`: check every shard in ClickHouse against the roots the stream published.

Exit codes: 0 every check passed; 1 verification failed (the problems are named); 2 the verifier
could not run (store unreachable, bad arguments). An unexpected error is never reported as 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from typing import Any

from auditledger.config import Settings
from ledger.clickhouse_client import StoreUnreachableError, connect
from ledger.ddl import BINARY_COLUMNS, RECORD_COLUMNS
from ledger.verification import PublishedRoot, ShardReport, ShardVerifier
from schemas import SchemaStore

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check the ledger in ClickHouse: contiguity, leaf hashes, chain links, published roots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (no progress output)")
    p.add_argument("--shard", type=int, action="append", help="verify only this shard (repeatable)")
    p.add_argument(
        "--clickhouse-url", help="ClickHouse HTTP URL (default: the local stack's or AUDITLEDGER_CLICKHOUSE_URL)"
    )
    p.set_defaults(run=run)


class Progress:
    """A line on stderr when it is a terminal and output is for people; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.monotonic()
        self.done = 0
        self._last = 0.0

    def tick(self, shard: int, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._last > 0.2:
            rate = self.done / max(now - self.started, 1e-9)
            sys.stderr.write(f"\rverifying shard {shard}: {self.done:,} records ({rate:,.0f}/s)")
            sys.stderr.flush()
            self._last = now

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def verify_store(client: Any, shards: list[int] | None, progress: Progress) -> list[ShardReport]:
    store = SchemaStore()
    published: dict[int, list[PublishedRoot]] = {}
    result = client.query(
        "SELECT shard, tree_size, root_hash FROM ledger_checkpoints", column_formats={"root_hash": "bytes"}
    )
    for shard, size, root in result.result_rows:
        published.setdefault(int(shard), []).append(PublishedRoot(int(size), bytes(root)))
    stored = {int(r[0]) for r in client.query("SELECT DISTINCT shard FROM ledger_records").result_rows}
    all_shards = sorted(stored | set(published))
    wanted = [s for s in all_shards if shards is None or s in shards]
    columns = ", ".join(RECORD_COLUMNS)
    reports = []
    for shard in wanted:
        verifier = ShardVerifier(shard, published.get(shard, []), store)
        with client.query_row_block_stream(
            f"SELECT {columns} FROM ledger_records WHERE shard = {{shard:UInt32}} ORDER BY seq, leaf_hash",
            parameters={"shard": shard},
            column_formats=BINARY_COLUMNS,
        ) as blocks:
            for block in blocks:
                for row in block:
                    verifier.add(row)
                progress.tick(shard, len(block))
        reports.append(verifier.finish())
    return reports


def report_json(reports: list[ShardReport]) -> dict[str, Any]:
    return {
        "ok": all(r.ok for r in reports),
        "shards": [
            {
                "shard": r.shard,
                "records": r.records,
                "tree_size": r.tree_size,
                "root_hash": base64.b64encode(r.root_hash).decode(),
                "checkpoints_checked": r.checkpoints_checked,
                "unanchored_records": r.unanchored,
                "ok": r.ok,
            }
            for r in reports
        ],
        "problems": [p.as_dict() for r in reports for p in r.problems],
    }


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = args.clickhouse_url or settings.clickhouse_url
    progress = Progress(enabled=not args.json)
    try:
        client = connect(url, settings.clickhouse_database)
        reports = verify_store(client, args.shard, progress)
    except StoreUnreachableError as exc:
        print(f"verify: cannot run: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # the store answered with an error: infrastructure, not a verdict
        print(f"verify: cannot run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        progress.close()
    summary = report_json(reports)
    if args.json:
        print(json.dumps(summary))
    else:
        total = sum(r.records for r in reports)
        for r in reports:
            state = "ok" if r.ok else f"{len(r.problems)} problem(s)"
            print(f"shard {r.shard}: {r.records} records, {r.checkpoints_checked} checkpoint(s) matched, "
                  f"{r.unanchored} not yet under a checkpoint: {state}")  # fmt: skip
        for r in reports:
            for p in r.problems:
                print(f"  FAILED {p.diagnostics()}")
        verdict = "INTACT" if summary["ok"] else "FAILED"
        print(f"{verdict}: {total} records in {len(reports)} shard(s) in {time.monotonic() - progress.started:.2f}s")
    return EXIT_OK if summary["ok"] else EXIT_FAILED
