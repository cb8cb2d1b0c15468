"""A small checker of what OCSF 1.6.0 requires of the two classes audit.siem carries, and of the objects in them.

Written from the schema (github.com/ocsf/ocsf-schema, tag 1.6.0), not from our mapping:
- base_event.json: activity_id, category_uid, class_uid, type_uid, severity_id, time, metadata required;
  type_uid = class_uid * 100 + activity_id; severity_id in 0-6 or 99; status_id in 0, 1, 2, 99.
- application/api_activity.json (6003, category 6): actor, api, src_endpoint required; activity_id
  0 Unknown, 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
- findings/finding.json + detection_finding.json (2004, category 2): finding_info required; activity_id
  0, 1 Create, 2 Update, 3 Close, 99; status_id 0, 1 New ... 6 Deleted, 99.
- objects: metadata (product, version required); product, service, group, resource_details, _entity
  (at least one of name, uid); actor (at least one of process, user, invoked_by, session, app_name,
  app_uid); user (at least one of account, name, uid; type_id 0-4 or 99); api (operation required);
  request (uid required); network_endpoint (at least one of ip, uid, name, hostname, svc_name,
  instance_uid, interface_uid, interface_name, domain); finding_info (uid required); analytic (type_id
  required); related_event (uid required).
`problems(event)` lists every breach as "path: what"; an empty list means the event is valid.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

BASE_REQUIRED = ("activity_id", "category_uid", "class_uid", "type_uid", "severity_id", "time", "metadata")
CLASSES: dict[int, dict[str, Any]] = {
    6003: {"category": 6, "required": ("actor", "api", "src_endpoint"), "activities": {0, 1, 2, 3, 4, 99},
           "statuses": {0, 1, 2, 99}},
    2004: {"category": 2, "required": ("finding_info",), "activities": {0, 1, 2, 3, 99},
           "statuses": {0, 1, 2, 3, 4, 5, 6, 99}},
}  # fmt: skip
SEVERITIES = {0, 1, 2, 3, 4, 5, 6, 99}
USER_TYPES = {0, 1, 2, 3, 4, 99}
ENTITY = ("name", "uid")
ENDPOINT_ANY = ("ip", "uid", "name", "hostname", "svc_name", "instance_uid", "interface_uid", "interface_name",
                "domain")  # fmt: skip
ACTOR_ANY = ("process", "user", "invoked_by", "session", "app_name", "app_uid")
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
YEAR_2000_MS, YEAR_2100_MS = 946_684_800_000, 4_102_444_800_000


def _required(obj: dict[str, Any], path: str, names: tuple[str, ...], found: list[str]) -> None:
    for name in names:
        if obj.get(name) in (None, "", [], {}):
            found.append(f"{path}.{name}: required, missing")


def _any_of(obj: Any, path: str, names: tuple[str, ...], found: list[str]) -> bool:
    if not isinstance(obj, dict):
        found.append(f"{path}: not an object")
        return False
    if not any(obj.get(n) not in (None, "", [], {}) for n in names):
        found.append(f"{path}: needs at least one of {', '.join(names)}")
    return True


def _int_in(obj: dict[str, Any], path: str, name: str, allowed: set[int], found: list[str]) -> None:
    value = obj.get(name)
    if value is not None and (type(value) is not int or value not in allowed):
        found.append(f"{path}.{name}: {value!r} is not one of {sorted(allowed)}")


def _timestamp(obj: dict[str, Any], path: str, name: str, found: list[str]) -> None:
    value = obj.get(name)
    if value is not None and (type(value) is not int or not YEAR_2000_MS <= value <= YEAR_2100_MS):
        found.append(f"{path}.{name}: {value!r} is not a timestamp_t (epoch milliseconds)")


def _metadata(meta: Any, found: list[str]) -> None:
    if not isinstance(meta, dict):
        return
    _required(meta, "metadata", ("product", "version"), found)
    if isinstance(meta.get("version"), str) and not SEMVER.match(meta["version"]):
        found.append(f"metadata.version: {meta['version']!r} is not a semantic version")
    if meta.get("product") is not None:
        _any_of(meta["product"], "metadata.product", ENTITY, found)
    _timestamp(meta, "metadata", "logged_time", found)


def _user(user: Any, found: list[str]) -> None:
    if not _any_of(user, "actor.user", ("account", "name", "uid"), found):
        return
    _int_in(user, "actor.user", "type_id", USER_TYPES, found)
    if "email_addr" in user and not EMAIL.match(str(user["email_addr"])):
        found.append(f"actor.user.email_addr: {user['email_addr']!r} is not an email address")
    for i, group in enumerate(user.get("groups", [])):
        _any_of(group, f"actor.user.groups[{i}]", ENTITY, found)


def _api_activity(event: dict[str, Any], found: list[str]) -> None:
    actor = event.get("actor")
    if actor is not None and _any_of(actor, "actor", ACTOR_ANY, found) and "user" in actor:
        _user(actor["user"], found)
    api = event.get("api")
    if isinstance(api, dict):
        _required(api, "api", ("operation",), found)
        if "service" in api:
            _any_of(api["service"], "api.service", ENTITY, found)
        if "request" in api:
            _required(api["request"], "api.request", ("uid",), found)
    endpoint = event.get("src_endpoint")
    if endpoint is not None and _any_of(endpoint, "src_endpoint", ENDPOINT_ANY, found) and "ip" in endpoint:
        try:
            ipaddress.ip_address(endpoint["ip"])
        except ValueError:
            found.append(f"src_endpoint.ip: {endpoint['ip']!r} is not an IP address")
    for i, resource in enumerate(event.get("resources", [])):
        _any_of(resource, f"resources[{i}]", ENTITY, found)


def _detection_finding(event: dict[str, Any], found: list[str]) -> None:
    info = event.get("finding_info")
    if not isinstance(info, dict):
        return
    _required(info, "finding_info", ("uid",), found)
    _timestamp(info, "finding_info", "created_time", found)
    if "analytic" in info:
        _required(info["analytic"], "finding_info.analytic", ("type_id",), found)
    for i, related in enumerate(info.get("related_events", [])):
        _required(related, f"finding_info.related_events[{i}]", ("uid",), found)


def problems(event: Any) -> list[str]:
    """Every way `event` breaks what OCSF 1.6.0 requires of its class; [] when it is valid."""
    if not isinstance(event, dict):
        return ["event: not a JSON object"]
    found: list[str] = []
    _required(event, "event", BASE_REQUIRED, found)
    spec = CLASSES.get(event.get("class_uid"))  # type: ignore[arg-type]
    if spec is None:
        return [*found, f"event.class_uid: {event.get('class_uid')!r} is not a class this feed carries"]
    if event.get("category_uid") != spec["category"]:
        found.append(f"event.category_uid: {event.get('category_uid')!r}, want {spec['category']}")
    _int_in(event, "event", "activity_id", spec["activities"], found)
    if event.get("type_uid") != event["class_uid"] * 100 + (event.get("activity_id") or 0):
        found.append(f"event.type_uid: {event.get('type_uid')!r} is not class_uid * 100 + activity_id")
    _int_in(event, "event", "severity_id", SEVERITIES, found)
    _int_in(event, "event", "status_id", spec["statuses"], found)
    _timestamp(event, "event", "time", found)
    _metadata(event.get("metadata"), found)
    _required(event, "event", spec["required"], found)
    if "unmapped" in event and not isinstance(event["unmapped"], dict):
        found.append("event.unmapped: not an object")
    (_api_activity if event["class_uid"] == 6003 else _detection_finding)(event, found)
    return found
