"""The ledger process.

`serve` (the embedded default): owns the ClickHouse store (chDB), runs the sink, and serves ClickHouse's
HTTP interface on loopback, to the users of the users file only (ledger.access). One process per store,
because chDB lets only one process open a data directory; everybody else (analysts, the verifier, tests)
uses the HTTP interface as they would a server.

`sink` (production, docker-compose): runs only the sink, against a ClickHouse server's URL.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

import clickhouse_connect

from auditledger.config import Settings
from ledger.clickhouse_client import store_client
from ledger.ddl import ensure_schema
from ledger.sink import LedgerSink

log = logging.getLogger("auditledger.ledger")


def store_path(settings: Settings) -> Path:
    return settings.home / "clickhouse"


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def run_sink(settings: Settings, client: Any, stop: threading.Event) -> None:
    """Sink until `stop`; Kafka or insert trouble restarts it from the committed position."""
    sink = None
    try:
        while not stop.is_set():
            try:
                if sink is None:
                    sink = LedgerSink(settings.kafka_bootstrap, settings.topics.ledger, settings.topics.checkpoints,
                                      client, batch_size=settings.sink_batch_size)  # fmt: skip
                sink.run_once()
            except Exception as exc:
                log.error("sink error, restarting it from the committed position: %s", exc)
                if sink is not None:
                    try:
                        sink.close()
                    except Exception as close_exc:
                        log.error("sink close failed: %s", close_exc)
                sink = None
                stop.wait(2.0)
    finally:
        if sink is not None:
            sink.close()


def serve(settings: Settings, port: int, ready_file: Path | None = None) -> int:
    """Embedded default: store + sink + query interface, until SIGTERM/SIGINT."""
    from ledger.access import UsersFile
    from ledger.http_interface import ClickHouseHTTPInterface

    path = store_path(settings)
    path.mkdir(parents=True, exist_ok=True)
    client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    ensure_schema(client, settings.retention)
    users = UsersFile(settings.users_file_path)  # every request authenticates; refuses to start without one
    http = ClickHouseHTTPInterface(str(path), access=users, host="127.0.0.1", port=port)
    http.start()
    stop = _stop_on_signals()
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"clickhouse_url": http.url, "pid": os.getpid()}))
        tmp.rename(ready_file)
    log.warning("ledger store %s serving %s", path, http.url)
    try:
        run_sink(settings, client, stop)
    finally:
        http.stop()
    return 0


def sink_only(settings: Settings) -> int:
    """Production: the sink against a ClickHouse server (settings.clickhouse_url)."""
    client = store_client(settings)
    ensure_schema(client, settings.retention)
    run_sink(settings, client, _stop_on_signals())
    return 0
