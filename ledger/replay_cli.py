"""`auditledger replay SESSION_ID`: one session's timeline from the ledger, nested by run; or its masked
events re-published to a sandbox topic, to reproduce an incident away from production.

The timeline lists the session's records in time order (occurred_at, then ledger position shard/seq),
each under the run that started it (parent_run_id), with its graph node, outcome, approval status and
approvers. Values are shown as stored, masked; "[masked: PATH RULE]" marks what masking replaced.

--json prints one JSON object per line, one per record, in that time order:
  index, depth (0 = a root run), parent_event_id (first record of the parent run, or null), event_id,
  shard, seq, occurred_at, sequenced_at, tenant, session_id, run_id, parent_run_id, graph_node,
  actor_subject, identity_status, action_type, action_name, target {kind, name}, outcome {status, error},
  payload {prompt, parameters, tool_arguments, query, response} (masked, as stored),
  masked [{path, rule, action, count}], approval (null, or {status, request_id, rule,
  approvers [{kind, subject, verified, decided_at}], violations}).

--to-topic T rebuilds each record's masked AuditEvent from the exact entry bytes the ledger signed (the
entry holds the masked event; its credential is always null) and produces the events in the same order
to topic T (idempotent producer, acks=all, key = session id so one partition keeps the order), each with
the header auditledger-ledger-position = "SHARD/SEQ". T is created if missing; auditledger's own topics
(settings.topics, e.g. audit.events) are refused.

Examples:
  auditledger replay sess-42
  auditledger replay sess-42 --tenant acme --json > sess-42.jsonl
  auditledger replay sess-42 --to-topic sandbox.incident-17

Exit codes: 0 done; 2 bad arguments, a production topic as target, the session in several tenants without
--tenant, or the store or Kafka unreachable; 3 no such session.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from auditledger.config import Settings
from ledger.clickhouse_client import StoreUnreachableError, store_client
from ledger.ddl import BINARY_COLUMNS
from ledger.session_timeline import (
    TIMELINE_COLUMNS,
    build_tree,
    flatten,
    iso_time,
    timeline_json_lines,
    tree_lines,
)
from schemas import SchemaStore

EXIT_OK, EXIT_ERROR, EXIT_NO_SESSION = 0, 2, 3
POSITION_HEADER = "auditledger-ledger-position"


class ReplayRefused(ValueError):
    """The replay cannot go ahead as asked; the message says why."""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay",
        help="a session's timeline nested by run (--json), or its masked events re-published to a sandbox topic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("session_id", metavar="SESSION_ID", help="the session (correlation.session_id) to replay")
    p.add_argument("--tenant", help="the session's tenant (needed only if the id exists in several tenants)")
    p.add_argument("--json", action="store_true", help="one JSON object per record, in time order (fields above)")
    p.add_argument("--to-topic", metavar="TOPIC",
                   help="re-publish the session's masked events, in order, to this sandbox topic")  # fmt: skip
    p.add_argument("--bootstrap", help="Kafka bootstrap servers for --to-topic (default: the configured ones)")
    p.add_argument("--width", type=int, default=200, help="text view: cut lines near this width (default 200)")
    p.add_argument("--clickhouse-url",
                   help="ClickHouse HTTP URL (default: the local stack's or AUDITLEDGER_CLICKHOUSE_URL)")  # fmt: skip
    p.set_defaults(run=run)


def session_records(client: Any, session_id: str, tenant: str | None, with_entry: bool = False) -> list[dict]:
    """The session's records in time order; raises ReplayRefused if it spans tenants and none was named."""
    columns = [*TIMELINE_COLUMNS, "entry"] if with_entry else list(TIMELINE_COLUMNS)
    where = "session_id = {session:String}" + (" AND tenant = {tenant:String}" if tenant else "")
    result = client.query(
        f"SELECT {', '.join(columns)} FROM ledger_records WHERE {where} ORDER BY occurred_at, shard, seq",
        parameters={"session": session_id, "tenant": tenant or ""},
        settings={"optimize_read_in_order": 0},  # lets the by_session projection serve it (ledger/ddl.py)
        column_formats={"entry": BINARY_COLUMNS["entry"]} if with_entry else None,
    )
    records = [dict(zip(columns, row, strict=True)) for row in result.result_rows]
    tenants = sorted({r["tenant"] for r in records})
    if len(tenants) > 1:
        raise ReplayRefused(f"session id is used in {len(tenants)} tenants ({', '.join(tenants)}): pass --tenant")
    return records


def check_sandbox_topic(topic: str, settings: Settings) -> None:
    production = {getattr(settings.topics, name) for name in vars(settings.topics)}
    if topic in production:
        raise ReplayRefused(f"{topic} is one of auditledger's own topics; replay only to a sandbox topic")
    if not topic.strip():
        raise ReplayRefused("--to-topic: empty topic name")


def sandbox_messages(records: Sequence[Mapping[str, Any]], store: SchemaStore) -> list[tuple[bytes, bytes, list]]:
    """(key, value, headers) per record, in the given order: the masked AuditEvent the entry commits to, encoded
    as on audit.events. The entry's event is re-encoded, never the raw event (which the ledger does not hold)."""
    messages = []
    for record in records:
        entry = store.decode(bytes(record["entry"]), reader="LedgerEntry")
        event = dict(entry["event"])
        event["credential"] = None  # always null in an entry; kept null whatever a future writer puts there
        key = str(event["correlation"]["session_id"]).encode()
        position = f"{entry['shard']}/{entry['seq']}".encode()
        messages.append((key, store.encode("AuditEvent", event), [(POSITION_HEADER, position)]))
    return messages


def publish(bootstrap: str, topic: str, messages: Sequence[tuple[bytes, bytes, list]], timeout_s: float = 60) -> int:
    """Create `topic` if missing (one partition), produce every message in order; returns how many were confirmed."""
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from auditledger.kafka_security import client_security

    admin = AdminClient({"bootstrap.servers": bootstrap, **client_security(), "log_level": 3})
    if topic not in admin.list_topics(timeout=timeout_s).topics:
        future = admin.create_topics([NewTopic(topic, 1, -1)], operation_timeout=timeout_s)[topic]
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    producer = Producer({"bootstrap.servers": bootstrap, **client_security(), "enable.idempotence": True, "acks": "all",
                         "max.in.flight.requests.per.connection": 5, "log_level": 3})  # fmt: skip
    failures: list[str] = []
    confirmed = [0]

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(err.str())
        else:
            confirmed[0] += 1

    for key, value, headers in messages:
        producer.produce(topic, value=value, key=key, headers=headers, on_delivery=report)
        producer.poll(0)
    remaining = producer.flush(timeout_s)
    if failures or remaining:
        raise RuntimeError(f"{len(failures) + remaining} of {len(messages)} events not confirmed"
                           + (f": {failures[0]}" if failures else ""))  # fmt: skip
    return confirmed[0]


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.to_topic is not None:
            check_sandbox_topic(args.to_topic, settings)
        client = store_client(settings, args.clickhouse_url)
        records = session_records(client, args.session_id, args.tenant, with_entry=args.to_topic is not None)
    except ReplayRefused as exc:
        print(f"replay: refused: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except StoreUnreachableError as exc:
        print(f"replay: cannot run: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # the store answered with an error
        print(f"replay: cannot run: {type(exc).__name__}", file=sys.stderr)
        return EXIT_ERROR
    if not records:
        where = f" in tenant {args.tenant}" if args.tenant else ""
        print(f"replay: no session {args.session_id!r}{where} in the ledger", file=sys.stderr)
        return EXIT_NO_SESSION
    if args.to_topic is not None:
        bootstrap = args.bootstrap or settings.kafka_bootstrap
        if not bootstrap:
            print("replay: no Kafka bootstrap servers: pass --bootstrap or start the stack", file=sys.stderr)
            return EXIT_ERROR
        ordered = [e.record for e in flatten(build_tree(records))]
        try:
            sent = publish(bootstrap, args.to_topic, sandbox_messages(ordered, SchemaStore()))
        except Exception as exc:
            print(f"replay: publishing to {args.to_topic} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"replay: {sent} masked events of session {args.session_id} published to {args.to_topic} in order")
        return EXIT_OK
    if args.json:
        sys.stdout.write("".join(line + "\n" for line in timeline_json_lines(records)))
        return EXIT_OK
    first, last = records[0], records[-1]
    print(f"session {args.session_id}  tenant {first['tenant']}  {len(records)} records  "
          f"{iso_time(first['occurred_at'])} .. {iso_time(last['occurred_at'])}")  # fmt: skip
    sys.stdout.write("".join(line + "\n" for line in tree_lines(build_tree(records), args.width)))
    return EXIT_OK
