"""`auditledger retention show`: the retention policy in force, the ClickHouse TTL and topic retention it gives."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from auditledger.config import Settings
from ledger.retention import MIN_HOT_DAYS, MIN_RETENTION_DAYS, MS_PER_DAY, RetentionPolicyError

EXIT_OK, EXIT_ERROR = 0, 2

HELP = f"""\
Print the retention policy these settings give: how long each tenant's records stay in ClickHouse, the row
TTL that enforces it on ledger_records, and the retention of the Kafka topics.

Rules (PCI DSS 10.5.1): at least {MIN_RETENTION_DAYS} days of history, the last {MIN_HOT_DAYS} immediately
queryable. A shorter retention is refused unless retention_allow_short is set (tests and development only),
and a tenant may only be kept longer than the default. Settings: retention_days, retention_hot_days,
retention_tenants (tenant=days,...; in a TOML file `[retention] tenants = {{acme = 730}}`),
retention_allow_short, clickhouse_cold_volume.

What is pruned: rows of ledger_records once their tenant's retention runs out (counted from sequenced_at).
What is kept: every leaf hash, in ledger_leaves (about 60 bytes a record), so that the records that remain
still verify against the signed checkpoints and can still be proven. Kafka topics are shared by tenants, so
they keep everything as long as the longest-kept tenant; checkpoints are kept forever.

Exit codes: 0 printed; 2 the settings give a refused policy."""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "retention",
        help="show the retention policy: per-tenant days, ClickHouse TTL, topic retention",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=["show"])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def plan(settings: Settings) -> dict[str, Any]:
    """The policy, its TTL and the topic retentions, as `retention show --json` prints them."""
    from auditledger.topics import topic_specs

    policy = settings.retention
    topics = {}
    for spec in topic_specs(settings):
        ms = spec.config.get("retention.ms")
        if ms is not None:
            topics[spec.name] = "forever" if ms == "-1" else f"{int(ms) / MS_PER_DAY:g} days"
    return {**policy.describe(), "topics": topics}


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        shown = plan(settings)
    except RetentionPolicyError as exc:
        print(f"retention: refused: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(shown))
        return EXIT_OK
    print(f"default retention   {shown['default_days']} days (from sequenced_at)")
    for tenant, days in shown["tenants"].items():
        print(f"  tenant {tenant:<12} {days} days")
    hot = f"{shown['hot_days']} days, then TO VOLUME '{shown['cold_volume']}'" if shown["cold_volume"] else (
        "everything kept (one disk: no cold volume configured)")  # fmt: skip
    print(f"immediately queryable  {hot}")
    print(f"ledger_records TTL  {shown['ttl']}")
    print("ledger_leaves       kept forever (leaf hashes: what lets the remaining records verify)")
    for topic, retention in shown["topics"].items():
        print(f"topic {topic:<22} {retention}")
    return EXIT_OK
