"""The audit.siem messages for a batch: each ledger record as OCSF API Activity JSON, each alert as a finding.

The sequencer asks for them as it appends records and raises alerts, so they go out in the same Kafka
transaction as the ledger (exactly once, same order, partition = shard). Keys: the event id for a
record, the alert id for a finding. Pure: the JSON bytes are the only output.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from stream.ocsf import OcsfProduct, encode_json
from stream.ocsf_activity import api_activity, record_type_uid
from stream.ocsf_findings import detection_finding


class OcsfFeed:
    def __init__(self, product: OcsfProduct) -> None:
        self.product = product

    def record(
        self,
        shard: int,
        seq: int,
        leaf_hash: bytes,
        sequenced_at: datetime,
        event: Mapping[str, Any],
        identity: Mapping[str, Any],
        masking: Mapping[str, Any],
        approval: Mapping[str, Any] | None,
        source_topic: str,
    ) -> tuple[bytes, bytes]:
        """(key, value) of the API Activity message for a record just appended at (shard, seq)."""
        entry = {"shard": shard, "seq": seq, "sequenced_at": sequenced_at, "source_topic": source_topic,
                 "event": event, "identity": identity, "masking": masking, "approval": approval}  # fmt: skip
        return str(event["event_id"]).encode(), encode_json(api_activity(entry, leaf_hash, self.product))

    def finding(self, alert: Mapping[str, Any], leaf_hash: bytes, event: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """(key, value) of the Detection Finding message for an alert on the record of `event`."""
        finding = detection_finding(alert, leaf_hash, record_type_uid(event), self.product)
        return str(alert["alert_id"]).encode(), encode_json(finding)
