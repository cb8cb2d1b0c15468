"""The masking policy file: what the stream masks in audit events, and which token issuers it trusts.

A policy is a YAML mapping (every key optional except `version`):

    version: 1
    strict: true            # default true: a payload that cannot be parsed or scanned goes to the dead-letter topic
    limits: {max_field_bytes: 1048576, max_depth: 64, max_nodes: 100000}   # positive integers
    hash_key: mk-default    # the masking key id used by `hash` actions, unless a tenant names its own
    detectors:              # detector name -> action, or {action: partial, keep: 4}, or `off`
      email: hash           # unlisted detectors keep their defaults (below)
      payment_card: {action: partial, keep: 4}
      ipv4: off
    rules:                  # field rules: mask a whole field by path regardless of content
      - id: response-ssn    # unique; letters, digits, '.', '_', '-'
        path: payload.response.rows[*].ssn
        action: redact      # redact | partial | hash | drop ; `keep` (default 4) only with partial
        tenants: [acme]     # optional: only for these tenants
        action_types: [db.query, tool.result]   # optional: only for these action types
    action_types:           # per action type detector overrides
      db.query: {detectors: {ipv4: off}}
    tenants:                # per tenant: own hash key, detector overrides, per-action-type overrides
      acme:
        hash_key: mk-acme
        detectors: {phone: off}
        action_types: {llm.request: {detectors: {email: redact}}}
    identity:               # OIDC ID tokens attached to events (stream/identity)
      leeway_s: 60                      # clock skew allowed on exp/nbf/iat, seconds (integer >= 0)
      require_token: false              # true: an event without a token is recorded unverified and alerted
      jwks_refresh_min_interval_s: 5    # at most one JWKS refetch per issuer this often (number >= 0)
      jwks_cache_ttl_s: 3600            # how long fetched keys are trusted (number > 0)
      algorithms: [RS256, ES256]        # of RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA
      issuers:
        - issuer: https://idp.example.com   # https (http only for 127.0.0.1 / localhost)
          audiences: [auditledger]          # required, non-empty
          jwks_file: /etc/auditledger/idp-jwks.json   # exactly one of jwks_file / jwks_url
          tenants: [acme]                   # optional: the tenants this issuer may vouch for (default any)
          groups_claim: groups
          email_claim: email
    approvals:              # just-in-time approvals (stream/approvals): which actions need one, from whom
      late_window_s: 900    # an approval up to this long after its action still clears the violation (integer >= 0)
      forget_after_s: 604800   # a request with no step for this long leaves the table (>= late_window_s; 7 days)
      rules:                # the first rule, in file order, that matches an action covers it
        - name: prod-db-writes                 # unique; letters, digits, '.', '_', '-'
          action_types: [db.query]             # criteria, each optional: all given must match,
          tools: [run_sql]                     #   any listed value within one will do
          resources: ["postgres://prod/*"]     # fnmatch patterns on the event's target.name
          risk: [high, critical]               # of low medium high critical (payload.attributes.risk)
          sql: [ddl, grant, delete_without_where, update_without_where, write]   # db.query only
          tenants: [acme]                      # optional: only for these tenants
          approver_groups: [dba-oncall]        # required: the groups whose members may approve
          approvals: 2                         # distinct approvers needed (positive integer, default 1)

Actions: `redact` replaces the value with a marker, `partial` keeps the last `keep` characters, `hash`
replaces it with an HMAC under the tenant's masking key (equal values stay joinable within a tenant),
`drop` removes the field. Detectors not named anywhere are on, with these defaults (DEFAULT_DETECTORS):
secrets (jwt, pem_private_key, aws_access_key, github_token, slack_token, openai_key, bearer_token,
url_password) -> redact; email, phone, us_ssn, iban, ipv4, ipv6 -> hash; payment_card -> partial, keep 4.

A detector's setting for an event, later wins: defaults < `detectors` < `action_types[a].detectors` <
`tenants[t].detectors` < `tenants[t].action_types[a].detectors`. Field rules apply when their tenants
and action_types (if given) include the event's. Every `hash` that can take effect, by default or by
override, needs a key id: the tenant's `hash_key`, else the top-level one.

Rule paths: dot-separated names from the event root; `name[*]` every element of a list, `name[N]` one,
`*` as a whole name any key, `name["a.b"]` (or `name['a.b']`) a key that is not a simple name. While
the path is inside the event's record fields (payload, outcome, target, ...), names are checked against
the AuditEvent schema; inside JSON text and maps (attributes) they are free.

An approval rule needs at least one of action_types, tools, resources, risk or sql (tenants alone
would cover every action of a tenant); `sql` classes are those of stream.approvals.sql_class and only
db.query actions have them, so `sql` with action_types that leave out db.query is refused. Approval
steps themselves (approval.* action types) are never covered.

Validation is strict: unknown keys, duplicate keys, wrong types, unknown detectors, actions or
algorithms, and YAML aliases are errors (PolicyError: `<source>:<line>: <path.of.key>: <reason>`).
Relative jwks_file paths are taken relative to the policy file's directory when loaded with
load_policy. The digest is the hex SHA-256 of the file's bytes: the stream records which policy masked
an event.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn
from urllib.parse import urlsplit

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stream.approvals.rules import (
    APPROVAL_ACTION_PREFIX,
    DEFAULT_FORGET_AFTER_S,
    DEFAULT_LATE_WINDOW_S,
    RISK_LEVELS,
    SQL_ACTION_TYPE,
    ApprovalPolicy,
    ApprovalRule,
)
from stream.approvals.sql_class import SQL_CLASSES
from stream.identity.config import IdentitySettings, IssuerConfig
from stream.masking.keys import KEY_ID_PATTERN, MaskingKeys
from stream.masking.plan import DETECTOR_NAMES, MASK_ACTIONS, DetectorSetting, FieldRule, MaskingPlan, ScanLimits
from stream.masking.policy_errors import ROOT_PATH, YAML_PATH, PolicyError

POLICY_VERSION = 1
DEFAULT_POLICY_FILE = "default_policy.yaml"
DEFAULT_POLICY_SOURCE = "stream/masking/default_policy.yaml"

SECRET_DETECTORS = frozenset(
    "jwt pem_private_key aws_access_key github_token slack_token openai_key bearer_token url_password".split()
)
JOINABLE_DETECTORS = frozenset("email phone us_ssn iban ipv4 ipv6".split())  # hashed, so analysts can join on them


def _default_setting(name: str) -> DetectorSetting:
    if name in JOINABLE_DETECTORS:
        return DetectorSetting("hash")
    if name == "payment_card":
        return DetectorSetting("partial", 4)
    return DetectorSetting("redact")  # secrets, and any detector added later: the safe choice


DEFAULT_DETECTORS: Mapping[str, DetectorSetting] = MappingProxyType({n: _default_setting(n) for n in DETECTOR_NAMES})
SUPPORTED_ALGORITHMS: tuple[str, ...] = tuple("RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA".split())
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
RULE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PATH_NAME = re.compile(r"\*|[A-Za-z0-9_-]+")
PATH_BRACKET = re.compile(r"""\[(?:(\*)|([0-9]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\]""")
KEY, ANY_KEY, INDEX, ANY_INDEX = "key", "any_key", "index", "any_index"  # path step kinds
SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
MAX_CACHED_PLANS = 4096  # tenant names come from events: bound what an event stream can make us hold

TOP_KEYS = (
    "version",
    "strict",
    "limits",
    "hash_key",
    "detectors",
    "rules",
    "action_types",
    "tenants",
    "identity",
    "approvals",
)
LIMIT_KEYS = ("max_field_bytes", "max_depth", "max_nodes")
RULE_KEYS = ("id", "path", "action", "keep", "tenants", "action_types")
ACTION_TYPE_KEYS = ("detectors",)
TENANT_KEYS = ("hash_key", "detectors", "action_types")
DETECTOR_KEYS = ("action", "keep")
IDENTITY_KEYS = (
    "leeway_s",
    "require_token",
    "jwks_refresh_min_interval_s",
    "jwks_cache_ttl_s",
    "algorithms",
    "issuers",
)
ISSUER_KEYS = ("issuer", "audiences", "jwks_file", "jwks_url", "tenants", "groups_claim", "email_claim")
APPROVALS_KEYS = ("late_window_s", "forget_after_s", "rules")
APPROVAL_RULE_KEYS = (
    "name",
    "action_types",
    "tools",
    "resources",
    "risk",
    "sql",
    "tenants",
    "approver_groups",
    "approvals",
)
APPROVAL_CRITERIA = ("action_types", "tools", "resources", "risk", "sql")  # what narrows a rule below "every action"

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_TEXT_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _TIMESTAMP})  # plain scalars usable as names: `no`, `2024`
_CONSTRUCTOR = yaml.constructor.SafeConstructor()

DetectorLayer = Mapping[str, DetectorSetting | None]  # None: the detector is off


# --------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class TenantOverrides:
    """`tenants[t]`: its own hash key id ("" = the top-level one) and detector overrides."""

    hash_key: str = ""
    detectors: DetectorLayer = field(default_factory=lambda: MappingProxyType({}))
    action_types: Mapping[str, DetectorLayer] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ScopedRule:
    """A field rule and where it applies; empty tenants / action_types mean every one."""

    rule: FieldRule
    tenants: frozenset[str] = frozenset()
    action_types: frozenset[str] = frozenset()

    def applies_to(self, tenant: str, action_type: str) -> bool:
        return (not self.tenants or tenant in self.tenants) and (
            not self.action_types or action_type in self.action_types
        )


@dataclass(frozen=True, eq=False)
class MaskingPolicy:
    """A validated policy. `detectors` is the defaults with the top-level `detectors` applied.

    Plans are cached per (tenant, action type); one policy object is meant for one thread.
    """

    strict: bool
    limits: ScanLimits
    identity: IdentitySettings
    digest: str
    source: str
    hash_key: str = ""
    detectors: DetectorLayer = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_DETECTORS)))
    action_types: Mapping[str, DetectorLayer] = field(default_factory=lambda: MappingProxyType({}))
    tenants: Mapping[str, TenantOverrides] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[ScopedRule, ...] = ()
    approvals: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    _plans: dict[tuple[str, str], tuple[MaskingKeys, MaskingPlan]] = field(default_factory=dict, init=False, repr=False)

    def hash_key_ids(self) -> set[str]:
        """Every masking key id the policy can use (the stream checks them all at start)."""
        ids = {self.hash_key} | {t.hash_key for t in self.tenants.values()}
        return {key_id for key_id in ids if key_id}

    def hash_key_id_for(self, tenant: str) -> str:
        overrides = self.tenants.get(tenant)
        return (overrides.hash_key if overrides else "") or self.hash_key

    def preview(self, tenant: str, action_type: str) -> MaskingPlan:
        """The plan for a tenant and action type with hash_key left empty: for display, never for masking."""
        overrides = self.tenants.get(tenant, TenantOverrides())
        settings: dict[str, DetectorSetting | None] = dict(self.detectors)
        for layer in (
            self.action_types.get(action_type, {}),
            overrides.detectors,
            overrides.action_types.get(action_type, {}),
        ):
            settings.update(layer)
        detectors = {name: settings[name] for name in DETECTOR_NAMES if settings.get(name) is not None}
        return MaskingPlan(
            tenant=tenant,
            detectors=MappingProxyType(detectors),
            field_rules=tuple(r.rule for r in self.rules if r.applies_to(tenant, action_type)),
            hash_key_id=self.hash_key_id_for(tenant),
            strict=self.strict,
            limits=self.limits,
        )

    def plan_for(self, tenant: str, action_type: str, keys: MaskingKeys) -> MaskingPlan:
        """What the engine needs for one event. hash_key is derived (keys.tenant_key) when the plan hashes
        anything; otherwise it is empty and no key file is read."""
        cached = self._plans.get((tenant, action_type))
        if cached is not None and cached[0] is keys:
            return cached[1]
        plan = self.preview(tenant, action_type)
        if plan_uses_hash(plan):
            # Validation guarantees a key id wherever hash can take effect.
            plan = replace(plan, hash_key=keys.tenant_key(plan.hash_key_id, tenant))
        if len(self._plans) >= MAX_CACHED_PLANS:
            self._plans.clear()
        self._plans[(tenant, action_type)] = (keys, plan)
        return plan


def plan_uses_hash(plan: MaskingPlan) -> bool:
    return any(s.action == "hash" for s in plan.detectors.values()) or any(r.action == "hash" for r in plan.field_rules)


# --------------------------------------------------------------------------------------------- loading


def parse_policy(text: str, source: str = "<policy>", *, base_dir: Path | None = None) -> MaskingPolicy:
    """Validate policy text; `source` names it in errors; relative jwks_file paths join `base_dir` if given."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    root = _compose(text, source)
    return _PolicyReader(source, base_dir).policy(root, digest)


def load_policy(path: str | Path) -> MaskingPolicy:
    """Read and validate a policy file (UTF-8); errors name the file as given."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(str(path), None, None, f"cannot read policy file: {exc.strerror}") from None
    return _parse_bytes(data, str(path), path.parent)


def default_policy() -> MaskingPolicy:
    """The policy shipped in the package (stream/masking/default_policy.yaml); a new object each call."""
    data = resources.files("stream.masking").joinpath(DEFAULT_POLICY_FILE).read_bytes()
    return _parse_bytes(data, DEFAULT_POLICY_SOURCE, None)


def _parse_bytes(data: bytes, source: str, base_dir: Path | None) -> MaskingPolicy:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PolicyError(source, line, YAML_PATH, f"not UTF-8 text (byte {exc.start})") from None
    return parse_policy(text, source, base_dir=base_dir)


class _AliasNode(Node):
    """Stands where the YAML had an alias (*name), so the walk can refuse it with the key's path."""

    id = "alias"

    def __init__(self, anchor: str, start_mark: Any, end_mark: Any) -> None:
        super().__init__(None, anchor, start_mark, end_mark)


class _PolicyLoader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            return _AliasNode(event.anchor, event.start_mark, event.end_mark)
        return super().compose_node(parent, index)


def _compose(text: str, source: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=_PolicyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = ": ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise PolicyError(source, line, YAML_PATH, f"YAML syntax error: {what}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise PolicyError(source, line, YAML_PATH, f"YAML syntax error: {exc.reason} ({exc.character!r})") from None
    except yaml.YAMLError as exc:
        raise PolicyError(source, 1, YAML_PATH, f"YAML syntax error: {exc}") from None


# --------------------------------------------------------------------------------------------- paths


def join_path(path: str, key: str) -> str:
    """`limits.max_depth`; keys that are not simple names are quoted: `action_types["db.query"]`."""
    if SIMPLE_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def check_path_syntax(text: str) -> list[tuple[str, str | int | None]]:
    """A field-rule path as steps (KEY name, ANY_KEY, INDEX n, ANY_INDEX); ValueError with the reason if malformed.

    Names are letters, digits, '_' and '-', or `*`; after a name, `[*]`, `[N]` or a quoted key
    (`["a.b"]` with JSON escapes, or `['a.b']`) for keys that are not simple names.
    """
    if not text:
        raise ValueError("empty path")
    if text != text.strip():
        raise ValueError("path has leading or trailing spaces")
    steps: list[tuple[str, str | int | None]] = []
    pos = 0
    while True:
        name = PATH_NAME.match(text, pos)
        if name is None:
            if text[pos] == ".":
                raise ValueError(f"empty name at character {pos + 1} (two dots, or a dot at the start)")
            raise ValueError(
                f"unexpected {text[pos]!r} at character {pos + 1}: want a name of letters, digits, '_' or '-', or *"
            )
        steps.append((ANY_KEY, None) if name.group() == "*" else (KEY, name.group()))
        pos = name.end()
        while pos < len(text) and text[pos] == "[":
            bracket = PATH_BRACKET.match(text, pos)
            if bracket is None:
                raise ValueError(f'bad brackets at character {pos + 1}: want [*], [N] or a quoted key ["..."]')
            every, number, json_key, raw_key = bracket.groups()
            if every is not None:
                steps.append((ANY_INDEX, None))
            elif number is not None:
                steps.append((INDEX, int(number)))
            elif json_key is not None:
                try:
                    steps.append((KEY, json.loads(f'"{json_key}"')))
                except ValueError:
                    raise ValueError(f"bad escape in the quoted key at character {pos + 1}") from None
            else:
                steps.append((KEY, raw_key))
            pos = bracket.end()
        if pos == len(text):
            return steps
        if text[pos] != ".":
            raise ValueError(f"unexpected {text[pos]!r} at character {pos + 1}: want '.', '[*]' or '[N]' after a name")
        pos += 1
        if pos == len(text):
            raise ValueError("empty name after the last dot")


def _engine_parse_path() -> Callable[[str], Any] | None:
    """The masking engine's own path parser, when that module exists (it is written alongside this one)."""
    try:
        from stream.masking.paths import parse_path
    except ImportError:
        return None
    return parse_path


_EVENT_SCHEMA: dict[str, Any] | None = None


def _event_schema() -> dict[str, Any] | None:
    """schemas/AuditEvent.avsc, found without importing the schemas package (which needs fastavro)."""
    global _EVENT_SCHEMA
    if _EVENT_SCHEMA is None:
        spec = importlib.util.find_spec("schemas")
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        for location in locations:
            try:
                _EVENT_SCHEMA = json.loads((Path(location) / "AuditEvent.avsc").read_text(encoding="utf-8"))
                break
            except (OSError, ValueError):
                continue
    return _EVENT_SCHEMA


def _record_of(avro_type: Any) -> dict[str, Any] | None:
    """The record schema a field holds (through a ["null", record] union), or None."""
    if isinstance(avro_type, list):
        members = [t for t in avro_type if t != "null"]
        avro_type = members[0] if len(members) == 1 else None
    if isinstance(avro_type, dict) and avro_type.get("type") == "record":
        return avro_type
    return None


def check_event_path(steps: list[tuple[str, str | int | None]]) -> str | None:
    """Why a path cannot match an AuditEvent field (names checked while inside records), or None."""
    record = _event_schema()
    prefix = ""
    for kind, arg in steps:
        if record is None or kind == ANY_KEY:
            return None
        if kind != KEY:
            return f"{prefix} is a record, not a list: no [..] after it"
        fields = {f["name"]: f["type"] for f in record.get("fields", [])}
        if arg not in fields:
            where = f"{prefix} has" if prefix else "the event has"
            return f"{where} no field {arg!r}; its fields: {', '.join(fields)}"
        prefix = f"{prefix}.{arg}" if prefix else str(arg)
        record = _record_of(fields[str(arg)])
    return None


# --------------------------------------------------------------------------------------------- the walk


def _describe(node: Node) -> str:
    if isinstance(node, _AliasNode):
        return f"an alias (*{node.value})"
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = node.value if len(node.value) <= 60 else node.value[:57] + "..."
    return {
        _NULL: "null (nothing)",
        _BOOL: f"the boolean {value}",
        _INT: f"the integer {value}",
        _FLOAT: f"the number {value}",
        _STR: f"the string {value!r}",
        _TIMESTAMP: f"the timestamp {value}",
    }.get(node.tag, f"a value tagged {node.tag}")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass
class _Choice:
    """One detector setting as written, with where: to point at the `hash` that has no key."""

    setting: DetectorSetting | None
    node: Node | None  # None: a built-in default
    path: str


class _PolicyReader:
    def __init__(self, source: str, base_dir: Path | None) -> None:
        self.source = source
        self.base_dir = base_dir
        self.root_node: Node | None = None

    # -- primitives

    def fail(self, node: Node | None, path: str, reason: str) -> NoReturn:
        line = node.start_mark.line + 1 if node is not None else 1
        raise PolicyError(self.source, line, path or ROOT_PATH, reason)

    def want(self, node: Node, path: str, what: str) -> NoReturn:
        if isinstance(node, _AliasNode):
            self.fail(node, path, f"aliases (*{node.value}) are not supported in a policy: write the value out")
        self.fail(node, path, f"want {what}, got {_describe(node)}")

    def mapping(self, node: Node, path: str, known: tuple[str, ...] | None, what: str) -> dict[str, tuple[Node, Node]]:
        """Entries by key in file order; refuses duplicate keys, and unknown ones when `known` is given."""
        if not isinstance(node, MappingNode):
            self.want(node, path, what)
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.fail(key_node, path, "merge keys (<<) are not supported in a policy: write the keys out")
            if not isinstance(key_node, ScalarNode) or key_node.tag not in _TEXT_TAGS or not key_node.value:
                self.fail(key_node, path, f"want a name as key, got {_describe(key_node)}")
            key = key_node.value
            key_path = join_path(path, key)
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                self.fail(key_node, key_path, f"duplicate key {key!r} (first at line {first})")
            if known is not None and key not in known:
                self.fail(key_node, key_path, f"unknown key {key!r}; known keys: {', '.join(known)}")
            entries[key] = (key_node, value_node)
        return entries

    def optional_mapping(
        self, node: Node, path: str, known: tuple[str, ...] | None, what: str
    ) -> dict[str, tuple[Node, Node]]:
        """As mapping, but an empty value (`detectors:` with everything commented out) is an empty mapping."""
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            return {}
        return self.mapping(node, path, known, what)

    def sequence(self, node: Node, path: str, what: str, *, allow_null: bool = False) -> list[Node]:
        if allow_null and isinstance(node, ScalarNode) and node.tag == _NULL:
            return []
        if not isinstance(node, SequenceNode):
            self.want(node, path, what)
        return list(node.value)

    def text(self, node: Node, path: str, what: str = "a string") -> str:
        """A scalar's text as written: names like `no` or `2024` stay names; null, lists, mappings fail."""
        if not isinstance(node, ScalarNode) or node.tag not in _TEXT_TAGS:
            self.want(node, path, what)
        if not node.value.strip():
            self.fail(node, path, f"want {what}, got an empty string")
        return node.value

    def boolean(self, node: Node, path: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL:
            self.want(node, path, "true or false")
        return bool(_CONSTRUCTOR.construct_yaml_bool(node))

    def integer(self, node: Node, path: str, minimum: int) -> int:
        what = "a positive integer" if minimum == 1 else "a non-negative integer" if minimum == 0 else "an integer"
        if not isinstance(node, ScalarNode) or node.tag != _INT:
            self.want(node, path, what)
        value = int(_CONSTRUCTOR.construct_yaml_int(node))
        if value < minimum:
            self.fail(node, path, f"want {what}, got {value}")
        return value

    def number(self, node: Node, path: str, *, positive: bool) -> float:
        what = "a positive number" if positive else "a non-negative number"
        if not isinstance(node, ScalarNode) or node.tag not in (_INT, _FLOAT):
            self.want(node, path, what)
        if node.tag == _INT:
            value = float(_CONSTRUCTOR.construct_yaml_int(node))
        else:
            value = float(_CONSTRUCTOR.construct_yaml_float(node))
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            self.fail(node, path, f"want {what}, got {node.value}")
        return value

    def names(self, node: Node, path: str, what: str) -> tuple[str, ...]:
        """A non-empty list of names, duplicates dropped, file order kept."""
        items = self.sequence(node, path, f"a list of {what}")
        if not items:
            self.fail(node, path, f"empty list: name at least one of the {what}, or leave the key out")
        names = [self.text(item, f"{path}[{i}]", f"a name of {what}") for i, item in enumerate(items)]
        return tuple(dict.fromkeys(names))

    def key_id(self, node: Node, path: str) -> str:
        key_id = self.text(node, path, "a masking key id")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            self.fail(
                node,
                path,
                f"{_shown(key_id)} is not a masking key id: want a letter or digit, then up to 63 letters, "
                "digits, '.', '_' or '-'",
            )
        return key_id

    def action(self, node: Node, path: str) -> str:
        value = self.text(node, path, f"an action ({', '.join(MASK_ACTIONS)})")
        if value not in MASK_ACTIONS:
            self.fail(node, path, f"{_shown(value)} is not one of {', '.join(MASK_ACTIONS)}")
        return value

    # -- sections

    def policy(self, root: Node | None, digest: str) -> MaskingPolicy:
        if root is None:
            raise PolicyError(
                self.source, 1, ROOT_PATH, f"empty policy: want a mapping starting with version: {POLICY_VERSION}"
            )
        self.root_node = root
        entries = self.mapping(root, "", TOP_KEYS, "a mapping of policy settings (version, detectors, rules, ...)")
        if "version" not in entries:
            self.fail(root, "version", f"missing: a policy starts with version: {POLICY_VERSION}")
        version_node = entries["version"][1]
        version = self.integer(version_node, "version", 1)
        if version != POLICY_VERSION:
            self.fail(
                version_node,
                "version",
                f"unsupported version {version}: this auditledger reads version {POLICY_VERSION}",
            )

        strict = True
        limits = ScanLimits()
        hash_key = ""
        top: dict[str, _Choice] = {}
        rules: list[tuple[ScopedRule, Node]] = []
        action_types: dict[str, dict[str, _Choice]] = {}
        tenants: dict[str, tuple[str, dict[str, _Choice], dict[str, dict[str, _Choice]]]] = {}
        identity = IdentitySettings()
        approvals = ApprovalPolicy()
        for key, (_, value) in entries.items():
            if key == "strict":
                strict = self.boolean(value, "strict")
            elif key == "limits":
                limits = self.limits(value)
            elif key == "hash_key":
                hash_key = self.key_id(value, "hash_key")
            elif key == "detectors":
                top = self.detector_layer(value, "detectors")
            elif key == "rules":
                rules = self.rules(value)
            elif key == "action_types":
                action_types = self.action_type_layers(value, "action_types")
            elif key == "tenants":
                tenants = self.tenants(value)
            elif key == "identity":
                identity = self.identity(value)
            elif key == "approvals":
                approvals = self.approvals(value)

        self.check_hash_keys(hash_key, top, action_types, tenants, rules)
        detectors: dict[str, DetectorSetting | None] = dict(DEFAULT_DETECTORS)
        detectors.update({name: choice.setting for name, choice in top.items()})
        return MaskingPolicy(
            strict=strict,
            limits=limits,
            identity=identity,
            digest=digest,
            source=self.source,
            hash_key=hash_key,
            detectors=MappingProxyType(detectors),
            action_types=MappingProxyType({a: _settings(layer) for a, layer in action_types.items()}),
            tenants=MappingProxyType(
                {
                    name: TenantOverrides(
                        hash_key=tenant_key,
                        detectors=_settings(layer),
                        action_types=MappingProxyType({a: _settings(l2) for a, l2 in per_type.items()}),
                    )
                    for name, (tenant_key, layer, per_type) in tenants.items()
                }
            ),
            rules=tuple(rule for rule, _ in rules),
            approvals=approvals,
        )

    def limits(self, node: Node) -> ScanLimits:
        entries = self.mapping(node, "limits", LIMIT_KEYS, "a mapping of scan limits")
        values = {key: self.integer(value, join_path("limits", key), 1) for key, (_, value) in entries.items()}
        return ScanLimits(**values)

    def detector_layer(self, node: Node, path: str) -> dict[str, _Choice]:
        entries = self.optional_mapping(node, path, None, "a mapping of detector name to action")
        layer: dict[str, _Choice] = {}
        for name, (key_node, value) in entries.items():
            here = join_path(path, name)
            if name not in DETECTOR_NAMES:
                self.fail(key_node, here, f"unknown detector {name!r}; known detectors: {', '.join(DETECTOR_NAMES)}")
            layer[name] = self.detector_setting(value, here)
        return layer

    def detector_setting(self, node: Node, path: str) -> _Choice:
        forms = f"an action ({', '.join(MASK_ACTIONS)}), off, or {{action: partial, keep: N}}"
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            if not _CONSTRUCTOR.construct_yaml_bool(node):
                return _Choice(None, node, path)
            self.fail(node, path, f"{node.value!r} does not say what to do: want {forms}")
        if isinstance(node, ScalarNode) and node.tag == _STR and node.value == "off":
            return _Choice(None, node, path)
        if isinstance(node, ScalarNode) and node.tag in _TEXT_TAGS:
            value = node.value
            if value not in MASK_ACTIONS:
                self.fail(node, path, f"{_shown(value)} is not one of {', '.join(MASK_ACTIONS)} (or off)")
            return _Choice(DetectorSetting(value), node, path)  # type: ignore[arg-type]
        if not isinstance(node, MappingNode):
            self.want(node, path, forms)
        entries = self.mapping(node, path, DETECTOR_KEYS, forms)
        if "action" not in entries:
            self.fail(node, join_path(path, "action"), "missing: say which action (redact, partial, hash, drop)")
        action_node = entries["action"][1]
        action = self.action(action_node, join_path(path, "action"))
        keep = self.keep(entries, path, action)
        return _Choice(DetectorSetting(action, keep), action_node, join_path(path, "action"))  # type: ignore[arg-type]

    def keep(self, entries: dict[str, tuple[Node, Node]], path: str, action: str) -> int:
        if "keep" not in entries:
            return 4
        key_node, value = entries["keep"]
        if action != "partial":
            self.fail(key_node, join_path(path, "keep"), f"keep only applies to action partial, not {action}")
        return self.integer(value, join_path(path, "keep"), 0)

    def action_type_layers(self, node: Node, path: str) -> dict[str, dict[str, _Choice]]:
        entries = self.optional_mapping(node, path, None, "a mapping of action type to {detectors: ...}")
        layers: dict[str, dict[str, _Choice]] = {}
        for name, (_, value) in entries.items():
            here = join_path(path, name)
            inner = self.mapping(value, here, ACTION_TYPE_KEYS, "a mapping with detectors")
            layers[name] = self.detector_layer(inner["detectors"][1], join_path(here, "detectors")) if inner else {}
        return layers

    def tenants(self, node: Node) -> dict[str, tuple[str, dict[str, _Choice], dict[str, dict[str, _Choice]]]]:
        entries = self.optional_mapping(node, "tenants", None, "a mapping of tenant name to its settings")
        tenants: dict[str, tuple[str, dict[str, _Choice], dict[str, dict[str, _Choice]]]] = {}
        for name, (_, value) in entries.items():
            here = join_path("tenants", name)
            inner = self.mapping(value, here, TENANT_KEYS, "a mapping (hash_key, detectors, action_types)")
            tenant_key = self.key_id(inner["hash_key"][1], join_path(here, "hash_key")) if "hash_key" in inner else ""
            layer = (
                self.detector_layer(inner["detectors"][1], join_path(here, "detectors")) if "detectors" in inner else {}
            )
            per_type = (
                self.action_type_layers(inner["action_types"][1], join_path(here, "action_types"))
                if "action_types" in inner
                else {}
            )
            tenants[name] = (tenant_key, layer, per_type)
        return tenants

    def rules(self, node: Node) -> list[tuple[ScopedRule, Node]]:
        items = self.sequence(node, "rules", "a list of field rules", allow_null=True)
        rules: list[tuple[ScopedRule, Node]] = []
        first_line: dict[str, int] = {}
        for index, item in enumerate(items):
            here = f"rules[{index}]"
            entries = self.mapping(item, here, RULE_KEYS, "a mapping (id, path, action, ...)")
            for required in ("id", "path", "action"):
                if required not in entries:
                    self.fail(item, join_path(here, required), "missing: a rule needs id, path and action")
            id_node = entries["id"][1]
            rule_id = self.text(id_node, join_path(here, "id"), "a rule id")
            if not RULE_ID_PATTERN.fullmatch(rule_id):
                self.fail(
                    id_node,
                    join_path(here, "id"),
                    f"{_shown(rule_id)} is not a rule id: want a letter or digit, then up to 127 letters, "
                    "digits, '.', '_' or '-'",
                )
            if rule_id in first_line:
                self.fail(
                    id_node,
                    join_path(here, "id"),
                    f"duplicate rule id {rule_id!r} (first at line {first_line[rule_id]})",
                )
            first_line[rule_id] = id_node.start_mark.line + 1
            path_node = entries["path"][1]
            path = self.rule_path(path_node, join_path(here, "path"))
            action_node = entries["action"][1]
            action = self.action(action_node, join_path(here, "action"))
            keep = self.keep(entries, here, action)
            tenants = (
                self.names(entries["tenants"][1], join_path(here, "tenants"), "tenants") if "tenants" in entries else ()
            )
            action_types = (
                self.names(entries["action_types"][1], join_path(here, "action_types"), "action types")
                if "action_types" in entries
                else ()
            )
            rule = FieldRule(rule_id=rule_id, path=path, action=action, keep=keep)  # type: ignore[arg-type]
            rules.append((ScopedRule(rule, frozenset(tenants), frozenset(action_types)), action_node))
        return rules

    def rule_path(self, node: Node, path: str) -> str:
        text = self.text(node, path, "a field path such as payload.response.rows[*].ssn")
        try:
            segments = check_path_syntax(text)
        except ValueError as exc:
            self.fail(node, path, f"bad field path {_shown(text)}: {exc}")
        parse_path = _engine_parse_path()
        if parse_path is not None:
            try:
                parse_path(text)
            except ValueError as exc:
                self.fail(node, path, f"bad field path {_shown(text)}: {exc}")
        reason = check_event_path(segments)
        if reason is not None:
            self.fail(node, path, f"field path {_shown(text)} cannot match: {reason}")
        return text

    def identity(self, node: Node) -> IdentitySettings:
        entries = self.mapping(node, "identity", IDENTITY_KEYS, "a mapping of identity settings")
        values: dict[str, Any] = {}
        for key, (_, value) in entries.items():
            here = join_path("identity", key)
            if key == "leeway_s":
                values[key] = self.integer(value, here, 0)
            elif key == "require_token":
                values[key] = self.boolean(value, here)
            elif key == "jwks_refresh_min_interval_s":
                values[key] = self.number(value, here, positive=False)
            elif key == "jwks_cache_ttl_s":
                values[key] = self.number(value, here, positive=True)
            elif key == "algorithms":
                values[key] = self.algorithms(value, here)
            elif key == "issuers":
                values[key] = self.issuers(value, here)
        return IdentitySettings(**values)

    def algorithms(self, node: Node, path: str) -> tuple[str, ...]:
        items = self.sequence(node, path, "a list of signature algorithms")
        if not items:
            self.fail(node, path, f"empty list: name at least one of {', '.join(SUPPORTED_ALGORITHMS)}")
        names: list[str] = []
        for index, item in enumerate(items):
            here = f"{path}[{index}]"
            name = self.text(item, here, "an algorithm name")
            if name.lower() == "none":
                self.fail(
                    item,
                    here,
                    f"{name!r} is refused: it means an unsigned token, which anyone can write, so it proves nothing",
                )
            if name.upper().startswith("HS"):
                self.fail(
                    item,
                    here,
                    f"{name!r} is refused: HMAC tokens are checked with the issuer's shared secret, so whoever can "
                    f"check them can forge them; use one of {', '.join(SUPPORTED_ALGORITHMS)}",
                )
            if name not in SUPPORTED_ALGORITHMS:
                self.fail(item, here, f"{_shown(name)} is not one of {', '.join(SUPPORTED_ALGORITHMS)}")
            names.append(name)
        return tuple(dict.fromkeys(names))

    def url(self, node: Node, path: str, what: str) -> str:
        text = self.text(node, path, what)
        try:
            parts = urlsplit(text)
            host = parts.hostname
            _ = parts.port  # raises ValueError for a port that is not a number
        except ValueError as exc:
            self.fail(node, path, f"{_shown(text)} is not a URL: {exc}")
        if parts.scheme not in ("https", "http") or not host:
            self.fail(node, path, f"{_shown(text)} is not an https URL with a host")
        if parts.username is not None or parts.password is not None:
            self.fail(node, path, "a URL here must not carry a user name or password")
        if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
            self.fail(
                node,
                path,
                f"{_shown(text)} is plain http: want https (http only for 127.0.0.1 or localhost), since keys "
                "or issuers reached over plain http can be swapped in transit",
            )
        return text

    def issuers(self, node: Node, path: str) -> tuple[IssuerConfig, ...]:
        items = self.sequence(node, path, "a list of issuers", allow_null=True)
        issuers: list[IssuerConfig] = []
        first_line: dict[str, int] = {}
        for index, item in enumerate(items):
            here = f"{path}[{index}]"
            entries = self.mapping(item, here, ISSUER_KEYS, "a mapping (issuer, audiences, jwks_file or jwks_url, ...)")
            for required in ("issuer", "audiences"):
                if required not in entries:
                    self.fail(item, join_path(here, required), f"missing: an issuer needs {required}")
            issuer_node = entries["issuer"][1]
            issuer = self.url(issuer_node, join_path(here, "issuer"), "the issuer URL (the tokens' iss claim)")
            if issuer in first_line:
                self.fail(
                    issuer_node,
                    join_path(here, "issuer"),
                    f"duplicate issuer {issuer!r} (first at line {first_line[issuer]})",
                )
            first_line[issuer] = issuer_node.start_mark.line + 1
            audiences = self.names(entries["audiences"][1], join_path(here, "audiences"), "audiences")
            has_file, has_url = "jwks_file" in entries, "jwks_url" in entries
            if has_file and has_url:
                self.fail(
                    entries["jwks_url"][0],
                    join_path(here, "jwks_url"),
                    "both jwks_file and jwks_url are set: give exactly one source of the issuer's keys",
                )
            if not has_file and not has_url:
                self.fail(item, join_path(here, "jwks_file"), "missing: give exactly one of jwks_file or jwks_url")
            jwks_file = jwks_url = ""
            if has_file:
                written = Path(self.text(entries["jwks_file"][1], join_path(here, "jwks_file"), "a file path"))
                written = written.expanduser()
                jwks_file = str(self.base_dir / written if self.base_dir and not written.is_absolute() else written)
            else:
                jwks_url = self.url(entries["jwks_url"][1], join_path(here, "jwks_url"), "the issuer's JWKS URL")
            extra: dict[str, Any] = {}
            if "tenants" in entries:
                extra["tenants"] = self.names(entries["tenants"][1], join_path(here, "tenants"), "tenants")
            for claim in ("groups_claim", "email_claim"):
                if claim in entries:
                    extra[claim] = self.text(entries[claim][1], join_path(here, claim), "a claim name")
            issuers.append(IssuerConfig(issuer, audiences, jwks_file=jwks_file, jwks_url=jwks_url, **extra))
        return tuple(issuers)

    def approvals(self, node: Node) -> ApprovalPolicy:
        what = "a mapping (late_window_s, forget_after_s, rules)"
        entries = self.optional_mapping(node, "approvals", APPROVALS_KEYS, what)
        late_window_s = DEFAULT_LATE_WINDOW_S
        rules: tuple[ApprovalRule, ...] = ()
        if "late_window_s" in entries:
            late_window_s = self.integer(entries["late_window_s"][1], "approvals.late_window_s", 0)
        forget_after_s = max(DEFAULT_FORGET_AFTER_S, late_window_s)
        if "forget_after_s" in entries:
            node = entries["forget_after_s"][1]
            forget_after_s = self.integer(node, "approvals.forget_after_s", 1)
            if forget_after_s < late_window_s:
                self.fail(node, "approvals.forget_after_s",
                          f"want at least late_window_s ({late_window_s}), got {forget_after_s}")  # fmt: skip
        if "rules" in entries:
            rules = self.approval_rules(entries["rules"][1], "approvals.rules")
        return ApprovalPolicy(rules=rules, late_window_s=late_window_s, forget_after_s=forget_after_s)

    def approval_rules(self, node: Node, path: str) -> tuple[ApprovalRule, ...]:
        items = self.sequence(node, path, "a list of approval rules", allow_null=True)
        rules: list[ApprovalRule] = []
        first_line: dict[str, int] = {}
        for index, item in enumerate(items):
            here = f"{path}[{index}]"
            entries = self.mapping(item, here, APPROVAL_RULE_KEYS, "a mapping (name, approver_groups, criteria ...)")
            for required in ("name", "approver_groups"):
                if required not in entries:
                    self.fail(item, join_path(here, required), "missing: a rule needs name and approver_groups")
            name_node = entries["name"][1]
            name = self.text(name_node, join_path(here, "name"), "a rule name")
            if not RULE_ID_PATTERN.fullmatch(name):
                self.fail(
                    name_node,
                    join_path(here, "name"),
                    f"{_shown(name)} is not a rule name: want a letter or digit, then up to 127 letters, "
                    "digits, '.', '_' or '-'",
                )
            if name in first_line:
                self.fail(
                    name_node,
                    join_path(here, "name"),
                    f"duplicate approval rule name {name!r} (first at line {first_line[name]})",
                )
            first_line[name] = name_node.start_mark.line + 1
            action_types = self.optional_names(entries, "action_types", here, "action types")
            if action_types:
                self.check_not_approval_steps(entries["action_types"][1], join_path(here, "action_types"))
            tools = self.optional_names(entries, "tools", here, "tool or model names")
            resources = self.optional_names(entries, "resources", here, "resource patterns")
            risks = self.choices(entries, "risk", here, RISK_LEVELS, "risk levels")
            sql = self.choices(entries, "sql", here, SQL_CLASSES, "SQL classes")
            tenants = self.optional_names(entries, "tenants", here, "tenants")
            if not any(key in entries for key in APPROVAL_CRITERIA):
                self.fail(
                    item,
                    here,
                    f"no criteria: this rule would cover every action{' of its tenants' if tenants else ''}; give "
                    "at least one of action_types, tools, resources, risk or sql",
                )
            if sql and action_types and SQL_ACTION_TYPE not in action_types:
                self.fail(
                    entries["sql"][0],
                    join_path(here, "sql"),
                    f"sql can never match: only {SQL_ACTION_TYPE} actions have SQL classes, and action_types "
                    f"(line {entries['action_types'][0].start_mark.line + 1}) does not list {SQL_ACTION_TYPE}",
                )
            groups_node = entries["approver_groups"][1]
            if isinstance(groups_node, SequenceNode) and not groups_node.value:
                self.fail(groups_node, join_path(here, "approver_groups"), "empty list: nobody could approve")
            approver_groups = self.names(groups_node, join_path(here, "approver_groups"), "approver groups")
            approvals = (
                self.integer(entries["approvals"][1], join_path(here, "approvals"), 1) if "approvals" in entries else 1
            )
            rules.append(
                ApprovalRule(
                    name=name,
                    approver_groups=approver_groups,
                    approvals=approvals,
                    action_types=frozenset(action_types),
                    tools=frozenset(tools),
                    resources=resources,
                    risks=frozenset(risks),
                    sql=frozenset(sql),
                    tenants=frozenset(tenants),
                )
            )
        return tuple(rules)

    def optional_names(self, entries: dict[str, tuple[Node, Node]], key: str, path: str, what: str) -> tuple[str, ...]:
        return self.names(entries[key][1], join_path(path, key), what) if key in entries else ()

    def choices(
        self, entries: dict[str, tuple[Node, Node]], key: str, path: str, allowed: tuple[str, ...], what: str
    ) -> tuple[str, ...]:
        """`entries[key]` as a non-empty list of values from `allowed` (empty when the key is absent)."""
        if key not in entries:
            return ()
        node, here = entries[key][1], join_path(path, key)
        items = self.sequence(node, here, f"a list of {what}")
        if not items:
            self.fail(node, here, f"empty list: name at least one of {', '.join(allowed)}, or leave the key out")
        values: list[str] = []
        for index, item in enumerate(items):
            value = self.text(item, f"{here}[{index}]", f"one of {', '.join(allowed)}")
            if value not in allowed:
                self.fail(item, f"{here}[{index}]", f"{_shown(value)} is not one of {', '.join(allowed)}")
            values.append(value)
        return tuple(dict.fromkeys(values))

    def check_not_approval_steps(self, node: Node, path: str) -> None:
        for index, item in enumerate(node.value):
            if item.value.startswith(APPROVAL_ACTION_PREFIX):
                self.fail(
                    item,
                    f"{path}[{index}]",
                    f"{item.value!r} is an approval step, and approval steps never need an approval themselves",
                )

    # -- cross checks

    def check_hash_keys(
        self,
        hash_key: str,
        top: dict[str, _Choice],
        action_types: dict[str, dict[str, _Choice]],
        tenants: dict[str, tuple[str, dict[str, _Choice], dict[str, dict[str, _Choice]]]],
        rules: list[tuple[ScopedRule, Node]],
    ) -> None:
        """Every `hash` that can take effect for some tenant and action type must have a key id there."""
        if hash_key:
            return  # every tenant falls back to the top-level key
        defaults = {name: _Choice(s, None, join_path("detectors", name)) for name, s in DEFAULT_DETECTORS.items()}
        all_types: set[str | None] = {None, *action_types}
        for _, _, per_type in tenants.values():
            all_types.update(per_type)
        explicit: list[tuple[int, Node, str, str | None]] = []  # line, node, path, tenant (None: any unlisted)
        by_default: dict[str | None, set[str]] = {}
        for tenant in [*tenants, None]:
            tenant_key, layer, per_type = tenants[tenant] if tenant is not None else ("", {}, {})
            if tenant_key:
                continue
            for action_type in all_types:
                effective = dict(defaults)
                effective.update(top)
                if action_type is not None:
                    effective.update(action_types.get(action_type, {}))
                effective.update(layer)
                if action_type is not None:
                    effective.update(per_type.get(action_type, {}))
                for name, choice in effective.items():
                    if choice.setting is None or choice.setting.action != "hash":
                        continue
                    if choice.node is None:
                        by_default.setdefault(tenant, set()).add(name)
                    else:
                        explicit.append((choice.node.start_mark.line + 1, choice.node, choice.path, tenant))
        for index, (scoped, action_node) in enumerate(rules):
            if scoped.rule.action != "hash":
                continue
            for tenant in sorted(scoped.tenants) or [None]:
                if tenant is None or not (tenant in tenants and tenants[tenant][0]):
                    explicit.append((action_node.start_mark.line + 1, action_node, f"rules[{index}].action", tenant))

        def fix(tenant: str | None) -> str:
            where = f" for tenant {tenant!r}" if tenant is not None else ""
            other = f" or {join_path(join_path('tenants', tenant), 'hash_key')}" if tenant is not None else ""
            return f"{where}: set hash_key at the top level{other}"

        if explicit:
            _, node, path, tenant = min(explicit, key=lambda p: (p[0], p[3] or ""))
            self.fail(node, path, f"'hash' needs a masking key id{fix(tenant)}")
        if by_default:
            tenant = None if None in by_default else min(t for t in by_default if t is not None)
            names = [name for name in DETECTOR_NAMES if name in by_default[tenant]]
            self.fail(
                self.root_node,
                "hash_key",
                f"missing: {'detectors' if len(names) > 1 else 'detector'} {', '.join(names)} "
                f"{'hash' if len(names) > 1 else 'hashes'} by default, and hashing needs a masking key "
                f"id{fix(tenant)}, or give them another action or turn them off",
            )


def _settings(layer: dict[str, _Choice]) -> DetectorLayer:
    return MappingProxyType({name: choice.setting for name, choice in layer.items()})
