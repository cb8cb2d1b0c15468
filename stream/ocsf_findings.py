"""One alert as an OCSF Detection Finding (class 2004, category 2 Findings, OCSF 1.6.0).

Input: the Alert datum the sequencer publishes to audit.alerts (its summary and details are masked and
never hold a token), the leaf hash of the record it concerns, and that record's API Activity type_uid.

Facts used: the finding class requires finding_info, whose uid is required (title and analytic are
recommended; analytic requires type_id, 1 = Rule); activity_id 1 Create (the stream only raises
findings); status_id 1 New; related_event requires uid.

Rules: severity_id from the alert's severity (info 1, low 2, medium 3, high 4, critical 5, else 99);
is_alert is false only for an informational alert (approval_violation_cleared, which says that a late
approval made earlier alerts good: their ids are in unmapped.details.cleared_alert_ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream.ocsf import OcsfProduct, class_header, epoch_ms, ledger_position, metadata

DETECTION_FINDING = 2004
FINDINGS_CATEGORY = 2
CREATE = 1
NEW = 1
RULE = 1
SEVERITY_IDS = {"info": 1, "informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
TITLES = {
    "identity_unverified": "Actor identity not verified",
    "identity_missing": "Actor sent no identity token",
    "approval_no_approval": "Privileged action without an approval",
    "approval_rejected": "Privileged action ran after its approval was rejected",
    "approval_revoked": "Privileged action ran after its approval was revoked",
    "approval_expired": "Privileged action ran after its approval expired",
    "approval_fingerprint_mismatch": "Privileged action differs from what was approved",
    "approval_self_approval": "Privileged action approved by its own requester",
    "approval_approver_not_allowed": "Privileged action approved by someone the rule does not allow",
    "approval_approver_unverified": "Privileged action approved by an unverified approver",
    "approval_too_few_approvers": "Privileged action with fewer approvals than its rule needs",
    "approval_violation_cleared": "Late approval cleared earlier approval alerts",
}


def finding_title(kind: str) -> str:
    return TITLES.get(kind) or kind.replace("_", " ").capitalize()


def detection_finding(
    alert: Mapping[str, Any], leaf_hash: bytes, record_type_uid: int, product: OcsfProduct
) -> dict[str, Any]:
    """The OCSF Detection Finding for one alert; unmapped.ledger names the record it concerns."""
    kind, severity = alert["kind"], alert["severity"]
    severity_id = SEVERITY_IDS.get(severity, 99)
    alert_id, event_id = str(alert["alert_id"]), str(alert["event_id"])
    detected = epoch_ms(alert["detected_at"])
    ocsf = class_header(DETECTION_FINDING, "Detection Finding", FINDINGS_CATEGORY, "Findings", CREATE, "Create",
                        severity_id)  # fmt: skip
    if severity_id == 99:
        ocsf["severity"] = severity
    ocsf.update(
        time=detected,
        status_id=NEW,
        status="New",
        is_alert=severity_id != 1,
        message=alert["summary"],
        finding_info={
            "uid": alert_id,
            "title": finding_title(kind),
            "types": [kind],
            "desc": alert["summary"],
            "created_time": detected,
            "analytic": {"type_id": RULE, "type": "Rule", "name": kind},
            "related_events": [{"uid": event_id, "type_uid": record_type_uid}],
        },
        metadata=metadata(
            product, alert_id, alert["shard"], alert["tenant"], kind, correlation_uid=event_id, logged_time=detected
        ),  # fmt: skip
        unmapped={
            "ledger": ledger_position(alert["shard"], alert["seq"], leaf_hash, event_id),
            "details": dict(alert["details"]),
        },
    )
    return ocsf
