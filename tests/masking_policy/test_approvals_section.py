"""The policy file's `approvals:` section: every refusal names the line and the key; a good one parses."""

from __future__ import annotations

import textwrap

import pytest

from stream.approvals.rules import ActionDescription, ApprovalPolicy, ApprovalRule
from stream.identity.config import IdentitySettings
from stream.masking.plan import ScanLimits
from stream.masking.policy import MaskingPolicy, default_policy, parse_policy
from tests.masking_policy.refusal import refused

HEAD = "version: 1\nhash_key: mk-default\napprovals:\n"  # lines 1-3; the section's own lines start at 4


def doc(body: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(body).lstrip("\n"), "  ")


GOOD = """
late_window_s: 600
rules:
  - name: prod-db-writes
    action_types: [db.query]
    tools: [run_sql, run_sql]
    resources: ["postgres://prod/*", "mysql://prod-*"]
    risk: [high, critical]
    sql: [ddl, grant, delete_without_where, update_without_where, write]
    tenants: [acme]
    approver_groups: [dba-oncall, sre]
    approvals: 2
  - name: refunds
    tools: [refund_payment]
    approver_groups: [finance]
"""


def test_a_good_section_parses_into_rules_in_file_order() -> None:
    policy = parse_policy(doc(GOOD), "policy.yaml")
    assert policy.approvals == ApprovalPolicy(
        rules=(
            ApprovalRule(
                name="prod-db-writes",
                approver_groups=("dba-oncall", "sre"),
                approvals=2,
                action_types=frozenset({"db.query"}),
                tools=frozenset({"run_sql"}),
                resources=("postgres://prod/*", "mysql://prod-*"),
                risks=frozenset({"high", "critical"}),
                sql=frozenset({"ddl", "grant", "delete_without_where", "update_without_where", "write"}),
                tenants=frozenset({"acme"}),
            ),
            ApprovalRule(name="refunds", approver_groups=("finance",), tools=frozenset({"refund_payment"})),
        ),
        late_window_s=600,
    )
    refund = ActionDescription("globex", "tool.call", "refund_payment", None, None, None)
    assert policy.approvals.rule_for(refund).name == "refunds"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nhash_key: mk-default\n",
        "version: 1\nhash_key: mk-default\napprovals:\n",
        "version: 1\nhash_key: mk-default\napprovals: {}\n",
        "version: 1\nhash_key: mk-default\napprovals:\n  rules:\n",
        "version: 1\nhash_key: mk-default\napprovals:\n  rules: []\n",
    ],
)
def test_no_rules_cover_nothing_with_the_default_window(text: str) -> None:
    assert parse_policy(text).approvals == ApprovalPolicy(rules=(), late_window_s=900)


def test_the_default_policy_has_an_empty_section() -> None:
    assert default_policy().approvals == ApprovalPolicy(rules=(), late_window_s=900)


def test_a_policy_built_in_code_has_no_approval_rules() -> None:
    policy = MaskingPolicy(strict=True, limits=ScanLimits(), identity=IdentitySettings(), digest="", source="code")
    assert policy.approvals == ApprovalPolicy()


def test_late_window_zero_is_allowed() -> None:
    assert parse_policy(doc("late_window_s: 0\n")).approvals.late_window_s == 0


def test_idle_requests_are_forgotten_after_seven_days_unless_the_policy_says_otherwise() -> None:
    assert parse_policy(doc("late_window_s: 60\n")).approvals.forget_after_s == 7 * 24 * 3600
    assert parse_policy(doc("late_window_s: 60\nforget_after_s: 86400\n")).approvals.forget_after_s == 86400
    # a late window longer than the default horizon stretches it: a late approval must find what it clears
    assert parse_policy(doc("late_window_s: 1209600\n")).approvals.forget_after_s == 1209600


def test_forget_after_must_cover_the_late_window() -> None:
    error = refused(doc("late_window_s: 600\nforget_after_s: 300\n"), 5, "approvals.forget_after_s")
    assert error.reason == "want at least late_window_s (600), got 300"


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "'60'"])
def test_forget_after_must_be_a_positive_integer(value: str) -> None:
    error = refused(doc(f"forget_after_s: {value}\n"), 4, "approvals.forget_after_s")
    assert "positive integer" in error.reason


def test_a_policy_built_in_code_refuses_a_horizon_shorter_than_the_late_window() -> None:
    with pytest.raises(ValueError, match="shorter than late_window_s"):
        ApprovalPolicy(late_window_s=600, forget_after_s=60)


# ----------------------------------------------------------------------------------------- refusals


def test_the_section_must_be_a_mapping() -> None:
    error = refused("version: 1\nhash_key: mk-default\napprovals: [x]\n", 3, "approvals")
    assert "want a mapping" in error.reason


def test_unknown_key_in_the_section() -> None:
    error = refused(doc("late_window_s: 60\nlate_window: 60\n"), 5, "approvals.late_window")
    assert error.reason == "unknown key 'late_window'; known keys: late_window_s, forget_after_s, rules"


@pytest.mark.parametrize("value", ["-1", "1.5", "'60'", "true"])
def test_late_window_must_be_a_non_negative_integer(value: str) -> None:
    error = refused(doc(f"late_window_s: {value}\n"), 4, "approvals.late_window_s")
    assert "non-negative integer" in error.reason


def test_rules_must_be_a_list() -> None:
    error = refused(doc("rules: {name: x}\n"), 4, "approvals.rules")
    assert "want a list of approval rules" in error.reason


def test_unknown_key_in_a_rule() -> None:
    body = """
    rules:
      - name: r
        tools: [x]
        approvers: [dba]
    """
    error = refused(doc(body), 7, "approvals.rules[0].approvers")
    assert error.reason.startswith("unknown key 'approvers'; known keys: name, action_types, tools, resources, risk")


def test_duplicate_key_in_a_rule() -> None:
    body = """
    rules:
      - name: r
        tools: [x]
        approver_groups: [dba]
        tools: [y]
    """
    error = refused(doc(body), 8, "approvals.rules[0].tools")
    assert error.reason == "duplicate key 'tools' (first at line 6)"


@pytest.mark.parametrize("missing", ["name", "approver_groups"])
def test_name_and_approver_groups_are_required(missing: str) -> None:
    fields = {"name": "name: r", "approver_groups": "approver_groups: [dba]"}
    del fields[missing]
    body = "rules:\n  - tools: [x]\n" + "".join(f"    {line}\n" for line in fields.values())
    error = refused(doc(body), 5, f"approvals.rules[0].{missing}")
    assert error.reason == "missing: a rule needs name and approver_groups"


def test_rule_names_are_unique() -> None:
    body = """
    rules:
      - name: r
        tools: [x]
        approver_groups: [dba]
      - name: r
        tools: [y]
        approver_groups: [dba]
    """
    error = refused(doc(body), 8, "approvals.rules[1].name")
    assert error.reason == "duplicate approval rule name 'r' (first at line 5)"


@pytest.mark.parametrize("name", ["-leading-dash", "has space", "x" * 129, "a/b"])
def test_rule_names_follow_the_rule_id_pattern(name: str) -> None:
    body = f"""
    rules:
      - name: "{name}"
        tools: [x]
        approver_groups: [dba]
    """
    error = refused(doc(body), 5, "approvals.rules[0].name")
    assert "is not a rule name" in error.reason


def test_unknown_risk_level() -> None:
    body = """
    rules:
      - name: r
        risk:
          - high
          - severe
        approver_groups: [dba]
    """
    error = refused(doc(body), 8, "approvals.rules[0].risk[1]")
    assert error.reason == "'severe' is not one of low, medium, high, critical"


def test_risk_levels_are_lower_case() -> None:
    body = """
    rules:
      - name: r
        risk: [High]
        approver_groups: [dba]
    """
    refused(doc(body), 6, "approvals.rules[0].risk[0]")


def test_unknown_sql_class() -> None:
    body = """
    rules:
      - name: r
        action_types: [db.query]
        sql: [write, select]
        approver_groups: [dba]
    """
    error = refused(doc(body), 7, "approvals.rules[0].sql[1]")
    assert error.reason == "'select' is not one of ddl, delete_without_where, update_without_where, grant, write"


@pytest.mark.parametrize("key", ["risk", "sql", "tools", "action_types", "resources", "tenants", "approver_groups"])
def test_lists_must_not_be_empty(key: str) -> None:
    criteria = "" if key == "tools" else "    tools: [x]\n"
    groups = "" if key == "approver_groups" else "    approver_groups: [dba]\n"
    body = f"rules:\n  - name: r\n    {key}: []\n{criteria}{groups}"
    error = refused(doc(body), 6, f"approvals.rules[0].{key}")
    if key == "approver_groups":
        assert error.reason == "empty list: nobody could approve"
    else:
        assert error.reason.startswith("empty list: name at least one of")
        assert error.reason.endswith("or leave the key out")


def test_a_scalar_where_a_list_goes_is_refused() -> None:
    body = """
    rules:
      - name: r
        risk: high
        approver_groups: [dba]
    """
    error = refused(doc(body), 6, "approvals.rules[0].risk")
    assert error.reason == "want a list of risk levels, got the string 'high'"


@pytest.mark.parametrize("value", ["0", "-1", "1.0", "true", "'2'"])
def test_approvals_must_be_a_positive_integer(value: str) -> None:
    body = f"""
    rules:
      - name: r
        tools: [x]
        approver_groups: [dba]
        approvals: {value}
    """
    error = refused(doc(body), 8, "approvals.rules[0].approvals")
    assert "positive integer" in error.reason


def test_a_rule_without_criteria_would_cover_every_action() -> None:
    body = """
    rules:
      - name: r
        approver_groups: [dba]
    """
    error = refused(doc(body), 5, "approvals.rules[0]")
    assert error.reason == (
        "no criteria: this rule would cover every action; give at least one of action_types, tools, "
        "resources, risk or sql"
    )


def test_tenants_alone_are_not_criteria_enough() -> None:
    body = """
    rules:
      - name: ok
        tools: [x]
        approver_groups: [dba]
      - approvals: 2
        name: r
        tenants: [acme]
        approver_groups: [dba]
    """
    error = refused(doc(body), 8, "approvals.rules[1]")
    assert "would cover every action of its tenants" in error.reason


def test_sql_that_can_never_match_the_action_types() -> None:
    body = """
    rules:
      - name: r
        action_types: [tool.call, llm.request]
        tools: [x]
        sql: [write]
        approver_groups: [dba]
    """
    error = refused(doc(body), 8, "approvals.rules[0].sql")
    assert error.reason == (
        "sql can never match: only db.query actions have SQL classes, and action_types (line 6) does not list db.query"
    )


def test_sql_without_action_types_is_allowed() -> None:
    body = """
    rules:
      - name: r
        sql: [ddl]
        approver_groups: [dba]
    """
    rule = parse_policy(doc(body)).approvals.rules[0]
    assert rule.sql == {"ddl"}
    assert rule.action_types == frozenset()


def test_approval_steps_cannot_be_covered() -> None:
    body = """
    rules:
      - name: r
        action_types: [db.query, approval.request]
        approver_groups: [dba]
    """
    error = refused(doc(body), 6, "approvals.rules[0].action_types[1]")
    assert "approval steps never need an approval themselves" in error.reason


def test_an_alias_in_the_section_is_refused() -> None:
    body = """
    rules:
      - name: r
        tools: &t [x]
        approver_groups: *t
    """
    error = refused(doc(body), 7, "approvals.rules[0].approver_groups")
    assert "aliases" in error.reason
