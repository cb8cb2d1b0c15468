"""Which actions need a just-in-time approval: the rules of the policy file's `approvals:` section.

A rule names criteria on an action (its type, tool or model name, resource, risk, the classes of its
SQL, its tenant): all the criteria it gives must hold (AND), and within one criterion any listed
value will do (OR); a criterion left out holds for every action. The first rule in file order that
matches an action covers it and says who may approve it and how many distinct approvers must.

The `sql` criterion looks at db.query actions only (SQL_ACTION_TYPE): other action types carry
natural-language queries (retriever.query) that would read as unknown SQL, hence as writes. Approval
steps themselves (action types `approval.*`) are never covered, so an approval cannot need one.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stream.approvals.sql_class import SQL_CLASSES, classify_sql

RISK_LEVELS = ("low", "medium", "high", "critical")
SQL_ACTION_TYPE = "db.query"
APPROVAL_ACTION_PREFIX = "approval."
DEFAULT_LATE_WINDOW_S = 900
# Idle requests are forgotten after the raw steps' own retention on audit.approvals (7 days): after that,
# nothing could be folded into them again anyway. It bounds the table.
DEFAULT_FORGET_AFTER_S = 7 * 24 * 3600
MAX_CACHED_QUERY_CHARS = 65536  # longer queries are classified again each time rather than held in the cache


@functools.lru_cache(maxsize=4096)
def _cached_sql_classes(query: str) -> frozenset[str]:
    return classify_sql(query)


def sql_classes(query: str) -> frozenset[str]:
    """classify_sql with a bounded cache: agents repeat the same statements, and every event asks."""
    return _cached_sql_classes(query) if len(query) <= MAX_CACHED_QUERY_CHARS else classify_sql(query)


def _risk(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


@dataclass(frozen=True)
class ActionDescription:
    """What a rule matches on, taken from an audit event or from an approval request alike."""

    tenant: str
    action_type: str
    name: str | None  # tool or model name (AuditEvent action.name)
    resource: str | None  # AuditEvent target.name
    risk: str | None  # AuditEvent payload.attributes["risk"], lower-cased
    query: str | None  # AuditEvent payload.query

    @classmethod
    def of_event(cls, event: Mapping[str, Any]) -> ActionDescription:
        """From an AuditEvent dict (schemas/AuditEvent.avsc), as emitted: before masking, so the query
        is the one that ran."""
        action = event["action"]
        target = event.get("target") or {}
        payload = event.get("payload") or {}
        attributes = payload.get("attributes") or {}
        return cls(
            tenant=event["tenant"],
            action_type=action["type"],
            name=action.get("name"),
            resource=target.get("name"),
            risk=_risk(attributes.get("risk")),
            query=payload.get("query"),
        )

    @classmethod
    def of_request(cls, tenant: str, request: Mapping[str, Any]) -> ActionDescription:
        """From an ApprovalRequest dict (schemas/ApprovalEvent.avsc): the action it asks to run."""
        return cls(
            tenant=tenant,
            action_type=request["action_type"],
            name=request.get("action_name"),
            resource=request.get("resource"),
            risk=_risk(request.get("risk")),
            query=request.get("query"),
        )


@dataclass(frozen=True)
class ApprovalRule:
    """Which actions need approval (the criteria) and what approval (approver groups, how many)."""

    name: str
    approver_groups: tuple[str, ...]
    approvals: int = 1  # how many distinct valid approvers are needed
    action_types: frozenset[str] = frozenset()
    tools: frozenset[str] = frozenset()  # matched against ActionDescription.name
    resources: tuple[str, ...] = ()  # fnmatch.fnmatchcase patterns on resource
    risks: frozenset[str] = frozenset()
    sql: frozenset[str] = frozenset()  # of SQL_CLASSES; matches if classify_sql(query) intersects
    tenants: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Lists and sets given by code become the hashable forms; the values are checked here as well
        # as in the policy file, so a rule built by hand cannot need zero approvers or an unknown class.
        object.__setattr__(self, "approver_groups", tuple(_strings(self.approver_groups, "approver_groups")))
        object.__setattr__(self, "resources", tuple(_strings(self.resources, "resources")))
        for name in ("action_types", "tools", "risks", "sql", "tenants"):
            object.__setattr__(self, name, frozenset(_strings(getattr(self, name), name)))
        rule = f"approval rule {self.name!r}"
        if not self.approver_groups:
            raise ValueError(f"{rule}: approver_groups is empty: nobody could approve")
        if isinstance(self.approvals, bool) or not isinstance(self.approvals, int) or self.approvals < 1:
            raise ValueError(f"{rule}: approvals must be a positive integer, not {self.approvals!r}")
        if unknown := sorted(self.risks - set(RISK_LEVELS)):
            raise ValueError(f"{rule}: unknown risk {', '.join(unknown)}; known: {', '.join(RISK_LEVELS)}")
        if unknown := sorted(self.sql - set(SQL_CLASSES)):
            raise ValueError(f"{rule}: unknown sql class {', '.join(unknown)}; known: {', '.join(SQL_CLASSES)}")

    def matches(self, action: ActionDescription) -> bool:
        """All given criteria hold (any listed value within one); the SQL is classified last, if at all."""
        if self.tenants and action.tenant not in self.tenants:
            return False
        if self.action_types and action.action_type not in self.action_types:
            return False
        if self.tools and action.name not in self.tools:
            return False
        if self.risks and action.risk not in self.risks:
            return False
        if self.resources and (
            action.resource is None or not any(fnmatch.fnmatchcase(action.resource, p) for p in self.resources)
        ):
            return False
        if self.sql:
            if action.action_type != SQL_ACTION_TYPE or action.query is None:
                return False
            return not self.sql.isdisjoint(sql_classes(action.query))
        return True


@dataclass(frozen=True)
class ApprovalPolicy:
    """The rules in file order, how long after a covered action a late approval still clears it, and how long
    a request (or an unapproved action awaiting one) may sit without any step before the table forgets it."""

    rules: tuple[ApprovalRule, ...] = ()
    late_window_s: int = DEFAULT_LATE_WINDOW_S
    forget_after_s: int = DEFAULT_FORGET_AFTER_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if isinstance(self.late_window_s, bool) or not isinstance(self.late_window_s, int) or self.late_window_s < 0:
            raise ValueError(f"late_window_s must be a non-negative integer, not {self.late_window_s!r}")
        if isinstance(self.forget_after_s, bool) or not isinstance(self.forget_after_s, int):
            raise ValueError(f"forget_after_s must be an integer, not {self.forget_after_s!r}")
        if self.forget_after_s < max(self.late_window_s, 1):
            raise ValueError(f"forget_after_s {self.forget_after_s} is shorter than late_window_s "
                             f"{self.late_window_s}: a late approval could not find what it clears")  # fmt: skip
        names = [rule.name for rule in self.rules]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"duplicate approval rule names: {', '.join(duplicates)}")

    def rule_for(self, action: ActionDescription) -> ApprovalRule | None:
        """The first rule covering the action; never one for an approval step itself."""
        if action.action_type.startswith(APPROVAL_ACTION_PREFIX):
            return None
        return next((rule for rule in self.rules if rule.matches(action)), None)


def _strings(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what}: want a collection of strings, got the string {values!r}")
    items = list(values)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what}: want strings, got {item!r}")
    return items
