"""`auditledger emit`: publish audit events given as JSON lines (a file, or standard input).

Every line is one event in the JSON form of AuditEvent (see README, "Event format"). A line that is
not valid JSON or not a valid event is reported with its line number and not sent; the rest are.
Exit codes: 0 all sent and confirmed; 1 some lines rejected or not confirmed; 2 cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from auditledger.config import Settings
from producers.emitter import AuditEmitter, DeliveryError
from producers.event_json import EventFormatError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("emit", help="publish audit events from JSON lines", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("file", nargs="?", default="-", help="JSON-lines file; '-' or absent reads standard input")
    p.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: the local stack's or AUDITLEDGER_KAFKA_BOOTSTRAP)"
    )
    p.add_argument("--topic", help="topic to publish to (default: audit.events)")
    p.add_argument("--token-file", type=Path, metavar="FILE",
                   help="attach the OIDC ID token in FILE to every event without a credential of its own "
                   "(also AUDITLEDGER_ID_TOKEN_FILE); the stream verifies it and records only its claims")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    if not bootstrap:
        print("emit: no Kafka bootstrap: start the stack or pass --bootstrap", file=sys.stderr)
        return 2
    token_file = args.token_file or (Path(os.environ["AUDITLEDGER_ID_TOKEN_FILE"])
                                     if os.environ.get("AUDITLEDGER_ID_TOKEN_FILE") else None)  # fmt: skip
    try:
        token = token_file.read_text(encoding="ascii").strip() if token_file else None
    except (OSError, UnicodeDecodeError) as exc:
        print(f"emit: cannot read the token file {token_file}: {getattr(exc, 'strerror', None) or 'not ASCII'}",
              file=sys.stderr)  # fmt: skip
        return 2
    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    rejected = 0
    sent = 0
    emitter = AuditEmitter(bootstrap, topic=args.topic or settings.topics.events,
                           id_token=(lambda: token) if token else None)  # fmt: skip
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                emitter.emit(json.loads(line))
                sent += 1
            except (ValueError, EventFormatError) as exc:
                rejected += 1
                print(f"emit: line {number}: {exc}", file=sys.stderr)
    try:
        delivered = emitter.flush()
    except DeliveryError as exc:
        print(f"emit: {exc}", file=sys.stderr)
        return 1
    summary = {"sent": len(delivered), "rejected_lines": rejected,
               "partitions": sorted({d.partition for d in delivered})}  # fmt: skip
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"emitted {summary['sent']} event(s) to {len(summary['partitions'])} partition(s); "
              f"{rejected} line(s) rejected")  # fmt: skip
    return 1 if rejected else 0
