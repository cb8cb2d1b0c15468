"""The ledger process: owns the ClickHouse store (chDB), runs the sink, serves ClickHouse's HTTP interface.

One process per store, because chDB lets only one process open a data directory; everybody else
(analysts, the verifier, tests) reaches the store through the HTTP interface on loopback, exactly as
they would reach a ClickHouse server.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import clickhouse_connect

from auditledger.config import Settings
from ledger.ddl import ensure_schema
from ledger.http_interface import ClickHouseHTTPInterface
from ledger.sink import LedgerSink

log = logging.getLogger("auditledger.ledger")


def store_path(settings: Settings) -> Path:
    return settings.home / "clickhouse"


def serve(settings: Settings, port: int, ready_file: Path | None = None) -> int:
    """Run until SIGTERM/SIGINT. Kafka trouble is retried; the query interface stays up throughout."""
    path = store_path(settings)
    path.mkdir(parents=True, exist_ok=True)
    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    ensure_schema(client)
    http = ClickHouseHTTPInterface(str(path), host="127.0.0.1", port=port)
    http.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"clickhouse_url": http.url, "pid": os.getpid()}))
        tmp.rename(ready_file)
    log.warning("ledger store %s serving %s", path, http.url)
    sink = None
    try:
        while not stop.is_set():
            try:
                if sink is None:
                    sink = LedgerSink(
                        settings.kafka_bootstrap,
                        settings.topics.ledger,
                        settings.topics.checkpoints,
                        client,
                        batch_size=settings.sink_batch_size,
                    )
                sink.run_once()
            except Exception as exc:  # keep serving queries; retry the sink from its committed position
                log.error("sink error, restarting it from the committed position: %s", exc)
                if sink is not None:
                    try:
                        sink.close()
                    except Exception:
                        pass
                sink = None
                stop.wait(2.0)
    finally:
        if sink is not None:
            sink.close()
        http.stop()
        time.sleep(0.1)
    return 0
