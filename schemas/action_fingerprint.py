"""The action fingerprint: what an approval request names and what the executed action must match.

An action names the request that approved it in `payload.attributes[REQUEST_ATTRIBUTE]`; without one, the
stream looks the request up by fingerprint.

Both sides compute it from the unmasked action (the gate before it asks, the stream before it
masks), so an approval for one set of arguments cannot cover another. Arguments are JSON: they are
compared as values (key order and spacing do not matter); anything that is not JSON is compared as
text. The query is compared as written, with outer whitespace removed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

FINGERPRINT_DOMAIN = b"auditledger.action-fingerprint.v1\n"
REQUEST_ATTRIBUTE = "approval_request_id"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity: compared as text, like any other non-JSON


def canonical_arguments(arguments: str | None) -> Any:
    if arguments is None:
        return None
    try:
        return {"json": json.loads(arguments, parse_constant=_refuse_constant)}
    except (ValueError, RecursionError):
        return {"text": arguments}


def action_fingerprint(
    action_type: str, action_name: str | None, arguments: str | None = None, query: str | None = None
) -> str:
    """Hex SHA-256 of a canonical JSON form of (type, name, arguments, query)."""
    body = [action_type, action_name, canonical_arguments(arguments), query.strip() if query is not None else None]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(FINGERPRINT_DOMAIN + text.encode()).hexdigest()


def event_fingerprint(event: Mapping[str, Any]) -> str:
    """The fingerprint of an AuditEvent's action (call it on the event as emitted, before masking)."""
    payload = event["payload"]
    return action_fingerprint(
        event["action"]["type"], event["action"]["name"], payload.get("tool_arguments"), payload.get("query")
    )
