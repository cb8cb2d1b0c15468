"""A stream worker killed with SIGKILL mid-run and started again leaves no gap and no duplicate."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from auditledger.stack.processes import pid_alive, read_pid
from producers.demo_session import demo_events
from tests.stack.conftest import paced_emit, wait_for
from tests.stack.test_end_to_end import counts_by_event, run_verify, wait_anchored

pytestmark = pytest.mark.stack
N_EVENTS = 6000




def test_sigkilled_worker_resumes_without_gap_or_duplicate(stack, settings, ch) -> None:
    events = list(demo_events(N_EVENTS, sessions=12, seed=5))
    ids = [e["event_id"] for e in events]
    failures: list = []
    # Paced well beyond a restart (recovery and group join take ~10 s here), so that the second kill
    # still lands while events are arriving instead of after a restarted worker has caught up on all.
    sender = threading.Thread(target=paced_emit, args=(settings, events, 40.0, failures))
    sender.start()
    kills = 0
    try:
        for threshold in (N_EVENTS // 5, N_EVENTS // 2):
            wait_for(lambda t=threshold: sum(counts_by_event(ch, ids).values()) >= t, 180, f"{threshold} events stored")
            pid = read_pid(stack.pid_file("stream"))
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda p=pid: not pid_alive(p), 30, "the worker to die")
            kills += 1
            stored = sum(counts_by_event(ch, ids).values())
            assert stored < N_EVENTS, "the kill came after the run had finished; it proves nothing"
            stack.start_stream_worker(stack.settings)
    finally:  # a failed check must not leave the session's stack without its worker for the tests after it
        pid = read_pid(stack.pid_file("stream"))
        if pid is None or not pid_alive(pid):
            stack.start_stream_worker(stack.settings)
    sender.join(120)
    assert not failures, failures
    wait_for(lambda: len(counts_by_event(ch, ids)) == N_EVENTS, 300, "every event after the restarts")
    counts = counts_by_event(ch, ids)
    assert kills == 2
    duplicated = {k: v for k, v in counts.items() if v != 1}
    assert not duplicated, f"{len(duplicated)} events stored more than once"
    wait_anchored(ch)
    code, report = run_verify(settings)
    assert code == 0, report["problems"][:5]
