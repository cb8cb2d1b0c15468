"""The DeadLetter message for an input the stream refused: masked text in the clear, the original sealed.

Nothing is lost (the holder of the recipient key can open and replay the original) and nothing
unmasked travels (the reason is masked again, the preview is the masked event).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas import SchemaStore
from stream.admission import EventAdmission
from stream.sealed_envelope import SealingKey, seal_context
from stream.validation import RejectedEvent

MAX_REASON_CHARS = 2000


class DeadLetterBuilder:
    def __init__(
        self, store: SchemaStore, sealing_key: SealingKey, source_topics: Mapping[str, str], admission: EventAdmission
    ):
        """`source_topics`: topic name by input role (events, approvals)."""
        self._store = store
        self._key = sealing_key
        self._source_topics = dict(source_topics)
        self._admission = admission

    def build(
        self,
        partition: int,
        offset: int,
        value: bytes | None,
        rejected: RejectedEvent,
        now: datetime,
        source: str = "events",
    ) -> bytes:
        original = value or b""
        topic = self._source_topics[source]
        event: dict[str, Any] | None = rejected.event
        reason = self._admission.mask_reason(rejected.rejection.reason[:MAX_REASON_CHARS])
        return self._store.encode(
            "DeadLetter",
            {
                "reason": reason,
                "error_kind": rejected.rejection.kind,
                "source_topic": topic,
                "source_partition": partition,
                "source_offset": offset,
                "received_at": now,
                "event_id": str(event["event_id"]) if event else None,
                "tenant": event["tenant"] if event else None,
                "masked_preview": self._admission.preview(event) if event else None,
                "original_size": len(original),
                "sealed_to": self._key.key_id,
                "sealed_original": self._key.seal(original, seal_context(topic, partition, offset)),
            },
        )
