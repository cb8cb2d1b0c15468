"""`auditledger policy check` and `policy show`: exit codes, the ok line, the error line, the effective plan."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from auditledger.config import Settings
from stream import policy_cli
from stream.masking.plan import DETECTOR_NAMES

GOOD = """\
version: 1
hash_key: mk-default
detectors:
  ipv4: off
  payment_card: {action: partial, keep: 2}
rules:
  - id: response-ssn
    path: payload.response.rows[*].ssn
    action: redact
    tenants: [acme]
    action_types: [db.query]
  - id: prompt-everywhere
    path: payload.attributes.secret
    action: drop
tenants:
  acme:
    hash_key: mk-acme
    detectors: {phone: off}
identity:
  issuers:
    - issuer: https://idp.example.com
      audiences: [auditledger]
      jwks_url: https://idp.example.com/jwks.json
"""

BAD = GOOD.replace("    action: drop\n", "    action: scramble\n")


def parser() -> argparse.ArgumentParser:
    """The way auditledger/cli.py builds its parser: one subparsers object every command adds itself to."""
    top = argparse.ArgumentParser(prog="auditledger")
    policy_cli.add_parser(top.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return top


def run(*argv: str) -> int:
    args = parser().parse_args(list(argv))
    return int(args.run(args, Settings()))


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    return path


def test_check_ok_prints_the_digest_and_a_summary(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "check", str(good)) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"ok: {hashlib.sha256(good.read_bytes()).hexdigest()}"
    assert len(lines) == 2 and err == ""
    assert lines[1] == (
        f"{good}: strict, 14 of 15 detectors on by default, 2 field rules, 0 action type overrides, "
        "1 tenant override, hash keys: mk-acme, mk-default, 1 token issuer (RS256, ES256)"
    )


def test_check_bad_exits_2_with_the_error_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    assert run("policy", "check", str(path)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{path}:14: rules[1].action: 'scramble' is not one of redact, partial, hash, drop\n"


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "check", str(tmp_path / "nope.yaml")) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nope.yaml'}: cannot read policy file: No such file or directory\n"


def test_check_needs_a_file() -> None:
    with pytest.raises(SystemExit) as caught:
        parser().parse_args(["policy", "check"])
    assert caught.value.code == 2


def test_show_json_for_a_tenant_and_action_type(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "show", str(good), "--tenant", "acme", "--action-type", "db.query", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["tenant"] == "acme" and shown["action_type"] == "db.query"
    assert shown["digest"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert shown["hash_key_id"] == "mk-acme"
    assert list(shown["detectors"]) == list(DETECTOR_NAMES)
    assert shown["detectors"]["ipv4"] is None and shown["detectors"]["phone"] is None
    assert shown["detectors"]["payment_card"] == {"action": "partial", "keep": 2}
    assert shown["detectors"]["email"] == {"action": "hash"}
    assert [rule["id"] for rule in shown["field_rules"]] == ["response-ssn", "prompt-everywhere"]
    assert shown["field_rules"][0] == {"id": "response-ssn", "path": "payload.response.rows[*].ssn", "action": "redact"}
    assert shown["strict"] is True and shown["limits"]["max_depth"] == 64


def test_show_text_for_another_tenant(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "show", str(good), "--tenant", "beta") == 0
    out = capsys.readouterr().out
    assert "tenant:      beta" in out
    assert "hash key:    mk-default" in out
    assert "detectors (14 on, 1 off):" in out
    assert "  ipv4             off" in out and "  phone            hash" in out
    assert "  payment_card     partial (keep 2)" in out
    assert "prompt-everywhere" in out and "response-ssn" not in out


def test_show_defaults_to_the_packaged_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "show", "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["source"].endswith("default_policy.yaml")
    assert all(shown["detectors"][name] is not None for name in DETECTOR_NAMES)
    assert shown["hash_key_id"] == "mk-default" and shown["field_rules"] == []


def test_show_bad_policy_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    assert run("policy", "show", str(path)) == 2
    assert capsys.readouterr().err.startswith(f"{path}:14: rules[1].action: ")


def test_help_describes_the_file_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["policy", "--help"])
    out = capsys.readouterr().out
    for text in ("policy check FILE", "version: 1", "hash_key:", "detectors:", "rules:", "tenants:", "identity:",
                 "jwks_url", "later wins"):  # fmt: skip
        assert text in out
