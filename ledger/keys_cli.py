"""`auditledger keys`: manage the keys the stream signs checkpoints with.

Rotation makes a new key the active signer at once; the previous key keeps signing alongside it for a
grace window (--grace, default 24h), so workers and verifiers that have not yet picked up the new key
keep working. Revocation declares a key untrusted from a time on (--at, default now): verifiers reject
its signatures made at or after that time, and a key in its grace window stops signing. The active key
cannot be revoked: rotate first.

`keys public` prints the verifier keys (with revocation times) that `auditledger verify --keys FILE` reads.
Exit codes: 0 success; 2 the keyring refused (the message says why) or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from auditledger.config import Settings
from ledger.keyring import KeyRecord, Keyring, KeyringError
from ledger.trusted_keys import format_time, parse_time

EXIT_OK, EXIT_ERROR = 0, 2
DURATION = re.compile(r"(\d+)([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """90s, 15m, 24h, 7d."""
    match = DURATION.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: want a number and s, m, h or d (e.g. 24h)")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def _time_argument(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "keys",
        help="generate, rotate, revoke and publish the checkpoint-signing keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    gen = actions.add_parser("generate", help="create the first signing key (refused when a key is active)")
    gen.add_argument("--name", help="key name in signatures (default: the log origin setting)")
    show = actions.add_parser("list", help="every key with its state now")
    show.add_argument("--json", action="store_true", help="one JSON array on stdout")
    rot = actions.add_parser("rotate", help="new active key; the old one also signs for the grace window")
    rot.add_argument("--grace", type=parse_duration, default=timedelta(hours=24), metavar="DURATION",
                     help="how long the old key keeps signing: 90s, 15m, 24h, 7d (default 24h)")  # fmt: skip
    rev = actions.add_parser("revoke", help="distrust a key from a time on (rotate first if it is active)")
    rev.add_argument("key_id", metavar="KEY_ID", help="hex key id, as `keys list` shows it")
    rev.add_argument(
        "--at", type=_time_argument, metavar="TIME", help="RFC 3339 UTC time, e.g. 2026-11-23T10:00:00Z (default: now)"
    )
    actions.add_parser("public", help="the verifier keys, one per line, for auditledger verify --keys")
    p.set_defaults(run=run)


def _record_json(keyring: Keyring, record: KeyRecord, now: datetime) -> dict[str, Any]:
    return {"state": keyring.state_at(record, now), **record.to_json()}


def _print_table(keyring: Keyring, now: datetime) -> None:
    if not keyring.records:
        print(f"no keys in {keyring.directory}: run auditledger keys generate")
        return
    columns = ("key_id", "name", "state", "created_at", "activated_at", "signs_until", "revoked_at")
    rows = [[str(row[c] or "-") for c in columns] for row in (_record_json(keyring, r, now) for r in keyring.records)]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    for row in [list(columns), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def run(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)  # the only clock read; the library is given times
    directory = settings.signing_keys_dir
    try:
        keyring = Keyring.load(directory)
        if args.keys_action == "generate":
            record = keyring.generate(args.name or settings.log_origin, now)
            print(f"generated key {record.key_id} ({record.name}), active from {format_time(now)}, in {directory}")
            print(record.verifier_key)
        elif args.keys_action == "rotate":
            old = keyring.active_at(now)
            record = keyring.rotate(now, args.grace)
            print(f"rotated: key {record.key_id} is active from {format_time(now)}")
            if old is not None:
                print(f"previous key {old.key_id} signs until {format_time(now + args.grace)}")
            print(record.verifier_key)
        elif args.keys_action == "revoke":
            at = args.at or now
            record = keyring.revoke(args.key_id, at, now)
            print(f"revoked key {record.key_id}: its signatures made at or after {format_time(at)} are void")
        elif args.keys_action == "list":
            if args.json:
                print(json.dumps([_record_json(keyring, r, now) for r in keyring.records], indent=2))
            else:
                _print_table(keyring, now)
        else:
            keys = keyring.trusted_keys()
            if not keys:
                raise KeyringError(f"no keys in {directory}: run auditledger keys generate")
            for key in keys:
                print(key.line())
    except KeyringError as exc:
        print(f"auditledger keys {args.keys_action}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK
