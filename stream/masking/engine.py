"""The masking engine: one decoded AuditEvent and a MaskingPlan in, a masked copy and a manifest out.

Pure (no I/O) and deterministic. `mask_event(event, plan)`:

1. Field rules first: every `FieldRule` whose path matches masks that whole value regardless of
   content. Paths reach into JSON text (`payload.response.rows[*].ssn`) and into any string field of
   the event (`source.ip`). `drop` removes the field: a key deleted from a JSON object or from the
   attributes map, an element removed from a JSON list, a nullable event field set to None, a
   non-nullable string set to "". A rule matching a record or list outside JSON masks every string
   in it. The fields that identify and order the event (event_id, tenant, occurred_at, actor.kind,
   outcome.status) are never masked: a rule naming one exactly is refused (ValueError).
2. Then every field in SCANNED_FIELDS is scanned with the plan's enabled detectors. A string that is
   a JSON object or array (after leading whitespace) and parses is walked leaf by leaf: string and
   number leaves and object keys are scanned (a masked number becomes a string; a masked key becomes
   its marker, made unique with `#2`, `#3`... if it collides). Other strings are scanned as text;
   attribute keys and values are scanned as text. JSON text is re-serialised (compact,
   ensure_ascii=False) only if something in it changed; otherwise its exact text is kept.
3. Limits (plan.limits): a field bigger than max_field_bytes (UTF-8), JSON nested deeper than
   max_depth, or more than max_nodes JSON values in the event cannot be scanned. Strict plans raise
   UnscannableField(path, reason); otherwise the field becomes `[WITHHELD:<limit>]` and the manifest
   gets an item with rule `limit:<limit>`, action `redact`.

Fields the engine does not know (e.g. `credential`) are copied through unchanged; the input is never
mutated. The manifest is aggregated per (path, rule, action) and sorted; paths generalise list
indices to `[*]` and never contain a masked value (a masked key appears as its marker).

`fields_scanned` counts the strings, numbers and keys handed to the detectors; `fields_touched`
counts those changed, plus values masked by field rules and fields withheld.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stream.masking import paths as P
from stream.masking.actions import FIELD_KIND, check_key_id, replacement, withheld_token
from stream.masking.detectors import MIN_LENGTH, PLACEHOLDER, Finding, Scanner, scanner
from stream.masking.plan import DETECTOR_NAMES, MASK_ACTIONS, SCANNED_FIELDS, FieldRule, ManifestItem, MaskingPlan

# AuditEvent fields whose schema type is a union with null: dropping one sets it to None.
NULLABLE_FIELDS: frozenset[tuple[str, ...]] = frozenset(
    tuple(p.split("."))
    for p in (
        "actor.issuer",
        "action.name",
        "target.kind",
        "target.name",
        "payload.prompt",
        "payload.parameters",
        "payload.tool_arguments",
        "payload.query",
        "payload.response",
        "outcome.error",
        "source.host",
        "source.ip",
        "correlation.run_id",
        "correlation.parent_run_id",
        "correlation.graph_node",
        "correlation.trace_id",
        "credential",
    )
)
# Never masked: the event's identity, routing and order, and enum fields whose values are fixed.
PROTECTED_FIELDS: frozenset[tuple[str, ...]] = frozenset(
    tuple(p.split(".")) for p in ("event_id", "tenant", "occurred_at", "actor.kind", "outcome.status")
)
ATTRIBUTES = ("payload", "attributes")

_JSON_START = re.compile(r"[ \t\r\n]*[\[{]")
_SCANNED: tuple[tuple[str, ...], ...] = tuple(tuple(f.split(".")) for f in SCANNED_FIELDS)
_SCANNED_SET = frozenset(_SCANNED)
_DROPPED = object()  # a JSON value a field rule dropped, removed once all rules have run
# Integers whose text is this short cannot hold anything a detector finds.
_MIN_NUMBER = 10 ** (MIN_LENGTH - 1)


class UnscannableField(Exception):  # noqa: N818 - the name the admission step and policy use
    """A field could not be scanned within the plan's limits (strict mode). Never carries the value:
    `path` is the event field (e.g. `payload.response`), `reason` names the limit and the sizes."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: cannot be scanned: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class MaskedEvent:
    event: dict[str, Any]
    manifest: tuple[ManifestItem, ...]
    fields_scanned: int
    fields_touched: int


class _LimitExceeded(Exception):  # noqa: N818 - internal signal
    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(limit)
        self.limit = limit
        self.detail = detail


# --------------------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class _Compiled:
    scan: Scanner
    settings: dict[str, tuple[str, int]]
    rules: tuple[tuple[FieldRule, P.FieldPath], ...]
    key: bytes
    key_id: str
    strict: bool
    max_field_bytes: int
    max_depth: int
    max_nodes: int


_COMPILED: dict[int, tuple[MaskingPlan, _Compiled]] = {}
_MAX_COMPILED = 256


def _compile(plan: MaskingPlan) -> _Compiled:
    cached = _COMPILED.get(id(plan))
    if cached is not None and cached[0] is plan:
        return cached[1]
    settings: dict[str, tuple[str, int]] = {}
    uses_hash = False
    for name, setting in plan.detectors.items():
        if name not in DETECTOR_NAMES:
            raise ValueError(f"unknown detector {name!r}: want one of {', '.join(DETECTOR_NAMES)}")
        if setting.action not in MASK_ACTIONS:
            raise ValueError(f"detector {name}: unknown action {setting.action!r}")
        settings[name] = (setting.action, setting.keep)
        uses_hash |= setting.action == "hash"
    rules = []
    for rule in plan.field_rules:
        if rule.action not in MASK_ACTIONS:
            raise ValueError(f"field rule {rule.rule_id}: unknown action {rule.action!r}")
        try:
            path = P.parse_path(rule.path)
        except ValueError as exc:
            raise ValueError(f"field rule {rule.rule_id}: bad path: {exc}") from None
        if all(kind == P.KEY for kind, _ in path.steps) and tuple(a for _, a in path.steps) in PROTECTED_FIELDS:
            raise ValueError(f"field rule {rule.rule_id}: {rule.path} cannot be masked (the event needs it)")
        rules.append((rule, path))
        uses_hash |= rule.action == "hash"
    if uses_hash and not plan.hash_key:
        raise ValueError(f"plan for tenant {plan.tenant!r} hashes but has no hash key (plan.hash_key is empty)")
    check_key_id(plan.hash_key_id)
    limits = plan.limits
    compiled = _Compiled(
        scan=scanner(settings),
        settings=settings,
        rules=tuple(rules),
        key=plan.hash_key,
        key_id=plan.hash_key_id,
        strict=plan.strict,
        max_field_bytes=limits.max_field_bytes,
        max_depth=limits.max_depth,
        max_nodes=limits.max_nodes,
    )
    if len(_COMPILED) >= _MAX_COMPILED:
        _COMPILED.clear()
    _COMPILED[id(plan)] = (plan, compiled)
    return compiled


# --------------------------------------------------------------------------------------------- helpers


def _copy(value: Any) -> Any:
    """A copy of the dicts and lists in a decoded event (other values are immutable and shared)."""
    if type(value) is list:
        return [_copy(v) if type(v) in _CONTAINERS else v for v in value]
    if type(value) is dict or isinstance(value, Mapping):
        return {k: _copy(v) if type(v) in _CONTAINERS else v for k, v in value.items()}
    return value


_CONTAINERS = frozenset({dict, list})


def _number_text(value: int | float) -> str:
    """The text of a JSON number long enough to hold something a detector finds, else ""."""
    if type(value) is float:
        if not value.is_integer() or abs(value) >= 1e19:
            return ""
        value = int(value)
    if -_MIN_NUMBER < value < _MIN_NUMBER:
        return ""
    return str(value)


def _too_big(text: str, limit: int) -> int:
    """0 if `text` fits in `limit` UTF-8 bytes, else its size."""
    if len(text) * 4 <= limit:
        return 0
    size = len(text) if len(text) > limit else len(text.encode("utf-8", "surrogatepass"))
    return size if size > limit else 0


def _link(parts: tuple[str, ...]) -> Any:
    """A path as a chain of links `(parent, part, owner)`; `owner` is id() of the object holding the key
    (so that a masked key can be shown by its marker), or 0; `part` None is a list element."""
    link = None
    for part in parts:
        link = (link, part, 0)
    return link


def _unique_key(key: str, taken: set[str], next_suffix: dict[str, int]) -> str:
    """`key`, or `key#2`, `key#3`... if taken (`next_suffix` keeps this linear for many collisions)."""
    if key not in taken:
        return key
    n = next_suffix.get(key, 2)
    while f"{key}#{n}" in taken:
        n += 1
    next_suffix[key] = n + 1
    return f"{key}#{n}"


class _Doc:
    """A JSON text parsed once per event; written back only if changed."""

    __slots__ = ("box", "changed", "container", "key")

    def __init__(self, root: Any, container: Any, key: Any) -> None:
        self.box = [root]
        self.changed = False
        self.container = container
        self.key = key

    def write_back(self) -> None:
        self.container[self.key] = json.dumps(self.box[0], ensure_ascii=False, separators=(",", ":"))


# A unit is one string handed to the detectors: (kind, container, key, text, link, doc).
_VALUE, _NUMBER, _KEY = 0, 1, 2
# Units are scanned joined by this separator: every detector treats a newline as a boundary and no
# sensitive span contains one, except a PEM block (its spans crossing a separator are rescanned unit by unit).
_SEP = "\n\x00\n"


# --------------------------------------------------------------------------------------------- masking


class _Masker:
    def __init__(self, plan: _Compiled) -> None:
        self.plan = plan
        self.scan = plan.scan
        self.items: dict[tuple[str, ...], Counter[tuple[str, str, str]]] = {}
        self.scanned = 0
        self.touched = 0
        self.nodes = 0
        self.docs: dict[tuple[Any, ...], _Doc | None] = {}
        self.withheld: set[tuple[str, ...]] = set()
        self.masked: set[tuple[int, Any]] = set()
        self.purge: dict[int, Any] = {}
        self.renames: dict[tuple[int, str], str] = {}
        self.root: tuple[str, ...] = ()

    # ---- manifest

    def record(self, path: str, rule: str, action: str, count: int = 1) -> None:
        counter = self.items.get(self.root)
        if counter is None:
            counter = self.items[self.root] = Counter()
        counter[(path, rule, action)] += count

    def manifest(self) -> tuple[ManifestItem, ...]:
        total: Counter[tuple[str, str, str]] = Counter()
        for counter in self.items.values():
            total.update(counter)
        return tuple(ManifestItem(p, r, a, c) for (p, r, a), c in sorted(total.items()))

    def path_of(self, link: Any) -> str:
        parts: list[str | None] = []
        renames = self.renames
        while link is not None:
            link, part, owner = link
            if owner:
                part = renames.get((owner, part), part)
            parts.append(part)
        parts.reverse()
        return P.format_path(parts)

    def safe_path(self, parts: tuple[Any, ...]) -> str:
        """A manifest path for parts that may include keys nobody has scanned (a key a rule dropped, an
        attribute key of a withheld value): a key in which a detector finds something is shown masked."""
        shown: list[Any] = []
        for part in parts:
            if isinstance(part, str) and len(part) >= MIN_LENGTH and not PLACEHOLDER.fullmatch(part):
                findings = self.scan(part)
                if findings:
                    part = self.replace(part, findings)
            shown.append(part)
        return P.format_path(shown)

    # ---- limits

    def limit(self, container: Any, key: Any, path: str, exc: _LimitExceeded) -> None:
        """Refuse (strict) or withhold the field at container[key]; its earlier manifest items go."""
        if self.plan.strict:
            raise UnscannableField(path, f"{exc.limit}: {exc.detail}") from None
        container[key] = withheld_token(exc.limit)
        self.items[self.root] = Counter({(path, f"limit:{exc.limit}", "redact"): 1})
        self.touched += 1

    # ---- text

    def replace(self, text: str, findings: list[Finding]) -> str:
        settings = self.plan.settings
        key, key_id = self.plan.key, self.plan.key_id
        parts: list[str] = []
        pos = 0
        for f in findings:
            action, keep = settings[f.kind]
            parts.append(text[pos : f.start])
            parts.append(replacement(f.kind, text[f.start : f.end], action, keep, key, key_id))
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def record_findings(self, findings: list[Finding], path: str) -> None:
        settings = self.plan.settings
        for f in findings:
            self.record(path, f"detector:{f.kind}", settings[f.kind][0])

    # ---- field rules

    def doc_for(self, concrete: tuple[Any, ...], container: Any, key: Any) -> _Doc | None:
        if concrete in self.docs:
            return self.docs[concrete]
        doc = None
        text = container[key]
        if concrete not in self.withheld and _JSON_START.match(text):
            try:
                root = json.loads(text)
            except RecursionError:
                if concrete in _SCANNED_SET:
                    self.root = concrete
                    self.limit(container, key, P.format_path(concrete), _LimitExceeded("max_depth", "JSON too deep"))
                    self.withheld.add(concrete)
                root = None
            except ValueError:
                root = None
            if isinstance(root, (dict, list)):
                doc = _Doc(root, container, key)
        self.docs[concrete] = doc
        return doc

    def apply_rule(self, rule: FieldRule, path: P.FieldPath, event: dict[str, Any]) -> None:
        self.rule_step(rule, path.steps, 0, [event], 0, (), None)

    def rule_step(
        self,
        rule: FieldRule,
        steps: tuple[P.Step, ...],
        i: int,
        container: Any,
        key: Any,
        concrete: tuple[Any, ...],
        doc: _Doc | None,
    ) -> None:
        value = container[key]
        if value is _DROPPED or (id(container), key) in self.masked:
            return
        if i == len(steps):
            self.mask_whole(rule, container, key, concrete, doc)
            return
        if type(value) is str:
            if doc is not None:
                return  # a string inside JSON text is not parsed as JSON again
            inner = self.doc_for(concrete, container, key)
            if inner is not None:
                self.rule_step(rule, steps, i, inner.box, 0, concrete, inner)
            return
        kind, arg = steps[i]
        if isinstance(value, dict):
            if kind == P.KEY:
                if arg in value:
                    self.rule_step(rule, steps, i + 1, value, arg, (*concrete, arg), doc)
            elif kind == P.ANY_KEY:
                for k in list(value):
                    self.rule_step(rule, steps, i + 1, value, k, (*concrete, k), doc)
        elif isinstance(value, list):
            if kind == P.INDEX:
                if isinstance(arg, int) and arg < len(value):
                    self.rule_step(rule, steps, i + 1, value, arg, (*concrete, arg), doc)
            elif kind == P.ANY_INDEX:
                for idx in range(len(value)):
                    self.rule_step(rule, steps, i + 1, value, idx, (*concrete, idx), doc)

    def mask_whole(
        self, rule: FieldRule, container: Any, key: Any, concrete: tuple[Any, ...], doc: _Doc | None
    ) -> None:
        value = container[key]
        if value is None or (doc is None and concrete in PROTECTED_FIELDS):
            return
        if isinstance(value, str) and PLACEHOLDER.fullmatch(value):
            return  # masked already (by an earlier pass): masking is idempotent
        self.root = self.root_of(concrete)
        if doc is not None:  # inside JSON: the whole value, whatever its type
            self.masked.add((id(container), key))
            if rule.action == "drop":
                container[key] = _DROPPED
                self.purge[id(container)] = container
            else:
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
                container[key] = self.rule_replacement(rule, text)
            doc.changed = True
            self.touched += 1
            self.record(self.safe_path(concrete), f"field:{rule.rule_id}", rule.action)
            return
        # outside JSON: typed event fields
        if isinstance(value, str):
            self.masked.add((id(container), key))
            if rule.action == "drop":
                if type(container) is list:  # e.g. actor.groups[0]
                    container[key] = _DROPPED
                    self.purge[id(container)] = container
                elif concrete[:-1] == ATTRIBUTES:
                    del container[key]
                else:
                    container[key] = None if concrete in NULLABLE_FIELDS else ""
            else:
                container[key] = self.rule_replacement(rule, value)
            self.touched += 1
            self.record(self.safe_path(concrete), f"field:{rule.rule_id}", rule.action)
        elif isinstance(value, dict):
            if rule.action == "drop" and (concrete in NULLABLE_FIELDS or concrete == ATTRIBUTES):
                self.masked.add((id(container), key))
                container[key] = None if concrete in NULLABLE_FIELDS else {}
                self.touched += 1
                self.record(self.safe_path(concrete), f"field:{rule.rule_id}", rule.action)
                return
            for k in list(value):
                self.mask_whole(rule, value, k, (*concrete, k), None)
        elif isinstance(value, list):
            if rule.action == "drop":
                self.masked.add((id(container), key))
                value.clear()
                self.touched += 1
                self.record(self.safe_path(concrete), f"field:{rule.rule_id}", rule.action)
                return
            for idx in range(len(value)):
                self.mask_whole(rule, value, idx, (*concrete, idx), None)

    def rule_replacement(self, rule: FieldRule, text: str) -> str:
        return replacement(FIELD_KIND, text, rule.action, rule.keep, self.plan.key, self.plan.key_id)

    @staticmethod
    def root_of(concrete: tuple[Any, ...]) -> tuple[Any, ...]:
        for field in _SCANNED:
            if concrete[: len(field)] == field:
                return field
        return concrete[:2]

    def finish_rules(self) -> None:
        for container in self.purge.values():
            if isinstance(container, dict):
                for k in [k for k, v in container.items() if v is _DROPPED]:
                    del container[k]
            else:
                container[:] = [v for v in container if v is not _DROPPED]
        for concrete, doc in self.docs.items():
            if doc is not None and doc.changed and concrete not in _SCANNED_SET:
                doc.write_back()

    # ---- scanned fields: collecting units

    def collect(self, value: Any, depth: int, link: Any, units: list[tuple], doc: _Doc) -> None:
        """Units for the keys and leaves of a JSON object or list (whose own node is already counted).

        A unit is (kind, container, key, text, link, doc): `link` is the path of the container."""
        plan = self.plan
        if depth >= plan.max_depth:
            raise _LimitExceeded("max_depth", f"JSON nested deeper than {plan.max_depth}")
        self.nodes += len(value)
        if self.nodes > plan.max_nodes:
            raise _LimitExceeded("max_nodes", f"more than {plan.max_nodes} JSON values in the event")
        append = units.append
        if type(value) is dict:
            owner = id(value)
            for k, v in value.items():
                append((_KEY, value, k, k, link, doc))
                t = type(v)
                if t is str:
                    append((_VALUE, value, k, v, link, doc))
                elif t is dict or t is list:
                    self.collect(v, depth + 1, (link, k, owner), units, doc)
                elif t is int or t is float:
                    number = _number_text(v)
                    if number:
                        append((_NUMBER, value, k, number, link, doc))
        else:
            child = (link, None, 0)
            for i, v in enumerate(value):
                t = type(v)
                if t is str:
                    append((_VALUE, value, i, v, link, doc))
                elif t is dict or t is list:
                    self.collect(v, depth + 1, child, units, doc)
                elif t is int or t is float:
                    number = _number_text(v)
                    if number:
                        append((_NUMBER, value, i, number, link, doc))

    def collect_field(self, parent: dict[str, Any], field: tuple[str, ...], units: list[tuple]) -> None:
        name = field[-1]
        value = parent.get(name)
        if value is None or field in self.withheld:
            return
        self.root = field
        if field == ATTRIBUTES:
            if isinstance(value, dict):
                self.collect_attributes(value, units)
            return
        if not isinstance(value, str):
            return
        nodes_before = self.nodes
        mine: list[tuple] = []
        try:
            doc = self.doc_for(field, parent, name)
            if field in self.withheld:
                return
            self.nodes += 1
            if self.nodes > self.plan.max_nodes:
                raise _LimitExceeded("max_nodes", f"more than {self.plan.max_nodes} JSON values in the event")
            if doc is None:
                mine.append((_VALUE, parent, name, value, _link(field[:-1]), None))
            else:
                self.collect(doc.box[0], 0, _link(field), mine, doc)
        except (_LimitExceeded, RecursionError) as exc:
            if isinstance(exc, RecursionError):
                exc = _LimitExceeded("max_depth", "JSON nested too deep to walk")
            self.nodes = nodes_before
            self.withheld.add(field)
            self.limit(parent, name, P.format_path(field), exc)
            return
        units.extend(mine)

    def collect_attributes(self, attributes: dict[str, Any], units: list[tuple]) -> None:
        link = _link(ATTRIBUTES)
        for k, v in list(attributes.items()):
            units.append((_KEY, attributes, k, k, link, None))
            if not isinstance(v, str):
                continue
            size = _too_big(v, self.plan.max_field_bytes)
            if size:
                path = self.safe_path((*ATTRIBUTES, k))
                reason = f"max_field_bytes: {size} bytes, limit {self.plan.max_field_bytes}"
                if self.plan.strict:
                    raise UnscannableField(path, reason)
                attributes[k] = withheld_token("max_field_bytes")
                self.record(path, "limit:max_field_bytes", "redact")
                self.touched += 1
                continue
            units.append((_VALUE, attributes, k, v, link, None))

    # ---- scanned fields: one scan for every unit, then replacements

    def scan_units(self, units: list[tuple]) -> None:
        self.scanned += len(units)
        if not units:
            return
        per_unit = self.find([u[3] for u in units])
        if not per_unit:
            return
        self.root = ()
        renamed: dict[int, tuple[dict[str, Any], dict[str, str]]] = {}
        for i, findings in per_unit.items():
            kind, container, key, text, _link_, doc = units[i]
            new = self.replace(text, findings)
            self.touched += 1
            if doc is not None:
                doc.changed = True
            if kind == _KEY:
                entry = renamed.get(id(container))
                if entry is None:
                    entry = renamed[id(container)] = (container, {})
                entry[1][key] = new
            else:
                container[key] = new
        for owner, (obj, new_names) in renamed.items():
            taken = {k for k in obj if k not in new_names}
            next_suffix: dict[str, int] = {}
            items = list(obj.items())
            obj.clear()
            for k, v in items:
                if k in new_names:
                    new_key = _unique_key(new_names[k], taken, next_suffix)
                    taken.add(new_key)
                    self.renames[(owner, k)] = new_key
                    k = new_key
                obj[k] = v
        for i, findings in per_unit.items():
            kind, container, key, _text, link, _doc = units[i]
            if kind == _KEY:
                path = self.path_of((link, self.renames[(id(container), key)], 0))
            elif type(container) is list:
                path = self.path_of((link, None, 0))
            else:
                path = self.path_of((link, key, id(container)))
            self.record_findings(findings, path)

    def find(self, texts: list[str]) -> dict[int, list[Finding]]:
        """Findings per unit index, with spans relative to the unit's text."""
        scan = self.scan
        if len(texts) == 1:
            found = scan(texts[0])
            return {0: found} if found else {}
        joined = _SEP.join(texts)
        found = scan(joined)
        if not found:
            return {}
        starts = []
        pos = 0
        for t in texts:
            starts.append(pos)
            pos += len(t) + len(_SEP)
        per_unit: dict[int, list[Finding]] = {}
        rescan: set[int] = set()
        for f in found:
            i = bisect_right(starts, f.start) - 1
            base = starts[i]
            if f.end <= base + len(texts[i]):
                per_unit.setdefault(i, []).append(
                    Finding(f.start - base, f.end - base, f.kind, f.match_start - base, f.match_end - base)
                )
            else:  # crosses a separator (an unterminated PEM block): scan those units one by one
                rescan.update(range(i, bisect_right(starts, f.end - 1)))
        for i in rescan:
            found = scan(texts[i])
            if found:
                per_unit[i] = found
            else:
                per_unit.pop(i, None)
        return per_unit


# Words that let a detector use a neighbouring JSON key as its label (`"ssn": "123456789"`): with any of
# these present the event takes the full walk, where keys and values are scanned side by side.
_LABEL_WORDS = ("ssn", "social", "secret", "passw", "pwd", "bearer", "basic")
# A JSON number in exponent form reads differently once parsed (4.1e15 -> 4100000000000000.0).
_EXPONENT_HINT = re.compile(r"[0-9][eE]")  # cheap: most JSON has none, and then the precise one is skipped
_EXPONENT = re.compile(r"(?<![\w.\-])-?\d+(?:\.\d+)?[eE][+\-]?\d+(?![\w.\-])")


def clean_without_walking(event: Mapping[str, Any], compiled: _Compiled) -> int:
    """The number of texts scanned if the event certainly holds nothing to mask, else 0.

    Why: most events hold nothing to mask, and for them parsing, copying and walking every JSON field
    costs more than the detectors do. Scanning the fields' raw text finds everything the walk would
    find provided that no field rule applies, no JSON string has an escape (a backslash), no number is
    in exponent form, no label word is present (labels pair a key with its neighbour), and no limit can
    be exceeded (a JSON value has fewer nodes than characters and no deeper nesting than brackets).
    Any doubt, or any finding at all, sends the event down the full walk.
    """
    if compiled.rules:
        return 0
    texts: list[str] = []
    json_texts: list[str] = []
    limit, depth = compiled.max_field_bytes, compiled.max_depth
    for first, second in _SCANNED:
        parent = event.get(first)
        if parent is None:
            continue
        value = parent.get(second)
        if value is None:
            continue
        if type(value) is not str:
            if isinstance(value, Mapping):  # payload.attributes
                for k, v in value.items():
                    texts.append(k)
                    texts.append(v)
            continue
        if len(value) * 4 > limit and _too_big(value, limit):
            return 0
        if value[:1] in "{[" or _JSON_START.match(value):
            if value.count("{") + value.count("[") >= depth:
                return 0
            json_texts.append(value)
        texts.append(value)
    joined = _SEP.join(t for t in texts if isinstance(t, str))
    if len(joined) >= compiled.max_nodes or "\\" in joined:
        return 0
    if any(_EXPONENT_HINT.search(j) and _EXPONENT.search(j) for j in json_texts):
        return 0
    lower = joined.lower()
    if any(word in lower for word in _LABEL_WORDS) or compiled.scan(joined):
        return 0
    return max(1, len(texts))


def mask_event(event: Mapping[str, Any], plan: MaskingPlan) -> MaskedEvent:
    """A masked copy of a decoded AuditEvent, the manifest of what was masked, and counts.

    An event with nothing to mask comes back as a shallow copy (see clean_without_walking)."""
    compiled = _compile(plan)
    scanned = clean_without_walking(event, compiled)
    if scanned:
        return MaskedEvent(dict(event), (), scanned, 0)
    masker = _Masker(compiled)
    out = _copy(event)
    # Oversized text fields are refused before any rule parses them.
    for field in _SCANNED:
        if field == ATTRIBUTES:
            continue
        parent = out.get(field[0])
        value = parent.get(field[1]) if isinstance(parent, dict) else None
        if isinstance(value, str):
            size = _too_big(value, compiled.max_field_bytes)
            if size:
                masker.root = field
                masker.withheld.add(field)
                exc = _LimitExceeded("max_field_bytes", f"{size} bytes, limit {compiled.max_field_bytes}")
                masker.limit(parent, field[1], P.format_path(field), exc)
    for rule, path in compiled.rules:
        masker.apply_rule(rule, path, out)
    masker.finish_rules()
    units: list[tuple] = []
    for field in _SCANNED:
        parent = out.get(field[0])
        if isinstance(parent, dict):
            masker.collect_field(parent, field, units)
    masker.scan_units(units)
    for field in _SCANNED:
        doc = masker.docs.get(field)
        if doc is not None and doc.changed and field not in masker.withheld:
            doc.write_back()
    return MaskedEvent(out, masker.manifest(), masker.scanned, masker.touched)


def mask_text(text: str, plan: MaskingPlan, path: str = "text") -> tuple[str, tuple[ManifestItem, ...]]:
    """Mask free text (e.g. an error reason) with the plan's detectors; returns it and its manifest."""
    compiled = _compile(plan)
    masker = _Masker(compiled)
    box = [text]
    size = _too_big(text, compiled.max_field_bytes)
    if size:
        exc = _LimitExceeded("max_field_bytes", f"{size} bytes, limit {compiled.max_field_bytes}")
        masker.limit(box, 0, path, exc)
        return box[0], masker.manifest()
    findings = compiled.scan(text)
    if findings:
        text = masker.replace(text, findings)
        masker.record_findings(findings, path)
    return text, masker.manifest()
