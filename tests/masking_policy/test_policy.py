"""The masking policy file: every refusal names the line and the key; precedence; rules; the default policy."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
import types
from pathlib import Path

import pytest

from stream.identity.config import IssuerConfig
from stream.masking.keys import MaskingKeys
from stream.masking.plan import DETECTOR_NAMES, DetectorSetting, FieldRule, ScanLimits
from stream.masking.policy import (
    DEFAULT_DETECTORS,
    MaskingPolicy,
    check_path_syntax,
    default_policy,
    load_policy,
    parse_policy,
)
from stream.masking.policy_errors import PolicyError
from tests.masking_policy.refusal import refused

HEAD = "version: 1\nhash_key: mk-default\n"  # lines 1-2 of most documents below; their own lines start at 3


def doc(body: str, head: str = HEAD) -> str:
    return head + textwrap.dedent(body).lstrip("\n")


def ok(text: str) -> MaskingPolicy:
    return parse_policy(text, "policy.yaml")


# ----------------------------------------------------------------------------------------- document level


def test_yaml_syntax_error_names_the_line_of_the_mark() -> None:
    error = refused(doc("detectors:\n  email: hash\n  phone: [hash\nrules: []\n"), 6, "<yaml>")
    assert "YAML syntax error" in error.reason


def test_yaml_syntax_error_bad_indentation() -> None:
    error = refused(doc("limits:\n  max_depth: 3\n   max_nodes: 4\n"), 5, "<yaml>")
    assert "YAML syntax error" in error.reason


def test_two_documents_are_refused() -> None:
    refused(doc("strict: true\n---\nstrict: false\n"), 4, "<yaml>")


def test_empty_policy_is_refused() -> None:
    error = refused("# nothing here\n", 1, "<root>")
    assert "version: 1" in error.reason


def test_top_level_must_be_a_mapping() -> None:
    error = refused("# a list\n- version: 1\n", 2, "<root>")
    assert "got a list" in error.reason


def test_version_is_required_and_must_be_1() -> None:
    refused("hash_key: k\nstrict: true\n", 1, "version")
    error = refused("strict: true\nversion: 2\n", 2, "version")
    assert "unsupported version 2" in error.reason
    refused("version: '1'\n", 1, "version")


def test_unknown_top_level_key_names_the_known_ones() -> None:
    error = refused(doc("strict: true\nmasking: {}\n"), 4, "masking")
    assert error.reason == (
        "unknown key 'masking'; known keys: version, strict, limits, hash_key, detectors, rules, action_types, "
        "tenants, identity, approvals"
    )


@pytest.mark.parametrize(
    ("body", "line", "path", "known"),
    [
        ("limits:\n  max_depth: 3\n  max_bytes: 4\n", 5, "limits.max_bytes", "max_field_bytes, max_depth, max_nodes"),
        (
            "rules:\n  - id: a\n    path: payload.prompt\n    action: drop\n    when: always\n",
            7,
            "rules[0].when",
            "id,",
        ),
        ("action_types:\n  db.query: {detector: {}}\n", 4, 'action_types["db.query"].detector', "detectors"),
        ("tenants:\n  acme:\n    hash-key: k\n", 5, "tenants.acme.hash-key", "hash_key, detectors, action_types"),
        (
            "detectors:\n  payment_card: {action: partial, keeps: 2}\n",
            4,
            "detectors.payment_card.keeps",
            "action, keep",
        ),
        ("identity:\n  leeway: 5\n", 4, "identity.leeway", "leeway_s, require_token"),
        (
            "identity:\n  issuers:\n    - issuer: https://idp.example.com\n      audiences: [a]\n"
            "      jwks_file: /k.json\n      audience: b\n",
            8,
            "identity.issuers[0].audience",
            "issuer, audiences, jwks_file, jwks_url",
        ),
    ],
)
def test_unknown_nested_keys(body: str, line: int, path: str, known: str) -> None:
    error = refused(doc(body), line, path)
    assert "unknown key" in error.reason and known in error.reason


# ----------------------------------------------------------------------------------------- value types


@pytest.mark.parametrize(
    ("body", "line", "path", "got"),
    [
        ("strict: 'yes'\n", 3, "strict", "want true or false, got the string 'yes'"),
        ("strict: 1\n", 3, "strict", "want true or false, got the integer 1"),
        ("limits: [1, 2]\n", 3, "limits", "got a list"),
        ("limits:\n  max_depth: 1.5\n", 4, "limits.max_depth", "want a positive integer, got the number 1.5"),
        ("limits:\n  max_nodes: '100'\n", 4, "limits.max_nodes", "got the string '100'"),
        ("limits:\n  max_field_bytes: true\n", 4, "limits.max_field_bytes", "got the boolean true"),
        ("detectors: [email]\n", 3, "detectors", "got a list"),
        ("detectors:\n  email: [hash]\n", 4, "detectors.email", "got a list"),
        ("detectors:\n  email:\n", 4, "detectors.email", "got null"),
        ("rules: {a: 1}\n", 3, "rules", "want a list of field rules, got a mapping"),
        ("rules:\n  - payload.prompt\n", 4, "rules[0]", "got the string 'payload.prompt'"),
        ("tenants: [acme]\n", 3, "tenants", "got a list"),
        ("tenants:\n  acme: mk-acme\n", 4, "tenants.acme", "got the string 'mk-acme'"),
        ("action_types:\n  db.query: off\n", 4, 'action_types["db.query"]', "got the boolean off"),
        ("identity: []\n", 3, "identity", "got a list"),
        ("identity:\n  leeway_s: '60'\n", 4, "identity.leeway_s", "want a non-negative integer"),
        ("identity:\n  leeway_s: -1\n", 4, "identity.leeway_s", "want a non-negative integer, got -1"),
        ("identity:\n  require_token: 'no'\n", 4, "identity.require_token", "want true or false"),
        ("identity:\n  jwks_cache_ttl_s: 0\n", 4, "identity.jwks_cache_ttl_s", "want a positive number, got 0"),
        ("identity:\n  jwks_cache_ttl_s: .inf\n", 4, "identity.jwks_cache_ttl_s", "want a positive number"),
        ("identity:\n  jwks_refresh_min_interval_s: -2\n", 4, "identity.jwks_refresh_min_interval_s", "non-negative"),
        ("identity:\n  algorithms: RS256\n", 4, "identity.algorithms", "got the string 'RS256'"),
        ("identity:\n  issuers: {issuer: x}\n", 4, "identity.issuers", "got a mapping"),
    ],
)
def test_wrong_value_types(body: str, line: int, path: str, got: str) -> None:
    assert got in refused(doc(body), line, path).reason


def test_bad_hash_key_id() -> None:
    error = refused("version: 1\nhash_key: ../etc/passwd\n", 2, "hash_key")
    assert "is not a masking key id" in error.reason
    assert "got a list" in refused("version: 1\nhash_key: [a]\n", 2, "hash_key").reason
    refused(doc("tenants:\n  acme:\n    hash_key: 'a b'\n"), 5, "tenants.acme.hash_key")


def test_duplicate_keys_in_a_mapping_are_refused() -> None:
    error = refused(doc("strict: true\nstrict: false\n"), 4, "strict")
    assert error.reason == "duplicate key 'strict' (first at line 3)"
    refused(doc("detectors:\n  email: hash\n  phone: off\n  email: redact\n"), 6, "detectors.email")
    refused(doc("tenants:\n  acme: {}\n  beta: {}\n  acme: {hash_key: k2}\n"), 6, "tenants.acme")
    refused(doc("limits: {max_depth: 3, max_depth: 4}\n"), 3, "limits.max_depth")


def test_aliases_and_merge_keys_are_refused() -> None:
    error = refused(
        doc("detectors: &d {email: redact}\ntenants:\n  acme:\n    detectors: *d\n"), 6, "tenants.acme.detectors"
    )
    assert "aliases (*d) are not supported" in error.reason
    error = refused(doc("tenants:\n  acme: &t {hash_key: k}\n  beta:\n    <<: *t\n"), 6, "tenants.beta")
    assert "merge keys" in error.reason


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"version: 1\nhash_key: k\n# caf\xe9\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}:3: <yaml>: not UTF-8")


def test_unreadable_file_names_it_without_a_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "missing.yaml")
    assert str(caught.value) == f"{tmp_path / 'missing.yaml'}: cannot read policy file: No such file or directory"
    assert caught.value.line is None


# ----------------------------------------------------------------------------------------- detectors, actions


def test_unknown_detector_lists_the_known_ones() -> None:
    error = refused(doc("detectors:\n  email: hash\n  credit_card: redact\n"), 5, "detectors.credit_card")
    assert error.reason == f"unknown detector 'credit_card'; known detectors: {', '.join(DETECTOR_NAMES)}"
    refused(
        doc("action_types:\n  db.query:\n    detectors: {ipv5: off}\n"), 5, 'action_types["db.query"].detectors.ipv5'
    )
    refused(
        doc("tenants:\n  acme:\n    action_types:\n      llm.request:\n        detectors:\n          mail: hash\n"),
        8,
        'tenants.acme.action_types["llm.request"].detectors.mail',
    )


def test_unknown_action_in_a_rule_matches_the_documented_message() -> None:
    text = doc(
        """
        strict: true
        limits: {max_depth: 64}
        rules:
          - id: r0
            path: payload.prompt
            action: redact
          - id: r1
            path: payload.query
            action: drop
          - id: r2
            path: payload.response.rows[*].ssn
            action: scramble
        """
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policy.yaml")
    assert str(caught.value) == "policy.yaml:14: rules[2].action: 'scramble' is not one of redact, partial, hash, drop"


@pytest.mark.parametrize(
    ("body", "line", "path", "reason"),
    [
        (
            "detectors:\n  email: mask\n",
            4,
            "detectors.email",
            "'mask' is not one of redact, partial, hash, drop (or off)",
        ),
        ("detectors:\n  email: on\n", 4, "detectors.email", "'on' does not say what to do"),
        ("detectors:\n  email: {action: off}\n", 4, "detectors.email.action", "'off' is not one of"),
        ("detectors:\n  email: {keep: 2}\n", 4, "detectors.email.action", "missing"),
        (
            "detectors:\n  payment_card:\n    action: partial\n    keep: -1\n",
            6,
            "detectors.payment_card.keep",
            "want a non-negative integer, got -1",
        ),
        (
            "detectors:\n  payment_card: {action: partial, keep: '4'}\n",
            4,
            "detectors.payment_card.keep",
            "got the string '4'",
        ),
        (
            "detectors:\n  email:\n    action: redact\n    keep: 2\n",
            6,
            "detectors.email.keep",
            "keep only applies to action partial",
        ),
        (
            "rules:\n  - id: a\n    path: payload.prompt\n    action: partial\n    keep: 1.5\n",
            7,
            "rules[0].keep",
            "want a non-negative integer",
        ),
        ("rules:\n  - {id: a, path: payload.prompt, action: null}\n", 4, "rules[0].action", "got null"),
    ],
)
def test_bad_actions_and_keep(body: str, line: int, path: str, reason: str) -> None:
    assert reason in refused(doc(body), line, path).reason


def test_off_in_every_spelling_turns_a_detector_off() -> None:
    policy = ok(doc("detectors:\n  email: off\n  phone: 'off'\n  ipv4: false\n  ipv6: no\n"))
    plan = policy.preview("acme", "llm.request")
    assert not {"email", "phone", "ipv4", "ipv6"} & set(plan.detectors)
    assert len(plan.detectors) == len(DETECTOR_NAMES) - 4


def test_keep_zero_and_default_keep() -> None:
    policy = ok(doc("detectors:\n  payment_card: {action: partial, keep: 0}\n  iban: partial\n"))
    plan = policy.preview("t", "a")
    assert plan.detectors["payment_card"] == DetectorSetting("partial", 0)
    assert plan.detectors["iban"] == DetectorSetting("partial", 4)


# ----------------------------------------------------------------------------------------- field rules


@pytest.mark.parametrize(
    ("path_text", "reason"),
    [
        ("payload..prompt", "empty name at character 9"),
        ("payload.prompt.", "empty name after the last dot"),
        ("payload.response.rows[", "bad brackets at character 22"),
        ("payload.response.rows[x]", "bad brackets at character 22"),
        ("payload.response.rows[-1]", "bad brackets at character 22"),
        ("payload.response.rows[*]ssn", "unexpected 's' at character 25"),
        ("payload.resp onse", "unexpected ' ' at character 13"),
        ("payload.**", "unexpected '*' at character 10"),
        ("[0].x", "unexpected '[' at character 1"),
        ("response.rows[*].ssn", "the event has no field 'response'"),
        ("payload.respons", "payload has no field 'respons'; its fields: prompt, parameters"),
        ("payload[*].prompt", "payload is a record, not a list"),
        ("actor.subjekt", "actor has no field 'subjekt'"),
    ],
)
def test_bad_rule_paths(path_text: str, reason: str) -> None:
    text = doc(f"rules:\n  - id: r\n    action: redact\n    path: '{path_text}'\n")
    error = refused(text, 6, "rules[0].path")
    assert reason in error.reason
    assert repr(path_text) in error.reason


def test_good_rule_paths() -> None:
    for text in (
        "payload.response.rows[*].ssn",
        "payload.tool_arguments.user.cards[0].number",
        "payload.attributes.api_key",
        "payload.*",
        "*.name",
        "payload.parameters.headers.Authorization",
        "outcome.error",
        "actor.groups[2]",
        "payload.response[*].items[1][*]",
        'payload.attributes["http.url"]',
        "payload.tool_arguments['a b'][0]",
    ):
        assert check_path_syntax(text)
        policy = ok(doc(f"rules:\n  - id: r\n    action: drop\n    path: {json.dumps(text)}\n"))
        assert policy.rules[0].rule.path == text


def test_engine_path_parser_is_consulted_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def parse_path(text: str) -> object:
        seen.append(text)
        raise ValueError("the engine says no")

    fake = types.ModuleType("stream.masking.paths")
    fake.parse_path = parse_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stream.masking.paths", fake)
    error = refused(doc("rules:\n  - id: r\n    action: drop\n    path: payload.prompt\n"), 6, "rules[0].path")
    assert seen == ["payload.prompt"]
    assert error.reason == "bad field path 'payload.prompt': the engine says no"


def test_rule_required_keys_and_ids() -> None:
    refused(doc("rules:\n  - id: a\n    action: drop\n"), 4, "rules[0].path")
    refused(doc("rules:\n  - {path: payload.prompt, action: drop}\n"), 4, "rules[0].id")
    refused(doc("rules:\n  - {id: a, path: payload.prompt}\n"), 4, "rules[0].action")
    error = refused(doc("rules:\n  - {id: 'no spaces', path: payload.prompt, action: drop}\n"), 4, "rules[0].id")
    assert "is not a rule id" in error.reason


def test_duplicate_rule_ids() -> None:
    text = doc(
        """
        rules:
          - id: ssn
            path: payload.response.rows[*].ssn
            action: redact
          - id: card
            path: payload.response.rows[*].card
            action: partial
          - id: ssn
            path: payload.query
            action: drop
        """
    )
    error = refused(text, 10, "rules[2].id")
    assert error.reason == "duplicate rule id 'ssn' (first at line 4)"


def test_rule_scope_lists() -> None:
    error = refused(
        doc("rules:\n  - {id: a, path: payload.prompt, action: drop, tenants: []}\n"), 4, "rules[0].tenants"
    )
    assert "empty list" in error.reason
    error = refused(
        doc("rules:\n  - {id: a, path: payload.prompt, action: drop, action_types: db.query}\n"),
        4,
        "rules[0].action_types",
    )
    assert "want a list of action types" in error.reason
    refused(
        doc("rules:\n  - id: a\n    path: payload.prompt\n    action: drop\n    tenants: [acme, null]\n"),
        7,
        "rules[0].tenants[1]",
    )


def test_rules_filtered_by_tenant_and_action_type() -> None:
    policy = ok(
        doc(
            """
            rules:
              - id: everywhere
                path: payload.attributes.secret
                action: redact
              - id: acme-only
                path: payload.response.rows[*].ssn
                action: hash
                tenants: [acme]
              - id: queries
                path: payload.query
                action: partial
                keep: 6
                action_types: [db.query, retriever.query]
              - id: acme-queries
                path: payload.response
                action: drop
                tenants: [acme, beta]
                action_types: [db.query]
            """
        )
    )

    def ids(tenant: str, action_type: str) -> list[str]:
        return [rule.rule_id for rule in policy.preview(tenant, action_type).field_rules]

    assert ids("acme", "db.query") == ["everywhere", "acme-only", "queries", "acme-queries"]
    assert ids("acme", "llm.request") == ["everywhere", "acme-only"]
    assert ids("beta", "db.query") == ["everywhere", "queries", "acme-queries"]
    assert ids("gamma", "retriever.query") == ["everywhere", "queries"]
    assert ids("gamma", "tool.call") == ["everywhere"]
    assert policy.preview("x", "db.query").field_rules[1] == FieldRule("queries", "payload.query", "partial", 6)


# ----------------------------------------------------------------------------------------- hash keys


def test_default_hash_detectors_need_a_hash_key() -> None:
    error = refused("version: 1\nstrict: true\n", 1, "hash_key")
    assert error.reason.startswith("missing: detectors email, phone, us_ssn, iban, ipv4, ipv6 hash by default")
    # Without hashing anywhere, no key is needed.
    policy = ok(
        "version: 1\ndetectors: {email: redact, phone: redact, us_ssn: off, iban: drop, ipv4: off, ipv6: off}\n"
    )
    assert policy.hash_key_ids() == set()
    plan = policy.plan_for("acme", "db.query", MaskingKeys(Path("/nonexistent")))
    assert plan.hash_key == b""


NO_HASH = "version: 1\ndetectors: {email: redact, phone: redact, us_ssn: off, iban: drop, ipv4: off, ipv6: off}\n"


def test_hash_anywhere_without_a_key_is_refused() -> None:
    error = refused(
        NO_HASH + "action_types:\n  db.query: {detectors: {ipv4: hash}}\n", 4, 'action_types["db.query"].detectors.ipv4'
    )
    assert error.reason == "'hash' needs a masking key id: set hash_key at the top level"
    error = refused(
        NO_HASH + "tenants:\n  acme:\n    detectors: {email: {action: hash}}\n",
        5,
        "tenants.acme.detectors.email.action",
    )
    assert (
        error.reason
        == "'hash' needs a masking key id for tenant 'acme': set hash_key at the top level or tenants.acme.hash_key"
    )
    error = refused(NO_HASH + "rules:\n  - id: a\n    path: payload.prompt\n    action: hash\n", 6, "rules[0].action")
    # A rule for a tenant the policy does not give a key either.
    refused(
        NO_HASH + "tenants:\n  acme: {hash_key: mk-acme}\nrules:\n  - id: a\n    path: payload.prompt\n"
        "    action: hash\n    tenants: [acme, beta]\n",
        8,
        "rules[0].action",
    )
    # A tenant that turns a default-hash detector back on.
    refused(
        NO_HASH + "tenants:\n  acme:\n    action_types:\n      db.query:\n        detectors: {ipv6: hash}\n",
        7,
        'tenants.acme.action_types["db.query"].detectors.ipv6',
    )


def test_a_tenant_own_key_resolves_its_hash() -> None:
    policy = ok(
        NO_HASH + "tenants:\n  acme:\n    hash_key: mk-acme\n    detectors: {email: hash}\n"
        "rules:\n  - {id: a, path: payload.prompt, action: hash, tenants: [acme]}\n"
    )
    assert policy.hash_key_ids() == {"mk-acme"}
    assert policy.preview("acme", "x").hash_key_id == "mk-acme"
    assert policy.preview("other", "x").hash_key_id == ""


def test_hash_key_ids_lists_every_key() -> None:
    policy = ok(doc("tenants:\n  acme: {hash_key: mk-acme}\n  beta: {hash_key: mk-beta}\n  gamma: {}\n"))
    assert policy.hash_key_ids() == {"mk-default", "mk-acme", "mk-beta"}


# ----------------------------------------------------------------------------------------- precedence


PRECEDENCE = doc(
    """
    detectors:
      email: redact
      phone: drop
    action_types:
      db.query:
        detectors:
          email: {action: partial, keep: 2}
          phone: hash
          ipv4: off
    tenants:
      acme:
        hash_key: mk-acme
        detectors:
          email: drop
          ipv4: redact
        action_types:
          db.query:
            detectors:
              email: hash
          llm.request:
            detectors:
              ipv4: off
    """
)


@pytest.mark.parametrize(
    ("tenant", "action_type", "expected"),
    [
        ("other", "tool.call", {"email": "redact", "phone": "drop", "ipv4": "hash", "iban": "hash"}),
        ("other", "db.query", {"email": "partial", "phone": "hash", "ipv4": None, "iban": "hash"}),
        ("acme", "tool.call", {"email": "drop", "phone": "drop", "ipv4": "redact", "iban": "hash"}),
        ("acme", "db.query", {"email": "hash", "phone": "hash", "ipv4": "redact", "iban": "hash"}),
        ("acme", "llm.request", {"email": "drop", "phone": "drop", "ipv4": None, "iban": "hash"}),
    ],
)
def test_precedence_defaults_top_action_type_tenant_tenant_action_type(
    tenant: str, action_type: str, expected: dict[str, str | None]
) -> None:
    plan = ok(PRECEDENCE).preview(tenant, action_type)
    got = {name: plan.detectors[name].action if name in plan.detectors else None for name in expected}
    assert got == expected
    if tenant == "other" and action_type == "db.query":
        assert plan.detectors["email"] == DetectorSetting("partial", 2)


def test_plans_are_ordered_and_complete() -> None:
    plan = ok(PRECEDENCE).preview("acme", "db.query")
    assert list(plan.detectors) == [name for name in DETECTOR_NAMES if name in plan.detectors]
    assert plan.tenant == "acme" and plan.hash_key_id == "mk-acme"


def test_plan_for_derives_the_tenant_key_and_caches(tmp_path: Path) -> None:
    keys = MaskingKeys(tmp_path / "keys")
    keys.ensure(["mk-default", "mk-acme"])
    policy = ok(PRECEDENCE)
    acme = policy.plan_for("acme", "db.query", keys)
    assert acme.hash_key == keys.tenant_key("mk-acme", "acme") and acme.hash_key_id == "mk-acme"
    other = policy.plan_for("other", "db.query", keys)
    assert other.hash_key == keys.tenant_key("mk-default", "other")
    assert policy.plan_for("acme", "db.query", keys) is acme
    fresh = MaskingKeys(tmp_path / "keys")
    again = policy.plan_for("acme", "db.query", fresh)
    assert again is not acme and again == acme


def test_strict_and_limits_reach_the_plan() -> None:
    policy = ok(doc("strict: false\nlimits:\n  max_depth: 8\n  max_nodes: 1_000\n"))
    plan = policy.preview("t", "a")
    assert plan.strict is False and policy.strict is False
    assert plan.limits == ScanLimits(max_field_bytes=1_048_576, max_depth=8, max_nodes=1000)


def test_plain_scalars_are_names() -> None:
    policy = ok(doc("tenants:\n  no: {hash_key: 2024}\n  1234: {detectors: {email: off}}\n"))
    assert set(policy.tenants) == {"no", "1234"}
    assert policy.tenants["no"].hash_key == "2024"
    assert "email" not in policy.preview("1234", "x").detectors


# ----------------------------------------------------------------------------------------- identity


ISSUER = "  issuers:\n    - issuer: https://idp.example.com\n"


def test_identity_settings_parsed() -> None:
    policy = ok(
        doc(
            """
            identity:
              leeway_s: 30
              require_token: true
              jwks_refresh_min_interval_s: 2.5
              jwks_cache_ttl_s: 600
              algorithms: [ES256, EdDSA, PS256]
              issuers:
                - issuer: https://idp.example.com
                  audiences: [auditledger, auditledger-dev]
                  jwks_file: /etc/auditledger/idp-jwks.json
                  tenants: [acme]
                  groups_claim: roles
                  email_claim: mail
                - issuer: http://127.0.0.1:8443/realms/dev
                  audiences: [auditledger]
                  jwks_url: http://localhost:8443/realms/dev/certs
            """
        )
    )
    identity = policy.identity
    assert (identity.leeway_s, identity.require_token) == (30, True)
    assert (identity.jwks_refresh_min_interval_s, identity.jwks_cache_ttl_s) == (2.5, 600.0)
    assert identity.algorithms == ("ES256", "EdDSA", "PS256")
    assert identity.issuers == (
        IssuerConfig(
            "https://idp.example.com",
            ("auditledger", "auditledger-dev"),
            jwks_file="/etc/auditledger/idp-jwks.json",
            tenants=("acme",),
            groups_claim="roles",
            email_claim="mail",
        ),
        IssuerConfig(
            "http://127.0.0.1:8443/realms/dev", ("auditledger",), jwks_url="http://localhost:8443/realms/dev/certs"
        ),
    )


def test_identity_defaults() -> None:
    identity = ok(HEAD).identity
    assert identity.issuers == () and identity.algorithms == ("RS256", "ES256") and identity.leeway_s == 60


def test_relative_jwks_file_is_relative_to_the_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(doc("identity:\n" + ISSUER + "      audiences: [a]\n      jwks_file: keys/idp.json\n"))
    assert load_policy(path).identity.issuers[0].jwks_file == str(tmp_path / "keys/idp.json")
    assert ok(path.read_text()).identity.issuers[0].jwks_file == "keys/idp.json"


@pytest.mark.parametrize(
    ("issuer_lines", "line", "path", "reason"),
    [
        ("      jwks_file: /k.json\n", 5, "identity.issuers[0].audiences", "missing: an issuer needs audiences"),
        ("      audiences: []\n      jwks_file: /k.json\n", 6, "identity.issuers[0].audiences", "empty list"),
        ("      audiences: auditledger\n      jwks_file: /k.json\n", 6, "identity.issuers[0].audiences", "want a list"),
        (
            "      audiences: [a]\n      jwks_file: /k.json\n      jwks_url: https://idp.example.com/jwks\n",
            8,
            "identity.issuers[0].jwks_url",
            "both jwks_file and jwks_url are set",
        ),
        (
            "      audiences: [a]\n",
            5,
            "identity.issuers[0].jwks_file",
            "missing: give exactly one of jwks_file or jwks_url",
        ),
        (
            "      audiences: [a]\n      jwks_url: http://idp.example.com/jwks\n",
            7,
            "identity.issuers[0].jwks_url",
            "is plain http: want https (http only for 127.0.0.1 or localhost)",
        ),
        (
            "      audiences: [a]\n      jwks_url: ftp://idp.example.com/jwks\n",
            7,
            "identity.issuers[0].jwks_url",
            "is not an https URL",
        ),
        (
            "      audiences: [a]\n      jwks_url: https://user:pw@idp.example.com/jwks\n",
            7,
            "identity.issuers[0].jwks_url",
            "must not carry a user name or password",
        ),
        ("      audiences: [a]\n      jwks_url: /jwks\n", 7, "identity.issuers[0].jwks_url", "is not an https URL"),
        ("      audiences: [a]\n      jwks_file: ''\n", 7, "identity.issuers[0].jwks_file", "got an empty string"),
        (
            "      audiences: [a]\n      jwks_file: /k.json\n      groups_claim: [g]\n",
            8,
            "identity.issuers[0].groups_claim",
            "want a claim name",
        ),
    ],
)
def test_bad_issuers(issuer_lines: str, line: int, path: str, reason: str) -> None:
    assert reason in refused(doc("identity:\n" + ISSUER + issuer_lines), line, path).reason


def test_issuer_url_rules_and_duplicates() -> None:
    refused(
        doc("identity:\n  issuers:\n    - issuer: http://idp.example.com\n      audiences: [a]\n      jwks_file: /k\n"),
        5,
        "identity.issuers[0].issuer",
    )
    refused(doc("identity:\n  issuers:\n    - audiences: [a]\n      jwks_file: /k\n"), 5, "identity.issuers[0].issuer")
    text = doc(
        """
        identity:
          issuers:
            - {issuer: 'https://idp.example.com', audiences: [a], jwks_file: /k}
            - {issuer: 'https://idp.example.com', audiences: [b], jwks_file: /k2}
        """
    )
    error = refused(text, 6, "identity.issuers[1].issuer")
    assert error.reason == "duplicate issuer 'https://idp.example.com' (first at line 5)"


@pytest.mark.parametrize(
    ("algorithm", "reason"),
    [
        ("none", "'none' is refused: it means an unsigned token, which anyone can write, so it proves nothing"),
        ("None", "'None' is refused: it means an unsigned token"),
        ("HS256", "'HS256' is refused: HMAC tokens are checked with the issuer's shared secret"),
        ("RS1", "'RS1' is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"),
        ("rs256", "'rs256' is not one of RS256"),
    ],
)
def test_algorithms(algorithm: str, reason: str) -> None:
    error = refused(doc(f"identity:\n  algorithms:\n    - RS256\n    - '{algorithm}'\n"), 6, "identity.algorithms[1]")
    assert error.reason.startswith(reason)


def test_empty_algorithm_list() -> None:
    refused(doc("identity:\n  algorithms: []\n"), 4, "identity.algorithms")


# ----------------------------------------------------------------------------------------- default policy, digest


def test_default_policy_enables_every_detector_with_the_documented_defaults() -> None:
    policy = default_policy()
    plan = policy.preview("any-tenant", "llm.request")
    assert set(plan.detectors) == set(DETECTOR_NAMES)
    assert dict(plan.detectors) == dict(DEFAULT_DETECTORS)
    secrets = (
        "jwt",
        "pem_private_key",
        "aws_access_key",
        "github_token",
        "slack_token",
        "openai_key",
        "bearer_token",
        "url_password",
    )
    assert all(plan.detectors[name].action == "redact" for name in secrets)
    assert all(plan.detectors[name].action == "hash" for name in ("email", "phone", "us_ssn", "iban", "ipv4", "ipv6"))
    assert plan.detectors["payment_card"] == DetectorSetting("partial", 4)
    assert plan.strict is True and plan.limits == ScanLimits() and plan.field_rules == ()
    assert policy.hash_key_ids() == {"mk-default"} and plan.hash_key_id == "mk-default"
    assert policy.identity.issuers == () and policy.identity.require_token is False


def test_default_policy_digest_is_of_the_packaged_file() -> None:
    packaged = Path(__file__).resolve().parents[2] / "stream" / "masking" / "default_policy.yaml"
    assert default_policy().digest == hashlib.sha256(packaged.read_bytes()).hexdigest()
    assert default_policy().source.endswith("default_policy.yaml")


def test_an_empty_policy_means_the_defaults() -> None:
    assert dict(ok(HEAD).preview("t", "a").detectors) == dict(DEFAULT_DETECTORS)


def test_digest_is_sha256_of_the_text_and_changes_with_it(tmp_path: Path) -> None:
    text = doc("strict: true\n")
    policy = ok(text)
    assert policy.digest == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert ok(text + "# a comment\n").digest != policy.digest
    assert ok(text.replace("true", "false")).digest != policy.digest
    path = tmp_path / "p.yaml"
    path.write_bytes(text.encode("utf-8"))
    loaded = load_policy(path)
    assert loaded.digest == policy.digest and loaded.source == str(path)


def test_source_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "tenant-policy.yaml"
    path.write_text(doc("strict: maybe\n"))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}:3: strict: want true or false")
