"""Approval rules: what an action is described by, which rule covers it, and the rules' own checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stream.approvals import rules as rules_module
from stream.approvals.rules import (
    RISK_LEVELS,
    ActionDescription,
    ApprovalPolicy,
    ApprovalRule,
    sql_classes,
)
from stream.approvals.sql_class import classify_sql


def audit_event(**changes: Any) -> dict[str, Any]:
    """An AuditEvent dict as the stream decodes it: every optional field present, most of them null."""
    event: dict[str, Any] = {
        "event_id": "0d4c3a52-7f0e-4c9e-9a43-1d0c2f7d9b11",
        "tenant": "acme",
        "occurred_at": datetime(2026, 1, 2, tzinfo=UTC),
        "actor": {"subject": "agent-7", "issuer": None, "groups": [], "kind": "agent"},
        "action": {"type": "db.query", "name": "run_sql"},
        "target": {"kind": "database", "name": "postgres://prod/orders"},
        "payload": {
            "prompt": None,
            "parameters": None,
            "tool_arguments": None,
            "query": "DELETE FROM orders",
            "response": None,
            "attributes": {"risk": "High"},
        },
        "outcome": {"status": "success", "error": None},
        "source": {"service": "agent", "host": None, "ip": None},
        "correlation": {
            "session_id": "s-1",
            "run_id": None,
            "parent_run_id": None,
            "graph_node": None,
            "trace_id": None,
        },
        "credential": None,
    }
    event.update(changes)
    return event


def action(**changes: Any) -> ActionDescription:
    values: dict[str, Any] = {
        "tenant": "acme",
        "action_type": "db.query",
        "name": "run_sql",
        "resource": "postgres://prod/orders",
        "risk": "high",
        "query": "DELETE FROM orders",
    }
    values.update(changes)
    return ActionDescription(**values)


def rule(**criteria: Any) -> ApprovalRule:
    return ApprovalRule(name=criteria.pop("name", "r"), approver_groups=("dba",), **criteria)


# ----------------------------------------------------------------------------------------- descriptions


def test_of_event_takes_type_name_target_risk_and_query() -> None:
    assert ActionDescription.of_event(audit_event()) == ActionDescription(
        tenant="acme",
        action_type="db.query",
        name="run_sql",
        resource="postgres://prod/orders",
        risk="high",  # lower-cased
        query="DELETE FROM orders",
    )


def test_of_event_without_the_optional_parts() -> None:
    event = audit_event(
        action={"type": "llm.request", "name": None},
        target={"kind": None, "name": None},
        payload={"prompt": "hi", "query": None, "attributes": {}},
    )
    assert ActionDescription.of_event(event) == ActionDescription("acme", "llm.request", None, None, None, None)


def test_of_event_tolerates_missing_records_and_odd_risk_values() -> None:
    event = {"tenant": "t", "action": {"type": "tool.call"}}
    assert ActionDescription.of_event(event) == ActionDescription("t", "tool.call", None, None, None, None)
    assert ActionDescription.of_event(audit_event(payload={"attributes": {"risk": "  CRITICAL "}})).risk == "critical"
    assert ActionDescription.of_event(audit_event(payload={"attributes": {"risk": "  "}})).risk is None


def test_of_request_reads_an_approval_request() -> None:
    request = {
        "action_type": "tool.call",
        "action_name": "refund_payment",
        "fingerprint": "ab" * 32,
        "arguments": '{"amount": 10}',
        "query": None,
        "resource": "stripe://acct_1",
        "risk": "Medium",
        "reason": "customer asked",
        "expires_at": datetime(2026, 1, 2, tzinfo=UTC),
        "session_id": None,
    }
    assert ActionDescription.of_request("acme", request) == ActionDescription(
        "acme", "tool.call", "refund_payment", "stripe://acct_1", "medium", None
    )


# ----------------------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("criteria", "matching", "not_matching"),
    [
        ({"action_types": {"db.query"}}, {}, {"action_type": "tool.call"}),
        ({"action_types": {"tool.call", "db.query"}}, {}, {"action_type": "llm.request"}),
        ({"tools": {"run_sql"}}, {}, {"name": "other"}),
        ({"tools": {"run_sql"}}, {}, {"name": None}),
        ({"resources": ("postgres://prod/*",)}, {}, {"resource": "postgres://staging/orders"}),
        ({"resources": ("postgres://prod/*",)}, {}, {"resource": None}),
        ({"resources": ("postgres://prod/*",)}, {}, {"resource": "POSTGRES://PROD/orders"}),  # case-sensitive
        ({"resources": ("mysql://*", "postgres://prod/ord?rs")}, {}, {"resource": "postgres://prod/orderss"}),
        ({"risks": {"high", "critical"}}, {"risk": "critical"}, {"risk": "medium"}),
        ({"risks": {"high"}}, {}, {"risk": None}),
        ({"tenants": {"acme"}, "tools": {"run_sql"}}, {}, {"tenant": "globex"}),
        ({"sql": {"delete_without_where"}}, {}, {"query": "DELETE FROM orders WHERE id = 1"}),
        ({"sql": {"write", "ddl"}}, {"query": "DROP TABLE t"}, {"query": "SELECT * FROM t"}),
        ({"sql": {"write"}}, {"query": "INSERT INTO t VALUES (1)"}, {"query": None}),
        ({"sql": {"write"}}, {"query": "INSERT INTO t VALUES (1)"}, {"query": ""}),
        # only db.query actions have SQL classes: a retriever's natural-language query is not "unknown SQL"
        ({"sql": {"write"}}, {"query": "find me refunds"}, {"action_type": "retriever.query", "query": "find me"}),
        (
            {"action_types": {"db.query"}, "resources": ("postgres://prod/*",), "sql": {"ddl"}},
            {"query": "ALTER TABLE t ADD b int"},
            {"query": "ALTER TABLE t ADD b int", "resource": "postgres://dev/x"},
        ),
    ],
)
def test_all_given_criteria_must_match_any_value_within_one(
    criteria: dict[str, Any], matching: dict[str, Any], not_matching: dict[str, Any]
) -> None:
    covering = rule(**criteria)
    assert covering.matches(action(**matching))
    assert not covering.matches(action(**not_matching))


def test_a_criterion_left_out_matches_anything() -> None:
    only_tools = rule(tools={"run_sql"})
    assert only_tools.matches(action(tenant="other", action_type="tool.call", resource=None, risk=None, query=None))


def test_the_first_matching_rule_in_order_covers_the_action() -> None:
    broad = rule(name="prod-db", resources=("postgres://prod/*",))
    narrow = rule(name="prod-deletes", sql={"delete_without_where"})
    assert ApprovalPolicy((broad, narrow)).rule_for(action()) is broad
    assert ApprovalPolicy((narrow, broad)).rule_for(action()) is narrow
    assert ApprovalPolicy((narrow, broad)).rule_for(action(query="SELECT 1")) is broad
    assert ApprovalPolicy((narrow,)).rule_for(action(query="SELECT 1")) is None
    assert ApprovalPolicy().rule_for(action()) is None


@pytest.mark.parametrize("action_type", ["approval.request", "approval.decision", "approval.anything"])
def test_approval_steps_are_never_covered(action_type: str) -> None:
    everything = rule(action_types={action_type}, tools={"run_sql"})
    assert everything.matches(action(action_type=action_type))
    assert ApprovalPolicy((everything,)).rule_for(action(action_type=action_type)) is None


def test_rules_built_from_lists_hold_tuples_and_frozensets() -> None:
    built = ApprovalRule("r", ["dba", "sre"], tools=["a", "a"], resources=["x*"], sql=["ddl"])  # type: ignore[arg-type]
    assert built.approver_groups == ("dba", "sre")
    assert built.tools == frozenset({"a"})
    assert built.resources == ("x*",)
    assert built.sql == frozenset({"ddl"})
    written = ApprovalRule("r", ("dba", "sre"), tools=frozenset({"a"}), resources=("x*",), sql=frozenset({"ddl"}))
    assert built == written
    assert hash(built) == hash(written)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"approver_groups": ()}, "approver_groups is empty"),
        ({"approvals": 0}, "approvals must be a positive integer"),
        ({"approvals": True}, "approvals must be a positive integer"),
        ({"risks": {"severe"}}, "unknown risk severe"),
        ({"sql": {"select"}}, "unknown sql class select"),
    ],
)
def test_a_rule_refuses_values_that_cannot_work(kwargs: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"name": "r", "approver_groups": ("dba",), "tools": {"x"}}
    values.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ApprovalRule(**values)


def test_a_rule_refuses_a_bare_string_where_names_go() -> None:
    with pytest.raises(TypeError, match="approver_groups"):
        ApprovalRule("r", "dba")  # type: ignore[arg-type]


def test_a_policy_refuses_duplicate_names_and_a_negative_window() -> None:
    with pytest.raises(ValueError, match="duplicate approval rule names: r"):
        ApprovalPolicy((rule(tools={"a"}), rule(tools={"b"})))
    with pytest.raises(ValueError, match="late_window_s"):
        ApprovalPolicy(late_window_s=-1)
    assert ApprovalPolicy().late_window_s == 900


def test_risk_levels() -> None:
    assert RISK_LEVELS == ("low", "medium", "high", "critical")


def test_sql_classes_are_cached_and_equal_to_classify_sql() -> None:
    rules_module._cached_sql_classes.cache_clear()
    assert sql_classes("DROP TABLE t") == classify_sql("DROP TABLE t") == {"ddl"}
    assert sql_classes("DROP TABLE t") == {"ddl"}
    assert rules_module._cached_sql_classes.cache_info().hits == 1


def test_long_queries_are_not_kept_in_the_cache() -> None:
    rules_module._cached_sql_classes.cache_clear()
    long_query = "DELETE FROM t WHERE id IN (" + ", ".join(["1"] * 40000) + ")"
    assert len(long_query) > rules_module.MAX_CACHED_QUERY_CHARS
    assert sql_classes(long_query) == {"write"}
    assert rules_module._cached_sql_classes.cache_info().currsize == 0
