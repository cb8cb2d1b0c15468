"""Services the Faust worker runs beside its agents. `LedgerWriterService` runs the ledger path."""

from __future__ import annotations

import asyncio
import os
import threading

import mode

from stream.app import app, settings
from stream.ledger_writer import LedgerWriter
from stream.writer_supervisor import supervise


@app.service
class LedgerWriterService(mode.Service):
    """Runs LedgerWriter in a thread for the life of the worker. A Kafka error rebuilds the writer
    (stream/writer_supervisor.py); anything else kills the worker too (a worker that stays up with its
    ledger path stopped would look healthy and do nothing)."""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def on_start(self) -> None:
        worker_id = os.environ.get("AUDITLEDGER_STREAM_WORKER_ID", "0")
        built = [LedgerWriter(settings, worker_id=worker_id)]  # a bad policy or key fails the start, not a thread
        loop = asyncio.get_running_loop()

        def writer() -> LedgerWriter:
            return built.pop() if built else LedgerWriter(settings, worker_id=worker_id)

        def run() -> None:
            try:
                supervise(writer, self._stop)
            except BaseException as exc:  # reported to the worker, which exits non-zero
                loop.call_soon_threadsafe(lambda e=exc: asyncio.ensure_future(self.crash(e)))

        self._thread = threading.Thread(target=run, name="ledger-writer", daemon=True)
        self._thread.start()

    async def on_stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 30)
