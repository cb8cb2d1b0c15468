"""auditledger: a tamper-evident audit ledger for AI-agent workloads.

Every subcommand has --help. Configuration: --config FILE (TOML), AUDITLEDGER_* environment variables,
and, when the local stack is up, its state under --home (default ./.stack).
Exit codes: 0 success; 1 the check or operation found a failure (verify: ledger not intact);
2 usage or infrastructure error (a server unreachable, bad configuration).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from auditledger import demo
from auditledger.config import ConfigError, Settings, load_settings
from ledger import access_cli, checkpoint_cli, keys_cli, query_cli, replay_cli, retention_cli, verify_cli
from ledger.prove_cli import add_parsers as add_proof_parsers
from producers import approvals_cli, emit_cli
from stream import deadletter_cli, policy_cli


def _stack_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("stack", help="start, stop or inspect the local Kafka + ClickHouse + stream stack",
                              description="The embedded default deployment on 127.0.0.1: Apache Kafka (KRaft), "
                              "the ledger process (ClickHouse engine + sink) and the stream worker. "
                              "PIDs, logs and data live under --home.")  # fmt: skip
    p.add_argument("action", choices=["up", "down", "status"], help="up: install if needed and start; "
                   "down: stop what up started; status: report")  # fmt: skip
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--workers", type=int, default=1, help="up: how many stream workers share the partitions "
                   "(each its own process, PID file and log; default 1)")  # fmt: skip
    p.set_defaults(run=_run_stack)


def _run_stack(args: argparse.Namespace, settings: Settings) -> int:
    from auditledger.stack.local_stack import LocalStack

    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    stack = LocalStack(settings, log=log)
    if args.action == "up":
        result: Any = stack.up(workers=args.workers)
    elif args.action == "down":
        result = {"stopped": stack.down()}
    else:
        result = stack.status()
    if args.json:
        print(json.dumps(result))
    elif args.action == "down":
        print("stopped: " + (", ".join(result["stopped"]) or "nothing was running"))
    else:
        for name, proc in result.get("processes", {}).items():
            print(f"{name:8s} {'running' if proc['running'] else 'stopped'}  pid {proc['pid']}  log {proc['log']}")
        print(f"kafka_bootstrap {result['kafka_bootstrap']}\nclickhouse_url  {result['clickhouse_url']}")
    return 0 if args.action != "status" or result["running"] else 1


def _ledger_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("ledger", help="run the ledger process (store owner, sink, query interface)",
                              description="serve: the embedded default (chDB store + sink + ClickHouse HTTP "
                              "interface on 127.0.0.1). sink: only the sink, against a ClickHouse server at "
                              "AUDITLEDGER_CLICKHOUSE_URL (production).")  # fmt: skip
    p.add_argument("action", choices=["serve", "sink"])
    p.add_argument("--port", type=int, default=0, help="HTTP port of the ClickHouse query interface (0 = any free)")
    p.add_argument("--ready-file", type=Path, help="write {clickhouse_url, pid} here once serving")
    p.set_defaults(run=_run_ledger)


def _run_ledger(args: argparse.Namespace, settings: Settings) -> int:
    from ledger import server

    if args.action == "sink":
        return server.sink_only(settings)
    return server.serve(settings, args.port, args.ready_file)


def _stream_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("stream", help="run the Faust stream worker (audit.events -> audit.ledger)")
    p.add_argument("action", choices=["run"])
    p.add_argument("--loglevel", default="warn", choices=["crit", "error", "warn", "info", "debug"])
    p.set_defaults(run=_run_stream)


def _run_stream(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from auditledger.config import settings_environment
    from stream.admission_config import check_stream_config

    try:
        check_stream_config(settings)  # a bad policy or a missing key: refuse before joining the group
    except ValueError as exc:
        print(f"stream: refusing to start: {exc}", file=sys.stderr)
        return 2
    os.environ.update(settings_environment(settings))  # the Faust app reads its settings on import
    sys.argv = [sys.argv[0], "worker"]
    from stream.worker import run_worker

    return run_worker(args.loglevel)


def _topics_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("topics", help="create auditledger's Kafka topics (partitions, retention)")
    p.add_argument("action", choices=["create"])
    p.add_argument("--bootstrap", help="Kafka bootstrap servers")
    p.set_defaults(run=_run_topics)


def _run_topics(args: argparse.Namespace, settings: Settings) -> int:
    from auditledger.topics import ensure_topics

    created = ensure_topics(args.bootstrap or settings.kafka_bootstrap, settings)
    print("created: " + (", ".join(created) or "nothing (all exist)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auditledger", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--config", help="TOML settings file (also AUDITLEDGER_CONFIG)")
    parser.add_argument("--home", type=Path, help="local stack folder: PIDs, logs, data (default ./.stack)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _stack_parser(sub)
    emit_cli.add_parser(sub)
    demo.add_parser(sub)
    verify_cli.add_parser(sub)
    query_cli.add_parser(sub)
    replay_cli.add_parser(sub)
    add_proof_parsers(sub)
    checkpoint_cli.add_parser(sub)
    keys_cli.add_parser(sub)
    policy_cli.add_parser(sub)
    deadletter_cli.add_parser(sub)
    approvals_cli.add_parser(sub)
    access_cli.add_parser(sub)
    retention_cli.add_parser(sub)
    _topics_parser(sub)
    _ledger_parser(sub)
    _stream_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, home=args.home)
    except ConfigError as exc:
        print(f"auditledger: configuration: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.run(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"auditledger {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
