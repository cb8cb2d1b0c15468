"""AuditEmitter(spool_dir=...) without a reachable broker: the caller gets SpoolFullError at the bound, naming
the directory and the limit, and every event it had accepted is still in the spool for the next run."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.demo_session import demo_events
from producers.emitter import AuditEmitter
from producers.spool import DiskSpool, SpoolFullError

NOWHERE = "127.0.0.1:9"  # discard port: nothing answers, so nothing leaves the spool
LIMIT = 16 * 1024


def test_full_spool_raises_to_the_caller_and_keeps_what_it_took(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    emitter = AuditEmitter(NOWHERE, spool_dir=spool_dir, spool_max_bytes=LIMIT)
    accepted: list[str] = []
    with pytest.raises(SpoolFullError) as full:
        for event in demo_events(1000, seed=3):
            accepted.append(emitter.emit(event))
    assert accepted and full.value.directory == spool_dir and full.value.max_bytes == LIMIT
    assert str(spool_dir) in str(full.value) and str(LIMIT) in str(full.value)
    assert emitter.pending() == len(accepted)
    emitter.close(0.5)  # nothing can be delivered: what was accepted stays on disk
    reopened = DiskSpool(spool_dir, max_bytes=LIMIT)
    try:
        assert reopened.pending() == len(accepted)
    finally:
        reopened.close()
