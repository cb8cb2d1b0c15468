"""The OCSF checker itself: it must reject an event that breaks a requirement, or the feed's tests prove nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.siem.ocsf_required import problems

VALID_ACTIVITY: dict[str, Any] = {
    "class_uid": 6003, "category_uid": 6, "activity_id": 2, "type_uid": 600302, "severity_id": 1,
    "time": 1_795_000_000_000, "status_id": 1,
    "metadata": {"version": "1.6.0", "product": {"name": "auditledger"}, "uid": "e-1"},
    "actor": {"user": {"uid": "alice", "type_id": 1, "groups": [{"name": "dba"}]}},
    "api": {"operation": "db.query", "service": {"name": "copilot"}, "request": {"uid": "r-1"}},
    "src_endpoint": {"svc_name": "copilot", "ip": "10.0.0.1"},
    "resources": [{"name": "pg://prod", "type": "database"}],
}  # fmt: skip
VALID_FINDING: dict[str, Any] = {
    "class_uid": 2004, "category_uid": 2, "activity_id": 1, "type_uid": 200401, "severity_id": 4,
    "time": 1_795_000_000_000, "status_id": 1,
    "metadata": {"version": "1.6.0", "product": {"name": "auditledger"}},
    "finding_info": {"uid": "a-1", "analytic": {"type_id": 1}, "related_events": [{"uid": "e-1"}]},
}  # fmt: skip


def broken(base: dict[str, Any], path: str, value: Any = None) -> dict[str, Any]:
    """A copy of `base` with the attribute at dotted `path` removed (value None) or replaced."""
    event = copy.deepcopy(base)
    *parents, last = path.split(".")
    target: Any = event
    for name in parents:
        target = target[int(name)] if isinstance(target, list) else target[name]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return event


def test_the_reference_events_are_valid() -> None:
    assert problems(VALID_ACTIVITY) == []
    assert problems(VALID_FINDING) == []


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("actor", None, "event.actor: required"),
        ("api", None, "event.api: required"),
        ("src_endpoint", None, "event.src_endpoint: required"),
        ("metadata", None, "event.metadata: required"),
        ("metadata.product", None, "metadata.product: required"),
        ("metadata.version", None, "metadata.version: required"),
        ("metadata.version", "latest", "metadata.version: 'latest' is not a semantic version"),
        ("metadata.product.name", None, "metadata.product: needs at least one of name, uid"),
        ("time", 1_795_000_000, "event.time: 1795000000 is not a timestamp_t"),
        ("type_uid", 600303, "event.type_uid"),
        ("category_uid", 3, "event.category_uid: 3, want 6"),
        ("activity_id", 5, "event.activity_id: 5 is not one of"),
        ("severity_id", 7, "event.severity_id: 7 is not one of"),
        ("status_id", 3, "event.status_id: 3 is not one of"),
        ("actor.user.uid", None, "actor.user: needs at least one of account, name, uid"),
        ("actor.user.type_id", 5, "actor.user.type_id: 5"),
        ("actor.user.groups.0.name", None, "actor.user.groups[0]: needs at least one of name, uid"),
        ("api.operation", None, "api.operation: required"),
        ("api.request.uid", None, "api.request.uid: required"),
        ("src_endpoint.svc_name", None, None),  # the ip alone still satisfies the endpoint
        ("src_endpoint.ip", "[HASH:ipv4:x]", "src_endpoint.ip: '[HASH:ipv4:x]' is not an IP address"),
        ("resources.0.name", None, "resources[0]: needs at least one of name, uid"),
        ("class_uid", 1001, "event.class_uid: 1001 is not a class this feed carries"),
    ],
)
def test_a_broken_api_activity_is_rejected_with_its_path(path: str, value: Any, complaint: str | None) -> None:
    found = problems(broken(VALID_ACTIVITY, path, value))
    if complaint is None:
        assert found == []
    else:
        assert any(p.startswith(complaint) for p in found), found


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("finding_info", None, "event.finding_info: required"),
        ("finding_info.uid", None, "finding_info.uid: required"),
        ("finding_info.analytic.type_id", None, "finding_info.analytic.type_id: required"),
        ("finding_info.related_events.0.uid", None, "finding_info.related_events[0].uid: required"),
        ("activity_id", 4, "event.activity_id: 4 is not one of"),
        ("status_id", 7, "event.status_id: 7 is not one of"),
        ("category_uid", 6, "event.category_uid: 6, want 2"),
    ],
)
def test_a_broken_finding_is_rejected_with_its_path(path: str, value: Any, complaint: str) -> None:
    found = problems(broken(VALID_FINDING, path, value))
    assert any(p.startswith(complaint) for p in found), found
