"""Keeping the ledger path running through Kafka failures by rebuilding the writer, in process.

Why rebuilding is safe: a new LedgerWriter recovers every shard from its own output (last seq, last
input offset, tree state) and re-reads input from the committed offsets, and its transactional id
fences any transaction the old one left open. So a fatal client error (a static consumer fenced after
a broker restart, a producer whose epoch went stale, init_transactions timing out while the broker is
away) costs a restart, never a gap or a duplicate. Anything that is not a Kafka error (a bad policy, a
missing key, a bug) still ends the worker: retrying it would hide it.

A writer stuck inside a Kafka call (one that has overrun its own timeout, see LedgerWriter.stalled) is
abandoned the same way: its thread is left behind with its own stop event set, and the new writer's
transactional id and static member id fence whatever it still holds, so it cannot commit anything after.
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
WATCH_EVERY_S = 1.0


class RunsUntilStopped(Protocol):
    def run(self, stop: threading.Event) -> None: ...


class WriterStalled(RuntimeError):
    """The writer is blocked in a Kafka call past that call's own timeout."""


def run_watched(writer: RunsUntilStopped, stop: threading.Event, watch_every_s: float = WATCH_EVERY_S) -> None:
    """`writer.run` in a thread of its own until it returns or raises (re-raised here); raises WriterStalled
    and leaves the thread behind if the writer says it is stalled (`stalled()`, when it has one)."""
    own_stop = threading.Event()
    raised: list[BaseException] = []

    def body() -> None:
        try:
            writer.run(own_stop)
        except BaseException as exc:  # handed to the supervisor's thread
            raised.append(exc)

    thread = threading.Thread(target=body, name="ledger-writer-run", daemon=True)
    thread.start()
    stalled = getattr(writer, "stalled", None)
    while thread.is_alive():
        if stop.is_set():
            own_stop.set()
        if stalled is not None and stalled():
            own_stop.set()
            raise WriterStalled("a Kafka call overran its timeout; abandoning the writer")
        thread.join(watch_every_s)
    if raised:
        raise raised[0]


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
            run_watched(writer, stop)
            return rebuilds
        except (KafkaException, WriterStalled) as exc:
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
