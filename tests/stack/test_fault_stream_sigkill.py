"""The stream worker SIGKILLed 10 times while a paced emitter sends events: at random moments, inside an open
batch transaction, and just after a checkpoint was signed (stream/failpoints.py holds the worker there, the
test kills it while it waits). Afterwards every event is stored exactly once, each shard's seqs run 0..n-1
without a hole, and `auditledger verify` passes with every stored checkpoint checked.

A stack of its own: the exact seq and checkpoint counts are of a store no other test writes to or tampers
with, and the failpoint environment reaches only this stack's worker. Bounded: about 10 restarts of ~5-15 s
each plus the stack's start, well under 5 minutes on a loaded 2-core machine (the waits time out sooner).
Replay a failure with AUDITLEDGER_FAULT_SEED=<the printed seed>.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditledger.stack.local_stack import LocalStack
from auditledger.stack.processes import pid_alive, read_pid
from ledger.clickhouse_client import store_client
from producers.demo_session import demo_events
from producers.emitter import AuditEmitter
from stream.failpoints import ENV_MARKER, ENV_POINTS
from tests.identity.token_factory import TokenFactory
from tests.stack.conftest import stack_of_its_own, wait_for
from tests.stack.test_end_to_end import counts_by_event, run_verify, wait_anchored

pytestmark = pytest.mark.stack

MAX_EVENTS = 9000
PER_STEP, STEP_S = 20, 0.4  # ~50 events/s: events keep arriving through every kill and restart
PAUSE_MS = 4000  # how long a failpoint holds the worker: room for the test to see the marker and kill
KILLS = ["checkpoint_signed"] * 3 + ["batch_before_commit"] * 3 + ["random"] * 4


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, idp: TokenFactory) -> Iterator[LocalStack]:
    with stack_of_its_own(tmp_path_factory, idp, "sigkill-stack") as local:
        yield local


class PacedEmitter(threading.Thread):
    """Emits demo events in small confirmed steps until stopped; `sent` are the ids the broker confirmed."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.events = list(demo_events(MAX_EVENTS, sessions=12, seed=21))
        self.sent: list[str] = []
        self.failures: list[Exception] = []
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with AuditEmitter(self.bootstrap, topic=self.topic) as emitter:
                for i in range(0, MAX_EVENTS, PER_STEP):
                    if self.stop.is_set():
                        break
                    step = self.events[i : i + PER_STEP]
                    for e in step:
                        emitter.emit(e)
                    emitter.flush()
                    self.sent.extend(e["event_id"] for e in step)
                    time.sleep(STEP_S)
        except Exception as exc:  # reported by the test, never lost
            self.failures.append(exc)


def _marker_lines(marker: Path) -> list[str]:
    return marker.read_text().splitlines() if marker.exists() else []


def _kill(stack: LocalStack) -> int:
    pid = read_pid(stack.pid_file("stream"))
    assert pid is not None and pid_alive(pid)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 30, "the worker to die")
    return pid


def _kill_at_failpoint(stack: LocalStack, point: str, marker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Restart the worker with `point` enabled, kill it while it waits there, prove it never resumed."""
    running = read_pid(stack.pid_file("stream"))
    assert running is None or not pid_alive(running), "a worker without the failpoint is running"
    monkeypatch.setenv(ENV_POINTS, f"{point}:pause_ms={PAUSE_MS}")
    stack.start_stream_worker(stack.settings)
    monkeypatch.delenv(ENV_POINTS)
    pid = read_pid(stack.pid_file("stream"))
    paused = f"{point} {pid} pause"
    wait_for(lambda: paused in _marker_lines(marker), 120, f"the worker to stop at {point}", interval_s=0.05)
    _kill(stack)
    assert f"{point} {pid} resume" not in _marker_lines(marker), f"the kill landed after {point}, not inside it"


def test_ten_sigkills_leave_every_event_once_and_every_checkpoint_verifying(
    own_stack: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = int(os.environ.get("AUDITLEDGER_FAULT_SEED", random.SystemRandom().randrange(1 << 30)))
    print(f"sigkill plan seed: {seed} (replay with AUDITLEDGER_FAULT_SEED={seed})")
    rng = random.Random(seed)
    plan = rng.sample(KILLS, len(KILLS))
    plan.insert(0, plan.pop(plan.index("random")))  # the worker the stack started has no failpoints: a random kill
    settings = own_stack.settings
    marker = tmp_path / "failpoints.log"
    monkeypatch.setenv(ENV_MARKER, str(marker))
    emitter = PacedEmitter(settings.kafka_bootstrap, settings.topics.events)
    emitter.start()
    try:
        for n, kind in enumerate(plan):
            if kind == "random":
                own_stack.start_stream_worker(settings)
                delay = rng.uniform(0.0, 4.0)  # 0: during recovery or the first batch; later: between or in batches
                print(f"kill {n}: random, {delay:.2f}s after the worker joined")
                time.sleep(delay)
                _kill(own_stack)
            else:
                print(f"kill {n}: at failpoint {kind}")
                _kill_at_failpoint(own_stack, kind, marker, monkeypatch)
        assert not emitter.stop.is_set() and emitter.is_alive(), "the events ran out before the last kill"
    finally:  # the worker runs again without failpoints, whatever happened above
        monkeypatch.delenv(ENV_POINTS, raising=False)
        pid = read_pid(own_stack.pid_file("stream"))
        if pid is not None and pid_alive(pid):
            _kill(own_stack)
        own_stack.start_stream_worker(settings)
        emitter.stop.set()
        emitter.join(120)
    assert not emitter.failures, emitter.failures
    ids = emitter.sent
    assert len(ids) >= 1000
    ch = store_client(settings)
    wait_for(lambda: len(counts_by_event(ch, ids)) == len(ids), 300, f"all {len(ids)} events after the kills")
    wait_anchored(ch)

    counts = counts_by_event(ch, ids)
    assert {k: v for k, v in counts.items() if v != 1} == {}, "events stored more than once"
    total = ch.query("SELECT count() FROM ledger_records").result_rows[0][0]
    assert total == len(ids)  # nothing but these events, and each once
    shards = ch.query("SELECT shard, min(seq), max(seq), count(), uniqExact(seq) FROM ledger_records "
                      "GROUP BY shard ORDER BY shard").result_rows  # fmt: skip
    assert len(shards) == settings.partitions
    for shard, low, high, rows, distinct in shards:
        assert (low, rows, distinct) == (0, high + 1, high + 1), f"shard {shard}: seqs not contiguous from 0"

    code, report = run_verify(settings)
    assert code == 0, report["problems"][:5]
    stored_checkpoints = dict(ch.query("SELECT shard, count() FROM ledger_checkpoints GROUP BY shard").result_rows)
    for s in report["shards"]:
        assert s["records"] == s["tree_size"] and s["unanchored_records"] == 0
        assert s["checkpoints_checked"] == stored_checkpoints[s["shard"]] > 0, s
