"""The Faust application, configured from auditledger settings (environment or config file)."""

from __future__ import annotations

import faust

from auditledger.config import load_settings

settings = load_settings()

app = faust.App(
    "auditledger-stream",
    broker=f"kafka://{settings.kafka_bootstrap}",
    processing_guarantee="exactly_once",
    store="memory://",
    topic_partitions=settings.partitions,
    topic_allow_declare=False,
    datadir=str(settings.home / "stream-data"),
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    stream_buffer_maxsize=16384,
    producer_linger=0.005,
    producer_max_batch_size=1024 * 1024,
    producer_max_request_size=16 * 1024 * 1024,
    broker_commit_every=settings.stream_batch_size,
    # A killed worker's partitions move to its successor after this, not after Faust's 60 s default.
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
)
