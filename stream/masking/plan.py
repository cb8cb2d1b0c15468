"""What the masking engine is told to do for one event: the policy, resolved for a tenant and action type.

The policy module builds plans; the engine only reads them. Keeping this the one shared shape means
the engine never parses YAML and the policy never walks payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

MaskAction = Literal["redact", "partial", "hash", "drop"]
MASK_ACTIONS: tuple[MaskAction, ...] = ("redact", "partial", "hash", "drop")

# Every detector the engine knows, by the name a policy uses.
DETECTOR_NAMES: tuple[str, ...] = (
    "email",
    "phone",
    "payment_card",
    "us_ssn",
    "iban",
    "ipv4",
    "ipv6",
    "jwt",
    "pem_private_key",
    "aws_access_key",
    "github_token",
    "slack_token",
    "openai_key",
    "bearer_token",
    "url_password",
)

# The event fields scanned by detectors (JSON text fields are parsed and walked leaf by leaf).
SCANNED_FIELDS: tuple[str, ...] = (
    "payload.prompt",
    "payload.parameters",
    "payload.tool_arguments",
    "payload.query",
    "payload.response",
    "payload.attributes",
    "outcome.error",
    "target.name",
)


@dataclass(frozen=True)
class DetectorSetting:
    """One enabled detector and what to do with what it finds. `keep` is for `partial`: trailing
    characters kept in the clear (e.g. 4 for a card number); the detector may keep fewer."""

    action: MaskAction
    keep: int = 4


@dataclass(frozen=True)
class FieldRule:
    """Mask a whole field by path regardless of its content, e.g. `payload.response.rows[*].ssn`.

    Path syntax: dot-separated names from the event root; `[*]` matches every list element, `[N]`
    one element, `*` as a name matches any key. Inside a JSON-text field (parameters,
    tool_arguments, response) the path continues into the parsed JSON.
    """

    rule_id: str
    path: str
    action: MaskAction
    keep: int = 4


@dataclass(frozen=True)
class ScanLimits:
    """Beyond these a payload cannot be scanned with confidence: in strict mode it is refused."""

    max_field_bytes: int = 1_048_576
    max_depth: int = 64
    max_nodes: int = 100_000


@dataclass(frozen=True)
class MaskingPlan:
    """Everything needed to mask one event. `hash_key` is the tenant's derived HMAC key."""

    tenant: str
    detectors: Mapping[str, DetectorSetting]
    field_rules: tuple[FieldRule, ...] = ()
    hash_key_id: str = ""
    hash_key: bytes = b""
    strict: bool = True
    limits: ScanLimits = field(default_factory=ScanLimits)


@dataclass(frozen=True)
class ManifestItem:
    """Evidence that something was masked: where, by which rule, how, how many times. Never the value.

    `rule` is `detector:<name>` for a content detector, `field:<rule_id>` for a field rule, and
    `limit:<name>` for a field withheld because it could not be scanned (non-strict mode).
    """

    path: str
    rule: str
    action: str
    count: int
