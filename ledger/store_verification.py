"""Verifying the ledger as stored in ClickHouse: one ShardVerifier per shard, fed block by block.

Shards are independent logs, so with workers > 1 they are verified in separate processes, each with its
own connection and its own stream of rows; a shared counter drives the progress line.
"""

from __future__ import annotations

import base64
import bisect
import multiprocessing
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.anomalies import stored_anomalies
from ledger.checkpoint_checks import PublishedRoot, StoredCheckpoint, published_roots
from ledger.clickhouse_client import connect
from ledger.ddl import BINARY_COLUMNS, RECORD_COLUMNS
from ledger.retention import RetentionPolicy
from ledger.trusted_keys import TrustedKey
from ledger.verification import KeptLeaves, ShardReport, ShardStart, ShardVerifier
from schemas import SchemaStore

PARALLEL_FROM_RECORDS = 200_000  # below this, starting worker processes costs more than it saves


class Progress:
    """A progress bar on stderr when it is a terminal and output is for people; silent otherwise."""

    def __init__(self, enabled: bool, total: int = 0) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.total = total
        self.started = time.monotonic()
        self.done = 0
        self._last = 0.0

    def tick(self, shard: int, count: int) -> None:
        self.show(self.done + count, f"shard {shard}")

    def show(self, done: int, where: str = "") -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self._last > 0.2:
            rate = self.done / max(now - self.started, 1e-9)
            filled = int(30 * self.done / self.total) if self.total else 0
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {100 * self.done / max(self.total, 1):3.0f}% "
            sys.stderr.write(f"\r{bar}{self.done:,}/{self.total:,} records ({rate:,.0f}/s) {where}")
            sys.stderr.flush()
            self._last = now

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


@dataclass(frozen=True)
class ShardJob:
    shard: int
    roots: list[PublishedRoot]
    problems: list[Any]
    start: ShardStart = field(default_factory=ShardStart)
    retention: RetentionPolicy | None = None
    now: datetime | None = None


def stored_checkpoints(client: Any) -> dict[int, list[StoredCheckpoint]]:
    result = client.query(
        "SELECT shard, tree_size, root_hash, note FROM ledger_checkpoints", column_formats={"root_hash": "bytes"}
    )
    stored: dict[int, list[StoredCheckpoint]] = {}
    for shard, size, root, note in result.result_rows:
        stored.setdefault(int(shard), []).append(StoredCheckpoint(int(shard), int(size), bytes(root), str(note)))
    return stored


LEAVES_QUERY = ("SELECT seq, leaf_hash, tenant, toUnixTimestamp64Micro(sequenced_at) FROM ledger_leaves "
                "WHERE shard = {shard:UInt32} AND seq >= {start:UInt64} ORDER BY seq, leaf_hash")  # fmt: skip


class KeptLeafBuffer:
    """ledger_leaves rows read ahead of the records: `upto(seq)` hands out those with seq <= `seq`, so each
    records block comes with the kept leaves of its seqs; `rest()` the ones after the last record."""

    def __init__(self, blocks: Iterable[Any]) -> None:
        self._blocks: Iterator[Any] = iter(blocks)
        self._columns: list[list[Any]] = [[], [], [], []]
        self._done = False

    def upto(self, seq: int) -> KeptLeaves:
        while not self._done and (not self._columns[0] or self._columns[0][-1] <= seq):
            block = next(self._blocks, None)
            if block is None:
                self._done = True
            else:
                for held, column in zip(self._columns, block, strict=True):
                    held.extend(column)
        cut = bisect.bisect_right(self._columns[0], seq)
        taken = KeptLeaves(*(c[:cut] for c in self._columns))
        self._columns = [c[cut:] for c in self._columns]
        return taken

    def rest(self) -> Iterator[KeptLeaves]:
        if self._columns[0]:
            yield KeptLeaves(*self._columns)
        self._columns = [[], [], [], []]
        for block in self._blocks:
            yield KeptLeaves(*(list(c) for c in block))


def verify_stored_shard(
    client: Any, job: ShardJob, columns: bool, allow_unanchored: bool, tick: Callable[[int, int], None]
) -> ShardReport:
    """One ordered scan of ledger_records and one of ledger_leaves, merged by seq in the verifier."""
    names = RECORD_COLUMNS if columns else ("seq", "leaf_hash", "entry")
    seq_at, leaf_at, entry_at = (names.index(n) for n in ("seq", "leaf_hash", "entry"))
    verifier = ShardVerifier(job.shard, job.roots, SchemaStore(), start=job.start, columns=columns,
                             allow_unanchored=allow_unanchored, retention=job.retention, now=job.now)  # fmt: skip
    query = (f"SELECT {', '.join(names)} FROM ledger_records WHERE shard = {{shard:UInt32}} "
             f"AND seq >= {{start:UInt64}} ORDER BY seq, leaf_hash")  # fmt: skip
    parameters = {"shard": job.shard, "start": job.start.tree_size}
    # the leaves in a session of their own: a server refuses a second query in a session that is still streaming
    leaves_session = {"session_id": f"verify-leaves-{uuid.uuid4()}"}
    with client.query_column_block_stream(query, parameters=parameters, column_formats=BINARY_COLUMNS) as blocks, \
            client.query_column_block_stream(LEAVES_QUERY, parameters=parameters, column_formats=BINARY_COLUMNS,
                                             settings=leaves_session) as leaves:  # fmt: skip
        kept = KeptLeafBuffer(leaves)
        for block in blocks:
            rows = list(zip(*block, strict=True)) if columns else None
            seqs = block[seq_at]
            verifier.add_block(seqs, block[leaf_at], block[entry_at], rows, kept.upto(seqs[-1]) if seqs else None)
            tick(job.shard, len(seqs))
        for rest in kept.rest():
            verifier.add_block([], [], [], None, rest)
    report = verifier.finish()
    report.problems[:0] = job.problems
    return report


_worker_counter: Any = None


def _init_worker(counter: Any) -> None:
    global _worker_counter
    _worker_counter = counter


def _verify_in_worker(
    url: str, database: str, credentials: tuple[str, str], job: ShardJob, columns: bool, allow_unanchored: bool
) -> ShardReport:
    def tick(shard: int, count: int) -> None:
        with _worker_counter.get_lock():
            _worker_counter.value += count

    client = connect(url, database, *credentials)
    return verify_stored_shard(client, job, columns, allow_unanchored, tick)


def client_credentials(client: Any) -> tuple[str, str]:
    """The user and password `client` sends (HTTP Basic), so worker processes connect as the caller did.
    They travel to the workers through the pool's pipe, never on a command line."""
    header = str(getattr(client, "headers", {}).get("Authorization", ""))
    if not header.startswith("Basic "):
        return "", ""
    user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    return user, password


def verify_store(
    client: Any,
    trusted: list[TrustedKey],
    log_origin: str,
    *,
    shards: list[int] | None = None,
    witnessed: dict[int, list[PublishedRoot]] | None = None,
    starts: dict[int, ShardStart] | None = None,
    columns: bool = True,
    allow_unanchored: bool = False,
    progress: Progress | None = None,
    workers: int = 1,
    connection: tuple[str, str] | None = None,
    retention: RetentionPolicy | None = None,
    now: datetime | None = None,
) -> list[ShardReport]:
    """Verify every wanted shard; `connection` (url, database) lets worker processes open their own client.
    `retention` at `now` decides whether a kept leaf without its record was pruned or deleted."""
    witnessed, starts = witnessed or {}, starts or {}
    checkpoints = stored_checkpoints(client)
    counts = {int(s): int(n) for s, n in client.query("SELECT shard, count() FROM ledger_records GROUP BY shard")
              .result_rows}  # fmt: skip
    kept = {int(s) for (s,) in client.query("SELECT DISTINCT shard FROM ledger_leaves").result_rows}
    anomalies = stored_anomalies(client)  # records replayed or misrouted on audit.ledger, as the sink kept them
    present = set(counts) | kept | set(checkpoints) | set(witnessed) | set(anomalies)
    wanted = [s for s in sorted(present) if shards is None or s in shards]
    progress = progress or Progress(enabled=False)
    progress.total = sum(counts.get(s, 0) for s in wanted)
    jobs = []
    for shard in wanted:
        roots, problems = published_roots(shard, checkpoints.get(shard, []), trusted, log_origin)
        problems = [*problems, *anomalies.get(shard, [])]
        jobs.append(ShardJob(shard, [*roots, *witnessed.get(shard, [])], problems, starts.get(shard, ShardStart()),
                             retention, now))  # fmt: skip
    if workers <= 1 or len(jobs) <= 1 or connection is None or progress.total < PARALLEL_FROM_RECORDS:
        return [verify_stored_shard(client, job, columns, allow_unanchored, progress.tick) for job in jobs]
    counter = multiprocessing.get_context("spawn").Value("q", 0)
    with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), _init_worker, (counter,)) as pool:
        worker_args = (*connection, client_credentials(client))
        pending = [pool.apply_async(_verify_in_worker, (*worker_args, job, columns, allow_unanchored)) for job in jobs]
        while not all(p.ready() for p in pending):
            progress.show(counter.value)
            time.sleep(0.1)
        reports = [p.get() for p in pending]
    progress.show(counter.value)
    return reports
