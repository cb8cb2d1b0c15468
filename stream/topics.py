"""The topics the stream reads and writes. Created beforehand (auditledger.topics): Faust only uses them."""

from __future__ import annotations

from stream.app import app, settings

_names = settings.topics

events_topic = app.topic(_names.events, value_type=bytes, value_serializer="raw", key_serializer="raw")
ledger_topic = app.topic(_names.ledger, value_type=bytes, value_serializer="raw", key_serializer="raw")
checkpoints_topic = app.topic(_names.checkpoints, value_type=bytes, value_serializer="raw", key_serializer="raw")
deadletter_topic = app.topic(_names.deadletter, value_type=bytes, value_serializer="raw", key_serializer="raw")

OUTPUT_TOPICS = {"ledger": ledger_topic, "checkpoints": checkpoints_topic, "deadletter": deadletter_topic}
