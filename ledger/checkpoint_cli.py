"""`auditledger checkpoint export`: hand the latest signed checkpoint of every shard to an outside party.

Whoever keeps the file (or consumes the topic) can later run `auditledger verify --witness FILE`: if the
ledger's history before those heads was rewritten, even by someone holding the signing key, the stored
leaves no longer give the witnessed roots. The same file is what `verify --from-checkpoint` resumes from.

Exit codes: 0 exported; 1 a checkpoint to export does not verify (signature or frontier); 2 the store,
Kafka or the output could not be reached or written.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditledger.config import Settings
from ledger.clickhouse_client import StoreUnreachableError, store_client
from ledger.trusted_keys import KeysFileError
from ledger.verify_cli import trusted_keys
from ledger.witness import CheckpointFileError, ExportedCheckpoint, export_document, start_points
from schemas import SchemaStore

LATEST_SQL = (
    "SELECT shard, note, checkpoint FROM ledger_checkpoints "
    "ORDER BY shard, tree_size DESC, created_at DESC LIMIT 1 BY shard"
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("checkpoint", help="export the latest signed checkpoints for an outside witness",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("action", choices=["export"])
    p.add_argument("--out", type=Path, help="write the export here (default: stdout)")
    p.add_argument("--topic", help="also publish each shard's checkpoint as JSON to this Kafka topic (key = shard)")
    p.add_argument("--keys", type=Path, help="verifier keys to check the export with (default: the local keyring)")
    p.add_argument("--clickhouse-url", help="ClickHouse HTTP URL (default: the local stack's)")
    p.set_defaults(run=run)


def latest_checkpoints(client: Any) -> list[ExportedCheckpoint]:
    store = SchemaStore()
    items = []
    for shard, note, message in client.query(LATEST_SQL, column_formats={"checkpoint": "bytes"}).result_rows:
        checkpoint = store.decode(bytes(message), reader="Checkpoint")
        items.append(ExportedCheckpoint(int(shard), str(note), tuple(bytes(h) for h in checkpoint["frontier"]),
                                        bytes(checkpoint["last_leaf_hash"])))  # fmt: skip
    return items


def publish(bootstrap: str, topic: str, items: list[ExportedCheckpoint], exported_at: str) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from auditledger.kafka_security import client_security

    admin = AdminClient({"bootstrap.servers": bootstrap, **client_security()})
    if topic not in admin.list_topics(timeout=10).topics:
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, **client_security(), "enable.idempotence": True,
                         "acks": "all"})  # fmt: skip
    for item in items:
        value = json.dumps({**item.as_dict(), "exported_at": exported_at}, sort_keys=True)
        producer.produce(topic, key=str(item.shard).encode(), value=value.encode())
    if producer.flush(30):
        raise RuntimeError(f"{topic}: not every checkpoint was acknowledged within 30 s")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        client = store_client(settings, args.clickhouse_url)
        items = latest_checkpoints(client)
        start_points(items, trusted_keys(args.keys, settings), settings.log_origin)
    except (StoreUnreachableError, KeysFileError) as exc:
        print(f"checkpoint export: cannot run: {exc}", file=sys.stderr)
        return 2
    except CheckpointFileError as exc:
        print(f"checkpoint export: refusing to export a checkpoint that does not verify: {exc}", file=sys.stderr)
        return 1
    document = export_document(settings.log_origin, items, datetime.now(UTC))
    text = json.dumps(document, indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"exported {len(items)} shard checkpoint(s) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if args.topic:
        publish(settings.kafka_bootstrap, args.topic, items, document["exported_at"])
        print(f"published {len(items)} shard checkpoint(s) to {args.topic}", file=sys.stderr)
    return 0
