"""Keeping the ledger path running through Kafka failures by rebuilding the writer, in process.

Why rebuilding is safe: a new LedgerWriter recovers every shard from its own output (last seq, last
input offset, tree state) and re-reads input from the committed offsets, and its transactional id
fences any transaction the old one left open. So a fatal client error (a static consumer fenced after
a broker restart, a producer whose epoch went stale, init_transactions timing out while the broker is
away) costs a restart, never a gap or a duplicate. Anything that is not a Kafka error (a bad policy, a
missing key, a bug) still ends the worker: retrying it would hide it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from confluent_kafka import KafkaException

log = logging.getLogger("auditledger.stream")

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


class RunsUntilStopped(Protocol):
    def run(self, stop: threading.Event) -> None: ...


def supervise(
    make_writer: Callable[[], RunsUntilStopped],
    stop: threading.Event,
    first_backoff_s: float = FIRST_BACKOFF_S,
    max_backoff_s: float = MAX_BACKOFF_S,
) -> int:
    """Run writers until `stop` is set; returns how many times a Kafka error forced a rebuild.

    The backoff doubles while rebuilds keep failing and starts again once a writer ran for a minute."""
    rebuilds = 0
    backoff = first_backoff_s
    while not stop.is_set():
        writer = make_writer()
        started = threading.Event()
        timer = threading.Timer(60.0, started.set)
        timer.daemon = True
        timer.start()
        try:
            writer.run(stop)
            return rebuilds
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            text = error.str() if hasattr(error, "str") else str(error)
            rebuilds += 1
            if started.is_set():
                backoff = first_backoff_s
            log.error("ledger writer stopped on a Kafka error (%s); rebuilding it in %.0f s (rebuild %d)",
                      text, backoff, rebuilds)  # fmt: skip
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff_s)
        finally:
            timer.cancel()
    return rebuilds
