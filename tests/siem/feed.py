"""Running events through the stream's real batch step with the SIEM feed on, and reading back what it wrote:
the ledger records, the alerts and the audit.siem messages, decoded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.signed_note import NoteSigner
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.approval_join import ApprovalJoin
from stream.approvals.book import ApprovalBook
from stream.approvals.rules import ApprovalPolicy
from stream.masking.policy import MaskingPolicy
from stream.ocsf import OcsfProduct
from stream.ocsf_feed import OcsfFeed
from stream.sequencer import LedgerSequencer, Output, RawEvent
from stream.shard_chain import ShardChain
from tests.ledger_path import admission, dead_letters

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ORIGIN = "test.example/log"
PRODUCT = OcsfProduct(ORIGIN, version="9.9.9")
SIGNER = NoteSigner.generate(ORIGIN)


def sequencer(store: SchemaStore, policy: MaskingPolicy | None = None,
              approvals: ApprovalPolicy | None = None) -> LedgerSequencer:  # fmt: skip
    gate = admission(policy)
    join = ApprovalJoin(approvals or ApprovalPolicy(), ApprovalBook())
    return LedgerSequencer(store, lambda s: ShardChain(shard=s), ORIGIN, "audit.events", signers=lambda now: [SIGNER],
                           admission=gate, dead_letters=dead_letters(store, gate), approvals=join, clock=lambda: NOW,
                           state_partitions=3, siem=OcsfFeed(PRODUCT))  # fmt: skip


def agent_event(action_type: str = "tool.call", name: str | None = "crm", **fields: Any) -> dict[str, Any]:
    """An AuditEvent datum; `fields` override the JSON form's top-level members."""
    data = {"tenant": "acme", "occurred_at": "2026-11-24T11:59:00.123456Z",
            "actor": {"subject": "agent-7", "kind": "agent", "groups": ["support"]},
            "action": {"type": action_type, "name": name}, "target": {"kind": "tool", "name": name},
            "payload": {"prompt": "hello"}, "outcome": {"status": "success"},
            "source": {"service": "copilot", "host": "worker-1", "ip": "10.1.2.3"},
            "correlation": {"session_id": "sess-1", "run_id": "run-1"}, **fields}  # fmt: skip
    return event_from_json(data)


@dataclass
class Written:
    """One batch's outputs by role; `siem` pairs each audit.siem Output with its decoded JSON."""

    outputs: list[Output]
    ledger: list[dict[str, Any]]
    entries: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    siem: list[tuple[Output, dict[str, Any]]]

    def of_class(self, class_uid: int) -> list[dict[str, Any]]:
        return [ocsf for _, ocsf in self.siem if ocsf["class_uid"] == class_uid]


def run(store: SchemaStore, raws: list[RawEvent], seq: LedgerSequencer | None = None) -> Written:
    result = (seq or sequencer(store)).process(raws, idle=True)
    ledger = [store.decode(o.value, reader="LedgerRecord") for o in result.outputs if o.role == "ledger"]
    return Written(
        outputs=result.outputs,
        ledger=ledger,
        entries=[store.decode(r["entry"], reader="LedgerEntry") for r in ledger],
        alerts=[store.decode(o.value, reader="Alert") for o in result.outputs if o.role == "alerts"],
        siem=[(o, json.loads(o.value)) for o in result.outputs if o.role == "siem"],
    )


def raw(store: SchemaStore, event: dict[str, Any], offset: int = 0, partition: int = 0) -> RawEvent:
    return RawEvent(partition, offset, store.encode("AuditEvent", event), received_at=NOW)
