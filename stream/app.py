"""The Faust application, configured from auditledger settings (environment or config file)."""

from __future__ import annotations

import faust

from auditledger.config import load_settings
from auditledger.kafka_security import faust_credentials

settings = load_settings()

app = faust.App(
    "auditledger-stream-app",
    broker=f"kafka://{settings.kafka_bootstrap}",
    broker_credentials=faust_credentials(settings),  # TLS/SASL for aiokafka (None: PLAINTEXT)
    processing_guarantee="exactly_once",
    store="memory://",
    topic_partitions=settings.partitions,
    topic_allow_declare=True,  # only Faust's own internal topics; ours are created beforehand
    datadir=str(settings.home / "stream-data"),
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=10.0,
    broker_heartbeat_interval=1.0,
)
