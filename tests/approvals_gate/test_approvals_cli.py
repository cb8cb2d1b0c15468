"""`auditledger approvals` against a fake stream: listing, showing, and whether a decision counted (and why not)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditledger.config import Settings
from producers import ApprovalGate, approvals_cli
from producers.approvals_cli import (
    EXIT_ERROR,
    EXIT_NOT_COUNTED,
    EXIT_NOT_FOLDED,
    EXIT_OK,
    EXIT_UNKNOWN,
    decision_verdict,
    format_age,
    pending_rows,
    pending_table,
    token_actor,
)
from schemas import SchemaStore
from stream.approvals.state import empty_state, placeholder_id
from tests.approvals_gate.fake_stream import FakeStream, unsigned_token

REQUESTER = {"subject": "agent-7", "issuer": "https://idp.test.example", "kind": "agent"}
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def stream(store: SchemaStore) -> FakeStream:
    return FakeStream(store, trusted={"agent-7", "bob", "carol", "dave"})


@pytest.fixture(autouse=True)
def no_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITLEDGER_ID_TOKEN_FILE", raising=False)


def ask(stream: FakeStream, at: datetime, tenant: str = "acme", ttl_s: float = 86400, **request: Any) -> str:
    """A request made at `at` by agent-7 through the real gate."""
    gate = ApprovalGate("unused:9092", tenant, REQUESTER, "support-copilot",
                        id_token=lambda: unsigned_token("agent-7"), publisher=stream, states=stream,
                        now=lambda: at)  # fmt: skip
    request = {"action_type": "tool.call", "action_name": "delete_user", "arguments": {"user_id": "u-1"}} | request
    return gate.request(**request, ttl_s=ttl_s)


def cli(stream: FakeStream, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="auditledger")
    approvals_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["approvals", *argv])
    return args.run(args, Settings(), backend=stream, sleep=lambda _s: None)


def token_file(tmp_path: Path, subject: str, groups: tuple[str, ...] = ("sre",)) -> str:
    path = tmp_path / f"{subject}.jwt"
    path.write_text(unsigned_token(subject, groups) + "\n", encoding="ascii")
    return str(path)


# -- pending


def test_format_age() -> None:
    assert [format_age(s) for s in (-3, 0, 45, 192, 3600, 7500, 86400 + 3 * 3600 + 59)] == [
        "0s", "0s", "45s", "3m12s", "1h00m", "2h05m", "1d03h"]  # fmt: skip


def test_pending_lists_open_requests_oldest_first_and_nothing_else(stream: FakeStream) -> None:
    middle = ask(stream, NOW - timedelta(minutes=3, seconds=12), resource="users/u-1", risk="high")
    oldest = ask(stream, NOW - timedelta(hours=2, minutes=5), action_name="drop_table")
    newest = ask(stream, NOW - timedelta(seconds=45), arguments='{"raw": true}')
    other_tenant = ask(stream, NOW - timedelta(minutes=1), tenant="globex")
    rejected = ask(stream, NOW - timedelta(minutes=10))
    stream.decide(rejected, "rejected", "bob", ["sre"])
    approved = ask(stream, NOW - timedelta(minutes=11))
    stream.decide(approved, "approved", "bob", ["sre"])
    ask(stream, NOW - timedelta(minutes=20), ttl_s=60)  # past its expiry, though nobody decided
    placeholder = {**empty_state(placeholder_id("acme", "ab" * 32), "acme", 0, 0, NOW),
                   "status": "pending", "request": stream.states[middle]["request"],
                   "requested_at": NOW - timedelta(days=1)}  # fmt: skip
    states = {**stream.read_states(), placeholder["request_id"]: placeholder}

    rows = pending_rows(states, NOW)
    assert [r["request_id"] for r in rows] == [oldest, middle, other_tenant, newest]
    assert [r["request_id"] for r in pending_rows(states, NOW, tenant="acme")] == [oldest, middle, newest]
    row = rows[1]
    assert row["age"] == "3m12s" and row["age_s"] == 192
    assert row["requester"] == "agent-7" and row["requester_verified"] is True
    assert (row["action_type"], row["action_name"], row["resource"], row["risk"]) == (
        "tool.call", "delete_user", "users/u-1", "high")  # fmt: skip
    assert row["arguments_digest"] == stream.states[middle]["request"]["fingerprint"][:16]
    assert (row["approvals"], row["required"]) == (0, 1)
    assert rows[0]["age"] == "2h05m"

    table = pending_table(rows).splitlines()
    assert table[0].split() == ["REQUEST", "AGE", "REQUESTER", "ACTION", "RESOURCE", "RISK", "ARGS", "DIGEST",
                                "APPROVALS"]  # fmt: skip
    assert table[2].split() == [middle, "3m12s", "agent-7", "tool.call", "delete_user", "users/u-1", "high",
                                row["arguments_digest"], "0/1"]  # fmt: skip


def test_pending_counts_approvals_and_marks_unverified_requesters(store: SchemaStore) -> None:
    stream = FakeStream(store, trusted={"bob"}, required=2)  # agent-7's token does not verify
    request_id = ask(stream, NOW - timedelta(minutes=1))
    stream.decide(request_id, "approved", "bob", ["sre"])
    [row] = pending_rows(stream.read_states(), NOW)
    assert (row["approvals"], row["required"], row["requester_verified"]) == (1, 2, False)
    assert "agent-7 (unverified)" in pending_table([row])


def test_pending_command_text_and_json(stream: FakeStream, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(stream, "pending") == EXIT_OK
    assert capsys.readouterr().out.strip() == "no pending requests"
    first = ask(stream, NOW - timedelta(minutes=5))
    second = ask(stream, NOW - timedelta(minutes=1), tenant="globex")
    assert cli(stream, "pending") == EXIT_OK
    out = capsys.readouterr().out
    assert first in out and second in out and "2 pending request(s)" in out
    assert cli(stream, "pending", "--tenant", "globex", "--json") == EXIT_OK
    [row] = json.loads(capsys.readouterr().out)
    assert row["request_id"] == second and row["tenant"] == "globex"


# -- show


def test_show_unknown_request_exits_3(stream: FakeStream, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(stream, "show", "6f1c2b0e-8a55-4e8e-9a53-0d3c1f0b7a11") == EXIT_UNKNOWN
    assert "no request" in capsys.readouterr().err


def test_show_gives_every_decision_and_whether_it_counted(
    stream: FakeStream, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = ask(stream, NOW - timedelta(minutes=2), resource="users/u-1", reason="erasure request")
    stream.decide(request_id, "approved", "agent-7", ["sre"])
    stream.decide(request_id, "approved", "bob", ["sre"])
    assert cli(stream, "show", request_id) == EXIT_OK
    text = capsys.readouterr().out
    assert f"request      {request_id}  (tenant acme)" in text
    assert "status       approved  (1 of 1 approvals counted)" in text
    assert "by agent-7 (verified)" in text and "erasure request" in text and '{"user_id": "u-1"}' in text
    assert "rule         high-risk-tools  requires 1  approver groups: sre" in text
    assert "not counted: self-approval" in text and "shard 0 seq" in text

    assert cli(stream, "show", request_id, "--json") == EXIT_OK
    view = json.loads(capsys.readouterr().out)
    assert view["request_id"] == request_id and view["status"] == "approved"
    assert view["request"]["arguments"] == '{"user_id": "u-1"}'
    assert view["derived"]["approvers_counted"] == ["bob"]
    assert [d["counted"] for d in view["derived"]["decisions"]] == [False, True]
    assert view["decisions"][0]["decided_at"].endswith("Z")


# -- deciding


def test_a_decision_without_a_token_is_refused(stream: FakeStream, capsys: pytest.CaptureFixture[str]) -> None:
    request_id = ask(stream, NOW)
    assert cli(stream, "approve", request_id) == EXIT_ERROR
    assert "--token-file" in capsys.readouterr().err
    assert stream.kinds() == ["requested"]


def test_an_unreadable_or_malformed_token_is_refused_without_echoing_it(
    stream: FakeStream, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = ask(stream, NOW)
    assert cli(stream, "approve", request_id, "--token-file", str(tmp_path / "missing")) == EXIT_ERROR
    bad = tmp_path / "bad.jwt"
    bad.write_text("not.a-token-secret-part", encoding="ascii")
    assert cli(stream, "approve", request_id, "--token-file", str(bad)) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "cannot read the token file" in err and "not a signed ID token" in err
    assert "secret" not in err
    assert stream.kinds() == ["requested"]


def test_token_actor_takes_the_claims_as_claimed() -> None:
    assert token_actor(unsigned_token("bob", ["sre", "ops"])) == {
        "subject": "bob", "issuer": "https://idp.test.example", "groups": ["sre", "ops"], "kind": "user"}  # fmt: skip


def test_an_approval_that_counts_exits_0(
    stream: FakeStream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = ask(stream, NOW)
    monkeypatch.setenv("AUDITLEDGER_ID_TOKEN_FILE", token_file(tmp_path, "bob"))
    assert cli(stream, "approve", request_id, "--comment", "ok for u-1", "--json") == EXIT_OK
    result = json.loads(capsys.readouterr().out)
    assert result["counted"] is True and result["status"] == "approved" and result["reason"] is None
    key, step = stream.published[-1]
    assert key == request_id and step["kind"] == "approved" and step["tenant"] == "acme"
    assert step["actor"] == {"subject": "bob", "issuer": "https://idp.test.example", "groups": ["sre"],
                             "kind": "user"}  # fmt: skip
    assert step["comment"] == "ok for u-1" and step["credential"]["kind"] == "oidc_id_token"
    assert result["event_id"] == str(step["event_id"])


@pytest.mark.parametrize(
    ("subject", "groups", "reason"),
    [
        ("agent-7", ("sre",), "self-approval"),
        ("mallory", ("sre",), "could not verify the token"),
        ("carol", ("marketing",), "carol is not in the approver groups (sre); the token's groups: marketing"),
    ],
)
def test_an_approval_that_does_not_count_exits_4_and_says_why(
    stream: FakeStream, tmp_path: Path, capsys: pytest.CaptureFixture[str], subject: str,
    groups: tuple[str, ...], reason: str,
) -> None:  # fmt: skip
    request_id = ask(stream, NOW)
    assert cli(stream, "approve", request_id, "--token-file", token_file(tmp_path, subject, groups)) == EXIT_NOT_COUNTED
    out = capsys.readouterr().out
    assert "did not count" in out and reason in out and "request status: pending" in out


def test_an_approval_of_a_closed_request_does_not_count(
    stream: FakeStream, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = ask(stream, NOW)
    stream.decide(request_id, "rejected", "dave", ["sre"])
    assert cli(stream, "approve", request_id, "--token-file", token_file(tmp_path, "bob")) == EXIT_NOT_COUNTED
    assert "the request was already rejected" in capsys.readouterr().out


def test_an_approval_after_the_expiry_does_not_count(store: SchemaStore) -> None:
    stream = FakeStream(store, trusted={"agent-7", "bob"})
    request_id = ask(stream, NOW - timedelta(hours=2), ttl_s=60)
    state = stream.decide(request_id, "approved", "bob", ["sre"])
    verdict = decision_verdict(state, state["decisions"][-1]["event_id"])
    assert verdict is not None and not verdict.counted and verdict.reason.startswith("the request had expired at")


def test_reject_and_revoke(stream: FakeStream, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rejected = ask(stream, NOW)
    assert cli(stream, "reject", rejected, "--token-file", token_file(tmp_path, "bob")) == EXIT_OK
    assert "request status: rejected" in capsys.readouterr().out
    # a second rejection did not count (already rejected) but the request is rejected as asked
    assert cli(stream, "reject", rejected, "--token-file", token_file(tmp_path, "carol")) == EXIT_OK
    assert "already rejected" in capsys.readouterr().out
    # the requester cannot reject their own request, but may revoke it
    own = ask(stream, NOW)
    requester_token = token_file(tmp_path, "agent-7", ())
    assert cli(stream, "reject", own, "--token-file", requester_token) == EXIT_NOT_COUNTED
    assert "revoke it instead" in capsys.readouterr().out
    assert cli(stream, "revoke", own, "--token-file", requester_token) == EXIT_OK
    assert stream.states[own]["status"] == "revoked"
    # an outsider can do neither
    other = ask(stream, NOW)
    outsider = token_file(tmp_path, "carol", ("marketing",))
    assert cli(stream, "revoke", other, "--token-file", outsider) == EXIT_NOT_COUNTED
    assert "only the requester or carol is not in the approver groups" in capsys.readouterr().out


def test_a_decision_the_stream_does_not_fold_in_time_exits_5(
    store: SchemaStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = FakeStream(store, trusted={"agent-7", "bob"})
    request_id = ask(stream, NOW)
    stream.fold = False
    bob = token_file(tmp_path, "bob")
    assert cli(stream, "approve", request_id, "--token-file", bob, "--wait", "0") == EXIT_NOT_FOLDED
    assert "has not recorded it within 0s" in capsys.readouterr().out
    assert stream.kinds() == ["requested", "approved"]  # published all the same


def test_tenant_comes_from_the_state_and_must_match(
    stream: FakeStream, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "6f1c2b0e-8a55-4e8e-9a53-0d3c1f0b7a11"
    bob = token_file(tmp_path, "bob")
    assert cli(stream, "approve", unknown, "--token-file", bob) == EXIT_UNKNOWN
    assert "pass --tenant" in capsys.readouterr().err
    assert stream.published == []
    # with --tenant it is published; the stream records it but there is no request to approve
    assert cli(stream, "approve", unknown, "--token-file", bob, "--tenant", "acme") == EXIT_NOT_COUNTED
    assert "no `requested` step" in capsys.readouterr().out
    known = ask(stream, NOW, tenant="globex")
    assert cli(stream, "approve", known, "--token-file", bob, "--tenant", "acme") == EXIT_ERROR
    assert "belongs to tenant globex" in capsys.readouterr().err
    assert cli(stream, "approve", known, "--token-file", bob) == EXIT_OK
    assert stream.published[-1][1]["tenant"] == "globex"


def test_request_ids_must_be_uuids(stream: FakeStream) -> None:
    with pytest.raises(SystemExit) as usage:
        cli(stream, "show", "unrequested:acme:abc")
    assert usage.value.code == 2

