"""One ledger record as an OCSF API Activity event (class 6003, category 6 Application Activity, OCSF 1.6.0).

Input: the LedgerEntry datum as the sequencer builds it (masked; its event's credential is always None,
and nothing here reads that field) plus the record's leaf hash. Output: a JSON-ready dict.

Required by the class and filled from the record: actor (at least one of user, process, session,
app_name, ...), api (operation), src_endpoint (at least one of ip, hostname, svc_name, ...).

Rules (documented in the README's SIEM section):
- activity_id: db.query by the first keyword of its (masked) SQL: SELECT/SHOW/EXPLAIN/... Read (2),
  INSERT/CREATE Create (1), UPDATE/ALTER/MERGE/GRANT/... Update (3), DELETE/DROP/TRUNCATE Delete (4);
  a WITH that names no INSERT/UPDATE/DELETE/MERGE is a Read; several statements or anything else,
  Other (99). retriever.* Read; approval.requested Create; other approval.* Update (a decision changes
  the request); everything else (llm, tool, chain, node) Other (99).
- status: success 1 Success; failure 2 Failure; blocked (the action did not run) 99 Other "Blocked";
  status_detail carries the masked error for both.
- severity_id: 1 Informational; 2 Low for a failure; 3 Medium for a blocked action; 4 High when the
  actor's identity is unverified or the approval section has violations (the record raised an alert).
- actor.user: the verified identity's claims when the token verified, else the claimed actor;
  unmapped.identity.verified says which.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from stream.ocsf import OcsfProduct, class_header, epoch_ms, ledger_position, metadata

API_ACTIVITY = 6003
APPLICATION_CATEGORY = 6
CREATE, READ, UPDATE, DELETE, OTHER = 1, 2, 3, 4, 99
ACTIVITY_NAMES = {CREATE: "Create", READ: "Read", UPDATE: "Update", DELETE: "Delete", OTHER: "Other"}
STATUS = {"success": (1, "Success"), "failure": (2, "Failure"), "blocked": (99, "Blocked")}
USER_TYPES = {"user": (1, "User"), "service": (4, "Service"), "agent": (99, "Agent")}

_SQL_VERBS = {
    **dict.fromkeys(("select", "show", "explain", "describe", "desc", "values", "table"), READ),
    **dict.fromkeys(("insert", "create", "copy"), CREATE),
    **dict.fromkeys(("update", "alter", "merge", "upsert", "replace", "grant", "revoke", "rename"), UPDATE),
    **dict.fromkeys(("delete", "drop", "truncate"), DELETE),
}
_LEADING = re.compile(r"(?:\s+|--[^\n]*\n?|/\*.*?\*/)*\(?\s*([A-Za-z]+)", re.S)
_CTE_WRITE = re.compile(r"\b(?:insert|update|delete|merge)\b", re.I)
_MORE_STATEMENTS = re.compile(r";\s*\S")
_RESOURCE_TYPES = (("llm.", "model"), ("tool.", "tool"), ("db.", "tool"), ("retriever.", "retriever"),
                   ("chain.", "chain"), ("node.", "graph_node"), ("approval.", "requested_action"))  # fmt: skip


def sql_activity(query: str | None) -> int:
    """The CRUD activity of a SQL text by its first keyword; Other when unsure (several statements, unknown)."""
    if not query:
        return OTHER
    found = _LEADING.match(query)
    if found is None or _MORE_STATEMENTS.search(query):
        return OTHER
    verb = found.group(1).lower()
    if verb == "with":
        return OTHER if _CTE_WRITE.search(query) else READ
    return _SQL_VERBS.get(verb, OTHER)


def activity_of(event: Mapping[str, Any]) -> int:
    action_type = event["action"]["type"]
    if action_type == "db.query":
        return sql_activity(event["payload"]["query"])
    if action_type.startswith("retriever."):
        return READ
    if action_type.startswith("approval."):
        return CREATE if action_type == "approval.requested" else UPDATE
    return OTHER


def severity_of(status: str, identity_status: str, approval: Mapping[str, Any] | None) -> int:
    if identity_status == "unverified" or (approval is not None and approval["violations"]):
        return 4
    return {"failure": 2, "blocked": 3}.get(status, 1)


def record_type_uid(event: Mapping[str, Any]) -> int:
    """The type_uid the record's API Activity event carries (findings name it in related_events)."""
    return API_ACTIVITY * 100 + activity_of(event)


def _actor(event: Mapping[str, Any], identity: Mapping[str, Any]) -> dict[str, Any]:
    claimed = event["actor"]
    type_id, type_name = USER_TYPES.get(claimed["kind"], (99, str(claimed["kind"])))
    if identity["status"] == "verified":
        subject, groups = identity["subject"] or claimed["subject"], identity["groups"]
    else:
        subject, groups = claimed["subject"], claimed["groups"]
    user: dict[str, Any] = {"uid": subject, "name": subject, "type_id": type_id, "type": type_name}
    if identity["status"] == "verified" and identity.get("email"):
        user["email_addr"] = identity["email"]
    if groups:
        user["groups"] = [{"name": g} for g in groups]
    return {"user": user, "app_name": event["source"]["service"]}


def _resources(event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the action touched: its target, and the model, tool or chain it acted with."""
    found = []
    target = event["target"]
    if target["name"]:
        found.append({"name": target["name"], "type": target["kind"] or "target"})
    name, action_type = event["action"]["name"], event["action"]["type"]
    if name:
        kind = next((k for prefix, k in _RESOURCE_TYPES if action_type.startswith(prefix)), "action")
        if not found or found[0]["name"] != name:  # a target named like the tool or model is that one thing
            found.append({"name": name, "type": kind})
    return found


def _src_endpoint(source: Mapping[str, Any], unmapped: dict[str, Any]) -> dict[str, Any]:
    """svc_name is always there (the emitting service), so the endpoint's at-least-one constraint holds."""
    endpoint = {"svc_name": source["service"]}
    if source["host"]:
        endpoint["hostname"] = source["host"]
    ip = source["ip"]
    if ip:
        try:
            endpoint["ip"] = str(ipaddress.ip_address(ip))
        except ValueError:  # masked by a field rule: not an address any more, kept as text beside
            unmapped["source_ip"] = ip
    return endpoint


def _approval(section: Mapping[str, Any]) -> dict[str, Any]:
    decisions = [{**d, "decided_at": epoch_ms(d["decided_at"])} for d in section["decisions"]]
    return {**section, "decisions": decisions}


def _correlation(correlation: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in correlation.items() if v is not None and k != "session_id"}


def api_activity(entry: Mapping[str, Any], leaf_hash: bytes, product: OcsfProduct) -> dict[str, Any]:
    """The OCSF API Activity event for one sequenced (masked) ledger record."""
    event, identity, approval = entry["event"], entry["identity"], entry["approval"]
    action, outcome = event["action"], event["outcome"]
    event_id = str(event["event_id"])
    activity = activity_of(event)
    status_id, status = STATUS[outcome["status"]]
    unmapped: dict[str, Any] = {
        "ledger": {
            **ledger_position(entry["shard"], entry["seq"], leaf_hash, event_id),
            "source_topic": entry["source_topic"],
        },  # fmt: skip
        "identity": {
            "verified": identity["status"] == "verified",
            "status": identity["status"],
            "reason": identity["reason"],
            "issuer": identity["issuer"],
            "claimed_subject": event["actor"]["subject"],
        },  # fmt: skip
        "action_name": action["name"],
        "masking": {"policy_digest": entry["masking"]["policy_digest"], "masked": entry["masking"]["items"]},
    }
    correlation = _correlation(event["correlation"])
    if correlation:
        unmapped["correlation"] = correlation
    if event["payload"]["attributes"]:
        unmapped["attributes"] = event["payload"]["attributes"]
    if approval is not None:
        unmapped["approval"] = _approval(approval)
    ocsf = class_header(
        API_ACTIVITY,
        "API Activity",
        APPLICATION_CATEGORY,
        "Application Activity",
        activity,
        ACTIVITY_NAMES[activity],
        severity_of(outcome["status"], identity["status"], approval),
    )
    ocsf.update(
        time=epoch_ms(event["occurred_at"]),
        status_id=status_id,
        status=status,
        message=f"{action['type']} {action['name'] or '-'} by {event['actor']['subject']}: {outcome['status']}",
        actor=_actor(event, identity),
        api={
            "operation": action["type"],
            "service": {"name": event["source"]["service"]},
            "request": {"uid": event["correlation"]["run_id"] or event_id},
        },  # fmt: skip
        src_endpoint=_src_endpoint(event["source"], unmapped),
        metadata=metadata(
            product,
            event_id,
            entry["shard"],
            event["tenant"],
            action["type"],
            correlation_uid=event["correlation"]["session_id"],
            logged_time=epoch_ms(entry["sequenced_at"]),
        ),
        unmapped=unmapped,
    )
    if outcome["status"] != "success":
        ocsf["status_detail"] = outcome["error"] or f"the action's outcome was {outcome['status']}"
    resources = _resources(event)
    if resources:
        ocsf["resources"] = resources
    return ocsf
