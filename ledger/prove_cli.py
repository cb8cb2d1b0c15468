"""`auditledger prove` and `auditledger verify-proof`: an inclusion proof made from the store, checked offline.

Exit codes of both: 0 done (bundle written / proven); 1 no proof (a check failed, or the store cannot back one
yet); 2 usage or infrastructure error (store unreachable, event not found, unreadable file, bad key text).
An unexpected error is never reported as 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditledger.config import Settings
from ledger.merkle import inclusion_proof, root_of
from ledger.proof_bundle import (
    VerifiedInclusion,
    build_bundle,
    bundle_text,
    check_bundle,
    parse_checkpoint,
    verify_bundle,
)
from ledger.proof_errors import CHECK_DETAILS, CHECKS, ProofError
from ledger.signed_note import MalformedNoteError
from ledger.trusted_keys import KeysFileError, TrustedKey, format_time, load_trusted_keys
from schemas import SchemaStore

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

WHAT_IT_PROVES = """\
A proof bundle is one JSON file holding an event's ledger record (the exact hashed bytes and a readable
view), its leaf hash, the RFC 9162 audit path and the shard's signed checkpoint (tree head). It proves that
this record, unaltered, is leaf <leaf index> of the shard's Merkle tree whose root a key you trust signed at
the checkpoint's time. It does not prove that nothing was omitted or altered elsewhere in the ledger, that
the log shows everyone the same tree, or that the event itself told the truth: run `auditledger verify` over
the whole store for completeness, and compare checkpoints for consistency."""

PROVE_HELP = f"""\
Find EVENT_ID in ClickHouse and build its inclusion proof under the newest checkpoint of its shard that covers
it. The proof is checked against the checkpoint's root before it is printed; a proof that does not check is
never handed out.

{WHAT_IT_PROVES}

Exit codes: 0 bundle produced; 1 no proof can be given (the event is stored more than once, not yet anchored
by a checkpoint, or the stored shard does not reproduce the checkpoint's root); 2 the store is unreachable,
the event is not found, or EVENT_ID is not a UUID."""

_CHECKLIST = "".join(f"  ({n}) {CHECKS[n]}: {detail}\n" for n, detail in CHECK_DETAILS.items())

VERIFY_HELP = f"""\
Check a proof bundle offline (no Kafka, no ClickHouse) against verifier keys you trust, as printed by
`auditledger keys public`. The checks, in order:
{_CHECKLIST}
{WHAT_IT_PROVES}

Exit codes: 0 proven; 1 a check failed (the check and its kind are named); 2 the bundle file or the key text
cannot be read, or no trusted key was given."""


def add_parsers(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "prove",
        help="build one event's inclusion proof bundle from the store",
        description=PROVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("event_id", metavar="EVENT_ID", help="the event's UUID")
    p.add_argument("--json", action="store_true", help="print the canonical bundle on stdout")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the bundle to FILE")
    p.add_argument(
        "--clickhouse-url", help="ClickHouse HTTP URL (default: the local stack's or AUDITLEDGER_CLICKHOUSE_URL)"
    )
    p.set_defaults(run=run_prove)

    v = subparsers.add_parser(
        "verify-proof",
        help="check a proof bundle offline against trusted verifier keys",
        description=VERIFY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("bundle", metavar="BUNDLE", help="the bundle file ('-' reads stdin)")
    v.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="VKEY",
        help="a trusted verifier key <name>+<hex id>+<base64 key> [revoked-at=<time>] (repeatable)",
    )
    v.add_argument("--keys", type=Path, metavar="FILE", help="a file of trusted verifier keys, one per line")
    v.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    v.set_defaults(run=run_verify_proof)


# --- prove ------------------------------------------------------------------------------------------------


class NoProof(Exception):
    """Why `prove` gives no bundle, with the exit code that reason maps to."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class StoredRecord:
    shard: int
    seq: int
    leaf_hash: bytes
    entry: bytes


def find_record(client: Any, event_id: str) -> StoredRecord:
    result = client.query(
        "SELECT shard, seq, leaf_hash, entry FROM ledger_records WHERE event_id = {id:UUID} ORDER BY shard, seq",
        parameters={"id": event_id},
        column_formats={"leaf_hash": "bytes", "entry": "bytes"},
    )
    rows = [StoredRecord(int(s), int(q), bytes(h), bytes(e)) for s, q, h, e in result.result_rows]
    if not rows:
        raise NoProof(
            f"event {event_id} is not in ledger_records (not emitted, dead-lettered, or not stored yet)", EXIT_ERROR
        )
    if len(rows) > 1:
        where = ", ".join(f"shard {r.shard} seq {r.seq}" for r in rows)
        raise NoProof(
            f"event {event_id} is stored {len(rows)} times ({where}): which one is meant cannot be "
            "proven; run `auditledger verify`"
        )
    return rows[0]


def covering_checkpoint(client: Any, shard: int, seq: int) -> tuple[int, str]:
    """The newest checkpoint of `shard` whose tree includes leaf `seq`: (tree_size, note text)."""
    result = client.query(
        "SELECT tree_size, note FROM ledger_checkpoints WHERE shard = {shard:UInt32} AND tree_size > {seq:UInt64} "
        "ORDER BY tree_size DESC, created_at DESC LIMIT 1",
        parameters={"shard": shard, "seq": seq},
    )
    if not result.result_rows:
        raise NoProof(f"shard {shard} seq {seq} is not yet anchored by a checkpoint; retry in a few seconds")
    size, note = result.result_rows[0]
    return int(size), str(note)


def shard_leaves(client: Any, shard: int, tree_size: int) -> list[bytes]:
    """Leaf hashes of seq 0..tree_size-1 from ledger_leaves, which keeps them after retention prunes the records,
    so a remaining record stays provable; refuses anything but exactly one leaf per seq (identical copies are one)."""
    result = client.query(
        "SELECT DISTINCT seq, leaf_hash FROM ledger_leaves WHERE shard = {shard:UInt32} AND seq < {size:UInt64} "
        "ORDER BY seq",
        parameters={"shard": shard, "size": tree_size},
        column_formats={"leaf_hash": "bytes"},
    )
    leaves = []
    for want, (seq, leaf) in enumerate(result.result_rows):
        if int(seq) != want:
            problem = "stored twice" if int(seq) < want else "missing"
            shown = want - 1 if int(seq) < want else want
            raise NoProof(
                f"shard {shard} seq {shown} is {problem} below the checkpoint's size {tree_size}; "
                "run `auditledger verify`"
            )
        leaves.append(bytes(leaf))
    if len(leaves) != tree_size:
        raise NoProof(
            f"shard {shard} holds {len(leaves)} leaves below the checkpoint's size {tree_size}; "
            "run `auditledger verify`"
        )
    return leaves


def prove_event(client: Any, event_id: str, store: SchemaStore) -> str:
    """The canonical bundle text for one event, after checking it the way verify-proof will (but for trust)."""
    record = find_record(client, event_id)
    tree_size, note = covering_checkpoint(client, record.shard, record.seq)
    try:
        _, head = parse_checkpoint(note)
    except ProofError as exc:
        raise NoProof(
            f"the checkpoint of shard {record.shard} at size {tree_size} is not a signed tree head: {exc}"
        ) from exc
    leaves = shard_leaves(client, record.shard, tree_size)
    if root_of(leaves) != head.root_hash:
        raise NoProof(
            f"shard {record.shard}'s stored leaves do not reproduce the checkpoint's root at size "
            f"{tree_size}; run `auditledger verify`"
        )
    bundle = build_bundle(
        event_id=event_id,
        shard=record.shard,
        leaf_index=record.seq,
        tree_size=tree_size,
        leaf_hash=record.leaf_hash,
        inclusion_proof=inclusion_proof(leaves, record.seq, tree_size),
        checkpoint_note=note,
        entry=record.entry,
        store=store,
    )
    text = bundle_text(bundle)
    try:
        check_bundle(text, store)
    except ProofError as exc:
        raise NoProof(f"refusing to hand out a proof that does not check:\n{exc.diagnostics()}") from exc
    return text


def run_prove(args: argparse.Namespace, settings: Settings) -> int:
    try:
        event_id = str(uuid.UUID(args.event_id))
    except ValueError:
        print(f"prove: EVENT_ID {args.event_id!r} is not a UUID", file=sys.stderr)
        return EXIT_ERROR
    from ledger.clickhouse_client import StoreUnreachableError, store_client  # only prove talks to the store

    try:
        client = store_client(settings, args.clickhouse_url)
        text = prove_event(client, event_id, SchemaStore())
    except NoProof as exc:
        print(f"prove: {exc}", file=sys.stderr)
        return exc.exit_code
    except StoreUnreachableError as exc:
        print(f"prove: cannot run: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.out:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"prove: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return EXIT_ERROR
    if args.json:
        sys.stdout.write(text)
    else:
        print(_summary(text, args))
    return EXIT_OK


def _summary(text: str, args: argparse.Namespace) -> str:
    bundle = json.loads(text)
    note, head = parse_checkpoint(bundle["checkpoint"])
    signers = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
    lines = [
        f"event {bundle['event_id']}",
        f"  shard {bundle['shard']}, leaf index {bundle['leaf_index']} of tree size {bundle['tree_size']}",
        f"  checkpoint {head.origin} at {format_time(head.signed_at)}, signature lines by {signers}",
    ]
    if args.out:
        lines.append(f"bundle written to {args.out}; check it offline: auditledger verify-proof {args.out} --keys FILE")
    else:
        lines.append(
            f"get the bundle: auditledger prove {bundle['event_id']} --out proof.json (or --json); "
            "check it offline: auditledger verify-proof proof.json --keys FILE"
        )
    return "\n".join(lines)


# --- verify-proof -----------------------------------------------------------------------------------------


def trusted_keys(args: argparse.Namespace) -> list[TrustedKey]:
    """The keys from --key and --keys; raises KeysFileError on text that is not a verifier key."""
    keys = load_trusted_keys(args.keys) if args.keys else []
    for number, text in enumerate(args.key, 1):
        try:
            keys.append(TrustedKey.parse(text))
        except (KeysFileError, MalformedNoteError, ValueError) as exc:
            raise KeysFileError(f"--key #{number}: {exc}") from exc
    return keys


def verdict_json(proven: VerifiedInclusion | None, problem: ProofError | None) -> dict[str, Any]:
    """The --json shape; the fields are null unless proven, so nothing unproven reads as a fact."""
    return {
        "ok": proven is not None,
        "event_id": proven.event_id if proven else None,
        "shard": proven.shard if proven else None,
        "leaf_index": proven.leaf_index if proven else None,
        "tree_size": proven.tree_size if proven else None,
        "checkpoint_time": format_time(proven.checkpoint_time) if proven else None,
        "signed_by": list(proven.signed_by) if proven else [],
        "problem": problem.as_dict() if problem else None,
    }


def run_verify_proof(args: argparse.Namespace, settings: Settings) -> int:
    try:
        trusted = trusted_keys(args)
    except KeysFileError as exc:
        print(f"verify-proof: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not trusted:
        print(
            "verify-proof: no trusted key: give --key VKEY or --keys FILE (`auditledger keys public` prints them)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    try:
        data = sys.stdin.buffer.read() if args.bundle == "-" else Path(args.bundle).read_bytes()
    except OSError as exc:
        print(f"verify-proof: cannot read {args.bundle}: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    try:
        proven, problem = verify_bundle(data, trusted, SchemaStore()), None
    except ProofError as exc:
        proven, problem = None, exc
    if args.json:
        print(json.dumps(verdict_json(proven, problem)))
    elif proven is not None:
        event = proven.record.get("event", {})
        print(
            f"PROVEN: event {proven.event_id} is leaf {proven.leaf_index} of shard {proven.shard} "
            f"(tree size {proven.tree_size})\n"
            f"  checkpoint {proven.origin} at {format_time(proven.checkpoint_time)}, "
            f"signed by {', '.join(proven.signed_by)}\n"
            f"  record: {event.get('action', {}).get('type')} by {event.get('actor', {}).get('subject')} "
            f"at {event.get('occurred_at')}\n"
            "  This shows inclusion under that signed tree head, not that nothing was omitted elsewhere."
        )
    elif problem is not None:
        print(f"FAILED: {problem.diagnostics()}")
    return EXIT_OK if proven is not None else EXIT_FAILED
