"""The whole ledger path on the local stack (issue 8): emit -> stream worker -> Kafka -> sink -> queryable.

Usage: .venv/bin/python benchmarks/path_benchmark.py [--home DIR] [--rate 5000] [--seconds 20]
                                                      [--max-events 40000] [--memory-check] [--down]
Starts the local stack under --home (default .stack/bench; reused if it is up) with a policy of its own:
the default masking detectors, one approval rule (tool calls marked `risk: high`, about 1 in 100 of the
events) and checkpoint signing. Emits the masking benchmark's 1 KB agent events (unique event ids per run)
  1. at a fixed offered rate (--rate events/s for --seconds), then
  2. as fast as one emitter goes (--max-events),
and prints sustained events/s end to end (first emit -> last event queryable) and p50/p95/p99 latency from
emit to queryable; per-stage cost in µs/event measured in the same run in process on one core
(benchmarks/path_stages.py) beside this machine's raw limits with ratios; the stream worker's RSS now and at
its peak (/proc/<pid>/status VmRSS, VmHWM). The last line is machine-readable:
  end_to_end_events_per_s: N p99_ms: M      (N: the max-rate run; M: p99 of the fixed-rate run)

How latency is measured: the benchmark keeps event_id -> emit time (monotonic clock, taken as the event is
handed to the producer) and a poller asks the store for the ledger positions (shard, seq) past each shard's
last seen seq, in ledger_leaves (filled by the same INSERT, ordered by position, so a poll reads only new rows).
A query sees only what was inserted before it started, so each record's latency is taken at the start of the
first query that returns it: an upper bound, at most one poll period late (the period is printed). After a run
one query maps positions to event ids. An earlier poller that read ledger_records itself cost the ledger
process about 60 µs of CPU per event at 3,000 events/s: cheap polling matters on two cores.

--memory-check emits --memory-events (default 1,000,000) at max rate and prints the stream worker's RSS when
100k, a quarter, half, three quarters and all of them are stored: memory must stay flat as the log grows.
It takes minutes, so it is `make bench-memory`, not part of `make bench`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from importlib import resources  # noqa: E402

import yaml  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from auditledger.config import Settings, load_settings  # noqa: E402
from auditledger.stack.local_stack import LocalStack  # noqa: E402
from benchmarks.masking_throughput import agent_events  # noqa: E402
from benchmarks.path_stages import stage_costs  # noqa: E402
from ledger.clickhouse_client import store_client  # noqa: E402
from schemas import SchemaStore  # noqa: E402
from stream.ledger_writer import PRODUCER_TUNING  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TENANT = "acme"
SCRATCH_TOPIC = "bench.scratch"
APPROVAL_RULE = {"name": "high-risk-orders", "action_types": ["tool.call"], "risk": ["high"],
                 "approver_groups": ["ops"]}  # fmt: skip
EMITTER_CONFIG = {"enable.idempotence": True, "acks": "all", "partitioner": "murmur2_random", "linger.ms": 5,
                  "compression.type": "lz4", "message.timeout.ms": 120000}  # as producers/emitter.py  # fmt: skip


def bench_policy(home: Path) -> Path:
    """The packaged default policy (every detector on) plus one approval rule, written into the bench home."""
    policy = yaml.safe_load(resources.files("stream.masking").joinpath("default_policy.yaml").read_text("utf-8"))
    policy["approvals"]["rules"] = [APPROVAL_RULE]
    path = home / "bench-policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return path


def event_pool(count: int, store: SchemaStore) -> list[tuple[bytes, bytes, str]]:
    """(key, Avro bytes, event id) of `count` agent events; 1 in 100 is a high-risk call the approval rule covers."""
    pool = []
    for i, datum in enumerate(agent_events(count, seed=8)):
        if i % 100 == 0:
            datum["payload"]["attributes"]["risk"] = "high"
        pool.append((datum["correlation"]["session_id"].encode(), store.encode("AuditEvent", datum),
                     str(datum["event_id"])))  # fmt: skip
    return pool


def fresh(pool: list[tuple[bytes, bytes, str]], i: int) -> tuple[bytes, bytes, str]:
    """Pool event i with a new event id (same length, so the Avro bytes stay valid): every emitted event is unique."""
    key, value, old_id = pool[i % len(pool)]
    new_id = str(uuid.uuid4())
    return key, value.replace(old_id.encode(), new_id.encode(), 1), new_id


def emit(producer: Producer, topic: str, pool: list, count: int, rate: float | None,
         emitted: dict[str, float]) -> float:  # fmt: skip
    """Emit `count` events at `rate` per second (None: as fast as the producer takes them); returns the seconds."""
    start = time.perf_counter()
    for i in range(count):
        if rate is not None:
            ahead = start + i / rate - time.perf_counter()
            if ahead > 0.001:
                time.sleep(ahead)
        key, value, event_id = fresh(pool, i)
        while True:
            try:
                emitted[event_id] = time.perf_counter()
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 500 == 0:
            producer.poll(0)
    left = producer.flush(120)
    if left:
        raise RuntimeError(f"{left} events were not confirmed by the broker")
    return time.perf_counter() - start


@dataclass
class QueryablePoller:
    """Records when each new ledger position first shows up in the store (see the module docstring).

    Polls ledger_leaves, which the same INSERT fills from ledger_records (a materialized view, written after the
    records' own part) and which is ordered by (shard, seq): each poll reads only the new positions. Event ids
    are looked up once per run (`arrivals`), so the poller costs the ledger process little.
    """

    client: Any
    period_s: float = 0.1
    seen: dict[tuple[int, int], float] = field(default_factory=dict)
    high: dict[int, int] = field(default_factory=dict)
    periods: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        rows = self.client.query("SELECT shard, max(seq) FROM ledger_leaves GROUP BY shard").result_rows
        self.high = {int(s): int(h) for s, h in rows}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()  # one HTTP session: the poll thread and `arrivals` must not overlap

    def _poll(self) -> None:
        started = time.perf_counter()
        past = " OR ".join(f"(shard = {s} AND seq > {h})" for s, h in self.high.items())
        known = ", ".join(str(s) for s in self.high) or "4294967295"
        with self._lock:
            rows = self.client.query(
                f"SELECT shard, seq FROM ledger_leaves WHERE {past or '0'} OR shard NOT IN ({known})"
            ).result_rows
        for shard, seq in rows:
            self.seen.setdefault((int(shard), int(seq)), started)
            self.high[int(shard)] = max(self.high.get(int(shard), -1), int(seq))
        self.periods.append(time.perf_counter() - started)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.period_s)

    def start(self) -> QueryablePoller:
        self._thread.start()
        return self

    def wait_for(self, count: int, timeout_s: float) -> None:
        """Until `count` positions have been seen in all (or the timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(self.seen) < count:
            time.sleep(0.2)

    def arrivals(self, since: datetime) -> dict[str, float]:
        """event id -> when its record was first seen, for the records sequenced since `since`."""
        with self._lock:
            rows = self.client.query(
                "SELECT shard, seq, toString(event_id) FROM ledger_records WHERE sequenced_at >= {since:DateTime64(6)}",
                parameters={"since": since},
            ).result_rows
        return {event_id: self.seen[(int(s), int(q))] for s, q, event_id in rows if (int(s), int(q)) in self.seen}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class RunResult:
    label: str
    emitted: int
    stored: int
    emit_rate: float
    events_per_s: float
    latencies_ms: list[float]

    def percentile(self, p: float) -> float:
        if len(self.latencies_ms) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=1000, method="inclusive")[int(p * 10) - 1]


def run(label: str, producer: Producer, settings: Settings, poller: QueryablePoller, pool: list, count: int,
        rate: float | None) -> RunResult:  # fmt: skip
    emitted: dict[str, float] = {}
    since = datetime.now(UTC) - timedelta(seconds=1)  # the stream's clock stamps sequenced_at; allow for a little skew
    target = len(poller.seen) + count
    seconds = emit(producer, settings.topics.events, pool, count, rate, emitted)
    poller.wait_for(target, timeout_s=max(120.0, count / 500))
    seen = poller.arrivals(since)
    stored = sum(1 for i in emitted if i in seen)
    first = min(emitted.values())
    last = max((seen[i] for i in emitted if i in seen), default=first)
    latencies = sorted((seen[i] - t) * 1000 for i, t in emitted.items() if i in seen)
    return RunResult(label, count, stored, count / seconds, stored / (last - first), latencies)


def stack_pids(home: Path, pattern: str = "*.pid") -> dict[str, int]:
    """The stack's processes by PID file name (kafka, ledger, stream, stream-1, ...)."""
    pids = {}
    for pid_file in sorted(home.glob(pattern)):
        try:
            pids[pid_file.stem] = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            continue
    return pids


def stream_pids(home: Path) -> dict[str, int]:
    return stack_pids(home, "stream*.pid")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (/proc/<pid>/stat utime and stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(home: Path) -> dict[str, float]:
    snapshot = {name: cpu_seconds(pid) for name, pid in stack_pids(home).items() if Path(f"/proc/{pid}").exists()}
    snapshot["this benchmark"] = cpu_seconds(os.getpid())
    return snapshot


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


def stored_count(client: Any) -> int:
    return int(client.query("SELECT count() FROM ledger_records").result_rows[0][0])


def memory_check(settings: Settings, producer: Producer, client: Any, pool: list, count: int) -> int:
    """RSS of the stream worker(s) at 100k and at `count` events stored."""
    marks = sorted({min(100_000, count), count} | {count * k // 4 for k in (1, 2, 3)})  # a curve, not two points
    base = stored_count(client)
    pids = stream_pids(settings.home)
    print(f"memory check: {count:,} events at max rate into {settings.home}; stream workers {pids}")
    before = {name: memory_kb(pid) for name, pid in pids.items()}
    emitted: dict[str, float] = {}
    sender = threading.Thread(target=emit, args=(producer, settings.topics.events, pool, count, None, emitted))
    start = time.perf_counter()
    sender.start()
    for mark in marks:
        while stored_count(client) - base < mark:
            if time.perf_counter() - start > max(600.0, count / 300):
                print(f"stored only {stored_count(client) - base:,} of {mark:,} in time")
                return 1
            time.sleep(1.0)
        now = {name: memory_kb(pid) for name, pid in pids.items()}
        elapsed = time.perf_counter() - start
        for name in pids:
            rss, was, peak = now[name]["VmRSS"] / 1024, before[name]["VmRSS"] / 1024, now[name]["VmHWM"] / 1024
            print(f"  {mark:>9,} stored after {elapsed:6.0f} s: {name} VmRSS {rss:7.1f} MiB (before {was:.1f}), "
                  f"VmHWM {peak:.1f} MiB")  # fmt: skip
    sender.join()
    print(f"memory_check_events: {count} rss_mib: {sum(memory_kb(p)['VmRSS'] for p in pids.values()) / 1024:.1f}")
    return 0


def ensure_scratch_topic(bootstrap: str) -> None:
    """Where the in-process produce costs go (never a topic anything consumes)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if SCRATCH_TOPIC not in admin.list_topics(timeout=30).topics:
        for future in admin.create_topics([NewTopic(SCRATCH_TOPIC, 1, 1)]).values():
            future.result(30)


def print_stages(settings: Settings, pool: list, events: int, runs: int) -> dict[str, float]:
    store = SchemaStore()
    encoded = [value for _, value, _ in pool[:events]]
    datums = [store.decode(v, reader="AuditEvent") for v in encoded]
    costs = stage_costs(settings, PRODUCER_TUNING, SCRATCH_TOPIC, encoded, datums, runs)
    raw, ours = costs.raw, costs.ours
    compare = {"decode": "fastavro decode", "entry encode (Avro)": "fastavro encode", "hash and chain": "sha256",
               "produce (record + SIEM message)": "bare produce (no work)"}  # fmt: skip
    print(f"raw limits of this machine, one core, same events ({events:,}, best of {runs}):")
    for name, us in raw.items():
        print(f"  {name:<40} {us:8.1f} us/event  {1e6 / us:>10,.0f} /s")
    print("ours, one core, per stage (the stream worker's order):")
    for name, us in ours.items():
        ratio = f"  {us / raw[compare[name]]:5.1f} x {compare[name]}" if name in compare else ""
        print(f"  {name:<40} {us:8.1f} us/event  {1e6 / us:>10,.0f} /s{ratio}")
    core = ours["whole step (LedgerSequencer.process)"] + ours["produce (record + SIEM message)"]
    print(
        f"  stream worker ceiling, one core (step + produce): {1e6 / core:,.0f} events/s; "
        f"sink ceiling: {1e6 / ours['sink insert (decode, project, insert)']:,.0f} events/s"
    )
    return raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=REPO / ".stack" / "bench")
    parser.add_argument("--rate", type=float, default=5000.0, help="offered events/s of the fixed-rate run")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the fixed-rate run")
    parser.add_argument("--max-events", type=int, default=40000, help="events of the max-rate run")
    parser.add_argument("--stage-events", type=int, default=5000, help="events of the in-process stage costs")
    parser.add_argument("--runs", type=int, default=3, help="repeat each stage measurement, keep the fastest")
    parser.add_argument("--poll-s", type=float, default=0.1, help="store poll period for emit-to-queryable")
    parser.add_argument("--memory-check", action="store_true", help="RSS at 100k and --memory-events instead")
    parser.add_argument("--memory-events", type=int, default=1_000_000)
    parser.add_argument("--down", action="store_true", help="stop the stack afterwards")
    args = parser.parse_args()

    args.home.mkdir(parents=True, exist_ok=True)
    settings = replace(load_settings(home=args.home), policy_file=str(bench_policy(args.home)))
    stack = LocalStack(settings, log=lambda m: print(m, file=sys.stderr))
    status = stack.up()
    settings = replace(settings, kafka_bootstrap=status["kafka_bootstrap"], clickhouse_url=status["clickhouse_url"])
    try:
        store = SchemaStore()
        pool = event_pool(max(args.stage_events, 20000), store)
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, **EMITTER_CONFIG})
        client = store_client(settings)
        if args.memory_check:
            return memory_check(settings, producer, client, pool, args.memory_events)
        ensure_scratch_topic(settings.kafka_bootstrap)
        size = sum(len(v) for _, v, _ in pool) / len(pool)
        print(f"events: ~{size:.0f} bytes Avro each; stack home {args.home}; machine: "
              f"{len(os.sched_getaffinity(0))} cores shared by Kafka, the ledger process, the stream "
              "worker and this benchmark")  # fmt: skip
        raw = print_stages(settings, pool, args.stage_events, args.runs)

        poller = QueryablePoller(client, period_s=args.poll_s).start()
        try:
            run("warm-up", producer, settings, poller, pool, 2000, None)
            fixed = run(f"offered {args.rate:,.0f}/s", producer, settings, poller, pool,
                        int(args.rate * args.seconds), args.rate)  # fmt: skip
            cpu_before = cpu_snapshot(args.home)
            top = run("max rate", producer, settings, poller, pool, args.max_events, None)
            cpu_after = cpu_snapshot(args.home)
        finally:
            poller.stop()
        query_ms = statistics.median(poller.periods) * 1000
        print(f"whole path on the local stack (latency: emit -> queryable, at most one poll late; poll period "
              f"{args.poll_s * 1000:.0f} ms + query {query_ms:.0f} ms median):")  # fmt: skip
        for r in (fixed, top):
            print(f"  {r.label:<16} emitted {r.emitted:>7,} at {r.emit_rate:>8,.0f}/s, stored {r.stored:>7,}: "
                  f"{r.events_per_s:>8,.0f} events/s end to end; p50 {r.percentile(50):7.0f} ms  "
                  f"p95 {r.percentile(95):7.0f} ms  p99 {r.percentile(99):7.0f} ms")  # fmt: skip
        used = {name: (cpu_after[name] - cpu_before[name]) / top.emitted * 1e6
                for name in cpu_after if name in cpu_before}  # fmt: skip
        total = sum(used.values())
        print(
            f"  CPU per event in the max-rate run: {total:.0f} us in all ("
            + ", ".join(f"{name} {us:.0f}" for name, us in used.items())
            + f"); at most {len(os.sched_getaffinity(0)) * 1e6 / total:,.0f} events/s if every core did only this"
        )
        bare = 1e6 / raw["bare produce (no work)"]
        print(f"  end to end at max rate / bare produce of the same bytes (one core, no work): "
              f"{top.events_per_s / bare:.3f} ({top.events_per_s:,.0f} / {bare:,.0f} events/s)")  # fmt: skip
        for name, pid in stream_pids(args.home).items():
            mem = memory_kb(pid)
            print(f"  {name} (pid {pid}) VmRSS {mem['VmRSS'] / 1024:.1f} MiB, peak VmHWM {mem['VmHWM'] / 1024:.1f} MiB")
        print(f"targets (2 cores, masking + approvals + signing): >= 10,000 events/s end to end: "
              f"{'met' if top.events_per_s >= 10000 else 'NOT met'}; p99 < 2 s at {args.rate:,.0f}/s offered: "
              f"{'met' if fixed.percentile(99) < 2000 and fixed.stored == fixed.emitted else 'NOT met'}")  # fmt: skip
        print(f"end_to_end_events_per_s: {top.events_per_s:.0f} p99_ms: {fixed.percentile(99):.0f}")
        return 0 if fixed.stored == fixed.emitted and top.stored == top.emitted else 1
    finally:
        if args.down:
            stack.down()


if __name__ == "__main__":
    sys.exit(main())
