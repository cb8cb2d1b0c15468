"""The Kafka topics auditledger uses, with their partitioning and retention, and their creation.

Retention of the durable topics follows the retention policy (ledger/retention.py). Kafka topics are shared
by every tenant, so they keep records as long as the longest-kept tenant; per-tenant retention is enforced
in ClickHouse (row TTL). Checkpoints are kept forever: they are small and anchor every verification.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType

from auditledger.config import Settings
from auditledger.kafka_security import client_security

FOREVER = "-1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic; events and ledger share the partition count because shard = partition."""
    t = settings.topics
    n = settings.partitions
    raw_retention = str(settings.events_retention_hours * 3600 * 1000)
    approvals_retention = str(max(settings.events_retention_hours, 7 * 24) * 3600 * 1000)
    kept = settings.retention.topic_retention_ms()  # the longest any tenant is kept
    return [
        # Restricted: the only place raw (unmasked) events and credentials live. LogAppendTime: the broker's
        # clock, not the emitter's, is the time a credential is judged at.
        TopicSpec(t.events, n, {"retention.ms": raw_retention, "cleanup.policy": "delete",
                                "message.timestamp.type": "LogAppendTime"}),  # fmt: skip
        # Restricted like audit.events (it carries approvers' tokens and unmasked arguments): compacted by
        # request id, and deleted after the same short retention. Compaction waits a day, so a stream that
        # was down for hours still folds every step; the durable form is the ledger and the state below.
        TopicSpec(t.approvals, n, {"cleanup.policy": "compact,delete", "retention.ms": approvals_retention,
                                   "min.compaction.lag.ms": str(24 * 3600 * 1000)}),  # fmt: skip
        # The stream's folded approval state (masked), written in the ledger's transactions: its changelog.
        TopicSpec(t.approvals_state, n, {"cleanup.policy": "compact"}),
        TopicSpec(t.ledger, n, {"retention.ms": kept, "cleanup.policy": "delete"}),
        TopicSpec(t.checkpoints, n, {"retention.ms": FOREVER, "cleanup.policy": "delete"}),
        TopicSpec(t.deadletter, n, {"retention.ms": kept, "cleanup.policy": "delete"}),
        TopicSpec(t.alerts, n, {"retention.ms": kept, "cleanup.policy": "delete"}),
        TopicSpec(t.siem, n, {"retention.ms": str(30 * 24 * 3600 * 1000), "cleanup.policy": "delete"}),
        # Where each emitter's spool delivery stands, committed with its events (producers/delivery_cursor.py):
        # one partition, compacted by spool id, cleaned often (a restart reads it to its end).
        TopicSpec(t.spool_cursors, 1, {"cleanup.policy": "compact", "segment.ms": str(3600 * 1000),
                                       "min.cleanable.dirty.ratio": "0.1"}),  # fmt: skip
    ]


def ensure_topics(bootstrap: str, settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create missing topics; returns the names created. A wrong partition count is an error."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **client_security(settings), "log_level": 3})
    existing = admin.list_topics(timeout=timeout_s).topics
    wanted = topic_specs(settings)
    for spec in wanted:
        meta = existing.get(spec.name)
        if meta is not None and len(meta.partitions) != spec.partitions:
            raise RuntimeError(f"topic {spec.name} has {len(meta.partitions)} partitions, want {spec.partitions}")
    apply_retention(admin, [s for s in wanted if s.name in existing], timeout_s)
    missing = [s for s in wanted if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, 1, config=s.config) for s in missing], operation_timeout=timeout_s
    )
    for future in futures.values():
        future.result(timeout=timeout_s)
    return [s.name for s in missing]


def apply_retention(admin: AdminClient, specs: list[TopicSpec], timeout_s: float = 30.0) -> None:
    """Set retention.ms on topics that already exist (incremental: their other settings stay as they are)."""
    resources = [
        ConfigResource(ResourceType.TOPIC, s.name, incremental_configs=[
            ConfigEntry("retention.ms", s.config["retention.ms"], incremental_operation=AlterConfigOpType.SET)])
        for s in specs if "retention.ms" in s.config
    ]  # fmt: skip
    if not resources:
        return
    for future in admin.incremental_alter_configs(resources, request_timeout=timeout_s).values():
        future.result(timeout=timeout_s)
