"""`auditledger deadletter list|open|replay`: what the stream refused, and getting it back.

A dead letter carries its reason and a masked preview in the clear; the original message is sealed
to the dead-letter recipient key (X25519 + ChaCha20-Poly1305). `list` needs no key. `open` and
`replay` need the private key (--key, default <home>/deadletter/recipient.key in the local stack):
`open` writes the original bytes to a file (created 0600) or prints the decoded event, `replay`
re-publishes originals to audit.events (or --to-topic) after the cause was fixed, e.g. a policy limit.

Positions are PARTITION:OFFSET in audit.deadletter, as `list` shows them.
Exit codes: 0 done; 1 some dead letters could not be opened or re-published; 2 cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from auditledger.config import Settings
from auditledger.kafka_security import client_security
from schemas import SchemaStore
from stream.partition_reader import read_to_end, tail_consumer
from stream.sealed_envelope import RecipientKey, SealError, SealKeyError, seal_context

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR = 0, 1, 2


def _position(text: str) -> tuple[int, int]:
    try:
        partition, offset = text.split(":")
        return int(partition), int(offset)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not PARTITION:OFFSET, e.g. 2:17") from None


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("deadletter", help="list, open (with the recipient key) and replay refused events",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    actions = p.add_subparsers(dest="deadletter_action", required=True, metavar="ACTION")
    show = actions.add_parser("list", help="every dead letter: position, kind, reason, event id (no key needed)")
    show.add_argument("--json", action="store_true", help="one JSON object per line, with the masked preview")
    for name, text in (("open", "decrypt originals (to --out, or the decoded event on stdout)"),
                       ("replay", "re-publish originals to audit.events (or --to-topic)")):  # fmt: skip
        a = actions.add_parser(name, help=text)
        a.add_argument("positions", nargs="*", type=_position, metavar="PARTITION:OFFSET",
                       help="which dead letters (default: all)")  # fmt: skip
        a.add_argument("--key", type=Path, help="dead-letter private key (default: the local stack's)")
        if name == "open":
            a.add_argument("--out", type=Path, help="directory for the original bytes, one file per position (0600)")
        else:
            a.add_argument("--to-topic", help="topic to re-publish to (default: audit.events)")
    p.set_defaults(run=run)


def read_dead_letters(settings: Settings, store: SchemaStore) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(partition, offset, DeadLetter) for everything now in the topic, partition by partition."""
    topic = settings.topics.deadletter
    consumer = tail_consumer(settings.kafka_bootstrap, "auditledger-deadletter-cli")
    try:
        for partition in sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions):
            for offset, value in read_to_end(consumer, topic, partition, 0, timeout_s=60):
                yield partition, offset, store.decode(value, reader="DeadLetter")
    finally:
        consumer.close()


def _summary(partition: int, offset: int, dead: dict[str, Any], with_preview: bool) -> dict[str, Any]:
    row = {"position": f"{partition}:{offset}", "error_kind": dead["error_kind"], "reason": dead["reason"],
           "event_id": dead["event_id"], "tenant": dead["tenant"], "received_at": dead["received_at"].isoformat(),
           "source": f"{dead['source_topic']}/{dead['source_partition']}:{dead['source_offset']}",
           "original_size": dead["original_size"], "sealed_to": dead["sealed_to"]}  # fmt: skip
    if with_preview:
        row["masked_preview"] = dead["masked_preview"]
    return row


def _open(key: RecipientKey, dead: dict[str, Any]) -> bytes:
    context = seal_context(dead["source_topic"], dead["source_partition"], dead["source_offset"])
    return key.open(dead["sealed_original"], context)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.kafka_bootstrap:
        print("deadletter: no Kafka bootstrap: start the stack or set AUDITLEDGER_KAFKA_BOOTSTRAP", file=sys.stderr)
        return EXIT_ERROR
    store = SchemaStore()
    if args.deadletter_action == "list":
        count = 0
        for partition, offset, dead in read_dead_letters(settings, store):
            row = _summary(partition, offset, dead, args.json)
            count += 1
            if args.json:
                print(json.dumps(row, sort_keys=True))
            else:
                print(f"{row['position']:>8}  {row['error_kind']:<14} {row['event_id'] or '-':<36}  {row['reason']}")
        if not args.json:
            print(f"{count} dead letter(s) in {settings.topics.deadletter}")
        return EXIT_OK
    try:
        key = RecipientKey.load(args.key or settings.deadletter_private_key_path)
    except SealKeyError as exc:
        print(f"deadletter: {exc}", file=sys.stderr)
        return EXIT_ERROR
    wanted = set(args.positions)
    failed = done = 0
    producer = None
    if args.deadletter_action == "replay":
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, **client_security(settings),
                             "enable.idempotence": True})  # fmt: skip
    for partition, offset, dead in read_dead_letters(settings, store):
        if wanted and (partition, offset) not in wanted:
            continue
        try:
            original = _open(key, dead)
        except SealError as exc:
            print(f"deadletter: {partition}:{offset}: {exc}", file=sys.stderr)
            failed += 1
            continue
        done += 1
        if producer is not None:
            producer.produce(args.to_topic or settings.topics.events, value=original)
            producer.poll(0)
        elif args.out:
            args.out.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = args.out / f"deadletter-{partition}-{offset}.bin"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(original)
            print(f"{partition}:{offset} -> {path} ({len(original)} bytes)")
        else:
            print(json.dumps({"position": f"{partition}:{offset}", **_original_json(store, original)}, default=str))
    if producer is not None and producer.flush(60):
        print("deadletter: some re-published messages were not confirmed", file=sys.stderr)
        return EXIT_PARTIAL
    if args.deadletter_action == "replay":
        print(f"re-published {done} original(s) to {args.to_topic or settings.topics.events}", file=sys.stderr)
    if wanted and done + failed < len(wanted):
        print(f"deadletter: {len(wanted) - done - failed} position(s) not found", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_PARTIAL if failed else EXIT_OK


def _original_json(store: SchemaStore, original: bytes) -> dict[str, Any]:
    """The original as an event when it decodes, else its bytes in hex (it may not be Avro at all)."""
    try:
        return {"event": store.decode(original, reader="AuditEvent")}
    except Exception:  # any decode failure: show the bytes instead
        return {"hex": original.hex()}
