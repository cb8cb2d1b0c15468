"""Verifier throughput over a generated ledger, beside this machine's raw limits for the same work.

Usage: .venv/bin/python benchmarks/verifier_throughput.py [--records N] [--sample N]
Builds a ledger in memory, no servers: N records (default 1,000,000) over 6 shards, real entries and chain
links, Ed25519-signed checkpoints every 1000 records per shard and at each shard's end. An entry is assembled
from one of a few hundred encoded demo events and its own header fields (Avro binary concatenates the field
encodings); the first records of every shard are re-encoded through ShardChain.append and must give the same
leaves. Rows reach the verifier column-wise in ClickHouse-sized blocks, as in `verify`, with the same seqs'
ledger_leaves rows (nothing pruned) merged in. Prints, in one run,
raw limits (hashlib SHA-256 of 0x00 || entry, CompactFrontier.extend, fastavro decode) beside the integrity
checks (columns=False, as `verify --skip-columns`) over all N records on one core and over 2 processes,
checkpoint signature checks, the column check over a sample, and peak RSS (mostly the in-memory ledger).
Raises if the ledger does not verify completely. Its last line is machine-readable.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import multiprocessing
import os
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro  # noqa: E402

from ledger.checkpoint_checks import PublishedRoot, StoredCheckpoint, published_roots  # noqa: E402
from ledger.entry import ZERO_HASH  # noqa: E402
from ledger.merkle import LEAF_PREFIX, CompactFrontier  # noqa: E402
from ledger.projection import record_row  # noqa: E402
from ledger.signed_note import NoteSigner  # noqa: E402
from ledger.trusted_keys import TrustedKey  # noqa: E402
from ledger.verification import KeptLeaves, ShardVerifier, header_pattern, zigzag_varint  # noqa: E402
from producers.demo_session import demo_events  # noqa: E402
from producers.event_json import event_from_json  # noqa: E402
from schemas import SchemaStore  # noqa: E402
from schemas.single_object import MAGIC  # noqa: E402
from stream.shard_chain import ShardChain  # noqa: E402

SHARDS = 6
CHECKPOINT_EVERY = 1000
BLOCK = 65_409  # ClickHouse's default max_block_size: rows per block of query_column_block_stream
DISTINCT_EVENTS = 512
REFERENCE = 2000  # records per shard also written through ShardChain.append, to prove the assembled bytes
ORIGIN = "bench.auditledger.local/ledger"
TENANT = "bench"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START_US = (datetime(2026, 11, 23, 9, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


@dataclass
class Shard:
    seqs: list[int]
    leaves: list[bytes]
    entries: list[bytes]
    checkpoints: list[StoredCheckpoint]


LEDGER: dict[int, Shard] = {}  # module level so that forked workers inherit it
ROOTS: dict[int, list[PublishedRoot]] = {}


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def show(label: str, value: float, unit: str, note: str = "") -> None:
    print(f"  {label:<56}{value:>11,.0f} {unit:<14}{f'({note})' if note else ''}".rstrip())


def arrival(shard: int, seq: int) -> tuple[int, int]:
    """(global arrival index, sequenced_at in microseconds): events round-robin over shards, 10,000/s."""
    g = seq * SHARDS + shard
    return g, START_US + 100 * g


def entry_body(store: SchemaStore, event: dict[str, Any]) -> bytes:
    """What follows the fixed header in the entry ShardChain.append writes for `event`: the event, identity,
    masking evidence, source topic and approval section, as encoded once by fastavro."""
    _, _, message = ShardChain(shard=0).append(store, event, 0, EPOCH)
    entry = bytes(store.decode(message, reader="LedgerRecord")["entry"])
    header = header_pattern(store.schema("LedgerEntry").fingerprint, 0).match(entry)
    assert header is not None
    return entry[header.end() :]


def build_shard(store: SchemaStore, shard: int, count: int, bodies: list[bytes], signer: NoteSigner) -> Shard:
    """Entries as ShardChain.append writes them (source_offset = seq), the chain state kept in a real ShardChain."""
    chain = ShardChain(shard=shard)
    head = MAGIC + store.schema("LedgerEntry").fingerprint + zigzag_varint(shard)
    sha, prefix, push = hashlib.sha256, LEAF_PREFIX, chain.frontier.append
    leaves: list[bytes] = []
    entries: list[bytes] = []
    checkpoints: list[StoredCheckpoint] = []
    prev = ZERO_HASH
    for seq in range(count):
        g, micros = arrival(shard, seq)
        seq_varint = zigzag_varint(seq)
        entry = head + seq_varint + seq_varint + zigzag_varint(micros) + b"\x40" + prev + bodies[g % len(bodies)]
        prev = sha(prefix + entry).digest()
        push(prev)
        entries.append(entry)
        leaves.append(prev)
        if (seq + 1) % CHECKPOINT_EVERY == 0 or seq + 1 == count:
            chain.last_leaf_hash, chain.last_source_offset = prev, seq
            message = chain.checkpoint(store, ORIGIN, EPOCH + timedelta(microseconds=micros), 0.0, [signer])
            cp = store.decode(message, reader="Checkpoint")
            checkpoints.append(StoredCheckpoint(cp["shard"], cp["tree_size"], bytes(cp["root_hash"]), cp["note"]))
    return Shard(list(range(count)), leaves, entries, checkpoints)


def check_reference(store: SchemaStore, shard: int, data: Shard, events: list[dict[str, Any]]) -> int:
    """The assembled entries are the bytes ShardChain.append encodes through fastavro: same leaves, same chain."""
    chain = ShardChain(shard=shard)
    for seq in range(min(REFERENCE, len(data.seqs))):
        g, micros = arrival(shard, seq)
        _, leaf, _ = chain.append(store, events[g % len(events)], seq, EPOCH + timedelta(microseconds=micros))
        if leaf != data.leaves[seq]:
            raise RuntimeError(f"shard {shard} seq {seq}: assembled entry differs from ShardChain.append's")
    entry = store.decode(data.entries[-1], reader="LedgerEntry")
    if (entry["shard"], entry["seq"], entry["source_offset"]) != (shard, data.seqs[-1], data.seqs[-1]):
        raise RuntimeError(f"shard {shard}: last entry decodes to the wrong header")
    return min(REFERENCE, len(data.seqs))


def blocks(data: Shard, stop: int) -> Iterator[tuple[list[int], list[bytes], list[bytes]]]:
    """Rows [0, stop) column-wise, in blocks of BLOCK rows, as query_column_block_stream yields them."""
    for i in range(0, stop, BLOCK):
        j = min(i + BLOCK, stop)
        yield data.seqs[i:j], data.leaves[i:j], data.entries[i:j]


def verify_shards(which: list[int]) -> list[tuple[int, bool, int, int]]:
    """What verify_store does per shard once its checkpoints are judged; (shard, ok, records, checkpoints)."""
    store = SchemaStore()
    reports = []
    for shard in which:
        verifier = ShardVerifier(shard, ROOTS[shard], store, columns=False)
        for seqs, leaves, entries in blocks(LEDGER[shard], len(LEDGER[shard].seqs)):
            # ledger_leaves' rows for the same seqs (nothing pruned), merged with the records as verify does
            kept = KeptLeaves(seqs, leaves, [TENANT] * len(seqs), seqs)
            verifier.add_block(seqs, leaves, entries, kept=kept)
        r = verifier.finish()
        reports.append((r.shard, r.ok, r.records, r.checkpoints_checked))
    return reports


def require_intact(results: list[tuple[int, bool, int, int]], what: str) -> None:
    """A benchmark over a ledger that does not verify measures nothing."""
    if sorted(s for s, *_ in results) != list(range(SHARDS)):
        raise RuntimeError(f"{what}: shards verified {sorted(s for s, *_ in results)}, want all {SHARDS}")
    for shard, ok, records, checked in results:
        data = LEDGER[shard]
        if not ok or records != len(data.seqs) or checked != len(data.checkpoints):
            raise RuntimeError(f"{what}: shard {shard} ok={ok}, {records}/{len(data.seqs)} records, "
                               f"{checked}/{len(data.checkpoints)} checkpoints")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the ledger (default 1,000,000)")
    parser.add_argument("--sample", type=int, default=50_000, help="records of shard 0 for the column check")
    args = parser.parse_args()
    if args.records < SHARDS:
        parser.error(f"--records must be at least {SHARDS}")
    started = time.perf_counter()
    store = SchemaStore()
    signer = NoteSigner.generate("bench-signer")
    trusted = [TrustedKey(signer.verifier_key)]
    events = [event_from_json(e) for e in demo_events(DISTINCT_EVENTS, sessions=24)]
    bodies = [entry_body(store, e) for e in events]

    t = time.perf_counter()
    for shard in range(SHARDS):
        LEDGER[shard] = build_shard(store, shard, len(range(shard, args.records, SHARDS)), bodies, signer)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    n_ref = sum(check_reference(store, shard, LEDGER[shard], events) for shard in range(SHARDS))
    t_reference = time.perf_counter() - t
    gc.collect()
    gc.freeze()  # the held ledger stands in for rows streamed from ClickHouse: keep it out of the collector's way
    entries = [e for s in range(SHARDS) for e in LEDGER[s].entries]
    leaves = [h for s in range(SHARDS) for h in LEDGER[s].leaves]
    n, n_cp = len(entries), sum(len(d.checkpoints) for d in LEDGER.values())
    entry_bytes = sum(map(len, entries))

    # raw limits
    sha, prefix = hashlib.sha256, LEAF_PREFIX
    t = time.perf_counter()
    for e in entries:
        sha(prefix + e).digest()
    raw_sha = rate(n, time.perf_counter() - t)
    t = time.perf_counter()
    CompactFrontier().extend(leaves)
    raw_frontier = rate(n, time.perf_counter() - t)
    sample = min(args.sample, len(LEDGER[0].seqs))
    schema = store.schema("LedgerEntry").parsed
    t = time.perf_counter()
    for e in LEDGER[0].entries[:sample]:
        fastavro.schemaless_reader(io.BytesIO(e[10:]), schema, None)
    raw_decode = rate(sample, time.perf_counter() - t)

    # checkpoint signatures, then the integrity checks on one core
    t = time.perf_counter()
    for shard in range(SHARDS):
        roots, problems = published_roots(shard, LEDGER[shard].checkpoints, trusted, ORIGIN)
        if problems or len(roots) != len(LEDGER[shard].checkpoints):
            raise RuntimeError(f"shard {shard}: {len(problems)} checkpoint problem(s): {problems[:1]}")
        ROOTS[shard] = roots
    t_sig = time.perf_counter() - t
    t = time.perf_counter()
    reports = verify_shards(list(range(SHARDS)))
    t_verify = time.perf_counter() - t
    require_intact(reports, "one core")
    verifier = rate(n, t_verify)

    # the same integrity checks, shards split over 2 forked processes (wall clock, start to join)
    t = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        parts = pool.map(verify_shards, [list(range(0, SHARDS, 2)), list(range(1, SHARDS, 2))])
    t_parallel = time.perf_counter() - t
    require_intact([r for part in parts for r in part], "2 processes")

    # the column check over a sample of shard 0 (rows derived as the sink writes them, before timing)
    data = LEDGER[0]
    rows = [record_row({"shard": 0, "seq": s, "leaf_hash": data.leaves[s], "entry": data.entries[s]},
                       store.decode(data.entries[s], reader="LedgerEntry")) for s in range(sample)]  # fmt: skip
    t = time.perf_counter()
    checker = ShardVerifier(0, [r for r in ROOTS[0] if r.tree_size <= sample], store, allow_unanchored=True)
    for i, (seqs, leaves, entries) in zip(range(0, sample, BLOCK), blocks(data, sample), strict=True):
        checker.add_block(seqs, leaves, entries, rows[i : i + BLOCK])
    report = checker.finish()
    t_columns = time.perf_counter() - t
    if not report.ok or report.records != sample:
        raise RuntimeError(f"column check: ok={report.ok}, {report.records}/{sample} records: {report.problems[:1]}")
    columns = rate(sample, t_columns)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"ledger: {n:,} records in {SHARDS} shards, ~{entry_bytes / n:.0f} bytes per entry "
          f"({DISTINCT_EVENTS} distinct demo events), {n_cp:,} signed checkpoints (every {CHECKPOINT_EVERY} per "
          f"shard + one at each end); machine: {os.cpu_count()} cores")  # fmt: skip
    print(f"built in {t_build:.1f} s; {n_ref:,} of the entries re-encoded through ShardChain.append"
          f" gave the same leaves ({t_reference:.1f} s); neither is timed below")  # fmt: skip
    print("raw limits, one core, this run:")
    show(f"hashlib sha256(0x00 || entry), {n:,} entries", raw_sha, "records/s")
    show(f"CompactFrontier.extend, {n:,} leaves", raw_frontier, "leaves/s")
    show(f"fastavro decode LedgerEntry, {sample:,} entries", raw_decode, "records/s")
    print("ours:")
    show("verifier integrity checks (columns=False), 1 core", verifier, "records/s",
         f"{verifier / raw_sha:.2f} x hashlib; {n:,} records in {t_verify:.2f} s, blocks of {BLOCK:,}")  # fmt: skip
    show("same, shards split over 2 processes (fork)", rate(n, t_parallel), "records/s",
         f"wall clock incl. process start, {t_parallel:.2f} s")  # fmt: skip
    show("checkpoint signatures (published_roots)", rate(n_cp, t_sig), "checkpoints/s", f"{n_cp:,} in {t_sig:.2f} s")
    show("signatures + integrity checks, 1 core", rate(n, t_sig + t_verify), "records/s")
    show(f"with the column check (columns=True), {sample:,} records", columns, "records/s",
         f"{columns / raw_decode:.2f} x fastavro decode; shard 0, seq 0..{sample - 1}")  # fmt: skip
    print(f"peak RSS {peak_mb:,.0f} MB (the in-memory ledger: {entry_bytes / 2**20:,.0f} MB of entry bytes); "
          f"run {time.perf_counter() - started:.1f} s")  # fmt: skip
    print(f"verifier_records_per_s: {verifier:.0f} hashlib_records_per_s: {raw_sha:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
