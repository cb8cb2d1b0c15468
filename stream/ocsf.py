"""What every OCSF event on audit.siem shares: the schema version, the product, times, metadata, the JSON form.

The feed follows OCSF 1.6.0 (schema.ocsf.io; github.com/ocsf/ocsf-schema tag 1.6.0). Facts used here:
- base event: activity_id, category_uid, class_uid, type_uid (= class_uid * 100 + activity_id),
  severity_id, time (timestamp_t: epoch milliseconds) and metadata are required;
- metadata: product and version (the OCSF schema version) are required; uid is "the logging
  system-assigned unique identifier of an event instance" (here: the event id, or the alert id);
- product: an _entity, so at least one of name and uid;
- severity_id: 0 Unknown, 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 6 Fatal, 99 Other.
No profile is applied (metadata.profiles is absent), so the cloud profile's required `cloud` is not
required: the ledger runs wherever it is deployed, on premises included, and claims no cloud provider.

Pure: no I/O; the product version is read once by whoever builds an `OcsfProduct`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata as package_metadata
from typing import Any

import orjson

OCSF_VERSION = "1.6.0"
PRODUCT_NAME = "auditledger"

SEVERITY_IDS = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal",
                99: "Other"}  # fmt: skip
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class OcsfProduct:
    """metadata.product: what produced the feed; `log_origin` names the ledger (its checkpoints' origin)."""

    log_origin: str
    version: str = "0"
    name: str = PRODUCT_NAME
    vendor_name: str = PRODUCT_NAME

    @classmethod
    def installed(cls, log_origin: str) -> OcsfProduct:
        """The product as installed (its package version)."""
        try:
            version = package_metadata.version(PRODUCT_NAME)
        except package_metadata.PackageNotFoundError:
            version = "0"
        return cls(log_origin=log_origin, version=version)

    def as_ocsf(self) -> dict[str, str]:
        return {"name": self.name, "vendor_name": self.vendor_name, "version": self.version}

    def log_name(self, shard: int) -> str:
        """The shard's own log: the origin its signed checkpoints carry."""
        return f"{self.log_origin}/shard/{shard}"


def epoch_ms(moment: datetime) -> int:
    """OCSF timestamp_t: milliseconds since the Unix epoch (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // ONE_MS


def class_header(class_uid: int, class_name: str, category_uid: int, category_name: str, activity_id: int,
                 activity_name: str, severity_id: int) -> dict[str, Any]:  # fmt: skip
    """The classification attributes every event carries; type_uid and type_name follow from the rest."""
    return {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": category_uid,
        "category_name": category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "severity_id": severity_id,
        "severity": SEVERITY_IDS[severity_id],
    }


def metadata(product: OcsfProduct, uid: str, shard: int, tenant: str, event_code: str, **more: Any) -> dict[str, Any]:
    """metadata: the OCSF version and product (required), the shard's log, the tenant, and what the caller adds."""
    return {"uid": uid, "version": OCSF_VERSION, "product": product.as_ocsf(), "log_name": product.log_name(shard),
            "tenant_uid": tenant, "event_code": event_code, **more}  # fmt: skip


def ledger_position(shard: int, seq: int, leaf_hash: bytes, event_id: str) -> dict[str, Any]:
    """Where the record sits in the ledger: enough to fetch it and prove it (`auditledger prove`)."""
    return {"shard": shard, "seq": seq, "leaf_hash": leaf_hash.hex(), "event_id": event_id}


def encode_json(event: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, one OCSF event per Kafka message, keys in insertion order.

    orjson: the same bytes as json's compact encoder with ensure_ascii=False for what the mapping holds
    (strings, integers, booleans, None, lists, dicts with string keys), at about a third of its cost
    (benchmarks/siem_feed_cost.py). A value it cannot encode raises orjson.JSONEncodeError (a TypeError).
    """
    return orjson.dumps(event)
