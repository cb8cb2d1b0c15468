"""`auditledger verify`: check every shard in ClickHouse against the checkpoints the stream signed.

Per shard: contiguous seq, each leaf, each chain link, each analyst column against its entry, and the
root at every signed checkpoint (signature by a trusted key, origin, order), so successive checkpoints
are consistent with each other and with the records. With --witness, also against heads an outside
party kept; with --from-checkpoint, only the records after an earlier trusted export.

Retention: records pruned by the retention policy leave their leaf hashes in ledger_leaves, so the
records that remain still verify against every signed checkpoint. A leaf without its record counts as
pruned only if its tenant's retention (the retention_* settings, as configured for the store) ran out
by now; otherwise the record was deleted and verification fails (`deleted`).

Keys: --keys FILE (the output of `auditledger keys public`); without it, the public half of the local
keyring. The verifier never reads a private key.

Exit codes: 0 every check passed; 1 verification failed (the problems are named, first bad seq
first); 2 the verifier could not run (store unreachable, bad arguments, unusable keys or files).
An unexpected error is never reported as 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditledger.config import Settings
from ledger.checkpoint_checks import PublishedRoot
from ledger.clickhouse_client import StoreUnreachableError, store_client
from ledger.store_verification import Progress, verify_store
from ledger.trusted_keys import KeysFileError, TrustedKey, load_trusted_keys
from ledger.verification import ShardReport
from ledger.witness import CheckpointFileError, load_checkpoints_file, start_points, witnessed_roots

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check the ledger: contiguity, leaves, chain links, columns, signed checkpoints, witnessed heads",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (no progress output)")
    p.add_argument("--shard", type=int, action="append", help="verify only this shard (repeatable)")
    p.add_argument("--keys", type=Path, help="trusted verifier keys, one per line (auditledger keys public)")
    p.add_argument(
        "--witness",
        type=Path,
        action="append",
        help="an earlier `checkpoint export`: the stored leaves must still give its roots (repeatable)",
    )
    p.add_argument(
        "--from-checkpoint", type=Path, help="an earlier, trusted `checkpoint export`: verify only the records after it"
    )
    p.add_argument(
        "--skip-columns",
        action="store_true",
        help="prove the signed entries only; do not check the analyst columns against them (faster)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="verify shards in this many processes (default: the CPU count, at most 4)",
    )
    p.add_argument(
        "--allow-unanchored",
        action="store_true",
        help="report records newer than the last signed checkpoint instead of failing on them",
    )
    p.add_argument(
        "--clickhouse-url", help="ClickHouse HTTP URL (default: the local stack's or AUDITLEDGER_CLICKHOUSE_URL)"
    )  # fmt: skip
    p.set_defaults(run=run)


def trusted_keys(keys_file: Path | None, settings: Settings) -> list[TrustedKey]:
    """The keys in `keys_file`, else the public half of the local keyring (never a private key)."""
    if keys_file:
        keys = load_trusted_keys(keys_file)
    else:
        from ledger.keyring import Keyring

        keys = Keyring.load(settings.signing_keys_dir).trusted_keys()
    if not keys:
        raise KeysFileError("no verifier keys: pass --keys FILE (from `auditledger keys public`)")
    return keys


def report_json(reports: list[ShardReport]) -> dict[str, Any]:
    return {
        "ok": all(r.ok for r in reports),
        "pruned": sum(r.pruned for r in reports),
        "shards": [
            {
                "shard": r.shard,
                "records": r.records,
                "pruned": r.pruned,
                "tree_size": r.tree_size,
                "root_hash": base64.b64encode(r.root_hash).decode(),
                "verified_from_seq": r.start,
                "checkpoints_checked": r.checkpoints_checked,
                "witnessed_heads_checked": r.witnessed_checked,
                "unanchored_records": r.unanchored,
                "problems_omitted": r.problems_omitted,
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
        trusted = trusted_keys(args.keys, settings)
        witnessed: dict[int, list[PublishedRoot]] = {}
        for path in args.witness or []:
            for shard, roots in witnessed_roots(load_checkpoints_file(path), trusted, settings.log_origin).items():
                witnessed.setdefault(shard, []).extend(roots)
        starts = {}
        if args.from_checkpoint:
            starts = start_points(load_checkpoints_file(args.from_checkpoint), trusted, settings.log_origin)
        client = store_client(settings, url)
        reports = verify_store(client, trusted, settings.log_origin, shards=args.shard, witnessed=witnessed,
                               starts=starts, columns=not args.skip_columns, allow_unanchored=args.allow_unanchored,
                               progress=progress, workers=args.workers,
                               connection=(url, settings.clickhouse_database),
                               retention=settings.retention, now=datetime.now(UTC))  # fmt: skip
    except (KeysFileError, CheckpointFileError, StoreUnreachableError) as exc:
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
        return EXIT_OK if summary["ok"] else EXIT_FAILED
    for r in reports:
        state = "ok" if r.ok else f"{len(r.problems) + r.problems_omitted} problem(s)"
        witnessed_note = f", {r.witnessed_checked} witnessed head(s) matched" if r.witnessed_checked else ""
        pruned_note = f" ({r.pruned} more pruned by retention, leaves kept)" if r.pruned else ""
        print(f"shard {r.shard}: {r.records} records{pruned_note} from seq {r.start}, {r.checkpoints_checked} signed "
              f"checkpoint(s) matched{witnessed_note}, {r.unanchored} not yet under a checkpoint: {state}")  # fmt: skip
    for r in reports:
        for p in r.problems:
            print(f"  FAILED {p.diagnostics()}")
        if r.problems_omitted:
            print(f"  ... and {r.problems_omitted} more in shard {r.shard}")
    total = sum(r.records for r in reports)
    verdict = "INTACT" if summary["ok"] else "FAILED"
    pruned = f" ({summary['pruned']} pruned by retention)" if summary["pruned"] else ""
    print(f"{verdict}: {total} records{pruned} in {len(reports)} shard(s) in "
          f"{time.monotonic() - progress.started:.2f}s")  # fmt: skip
    return EXIT_OK if summary["ok"] else EXIT_FAILED
