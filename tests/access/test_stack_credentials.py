"""Local tools find the stack's admin in stack.json; explicit settings win; the password never leaks into
a repr or a child process's environment; worker processes reconnect as their caller did."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from auditledger.config import load_settings, settings_environment, with_stack_credentials
from ledger.store_verification import client_credentials

ADMIN = {"user": "admin", "password": "s3cret-admin-password"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    state = {"kafka_bootstrap": "127.0.0.1:1", "clickhouse_url": "http://127.0.0.1:2", "clickhouse_admin": ADMIN}
    (tmp_path / "stack.json").write_text(json.dumps(state))
    return tmp_path


def test_the_stacks_store_gets_the_stacks_admin(home: Path) -> None:
    settings = load_settings(environ={}, home=home)
    assert (settings.clickhouse_user, settings.clickhouse_password) == ("admin", ADMIN["password"])


def test_environment_wins_and_another_server_gets_no_stack_password(home: Path) -> None:
    mine = load_settings(environ={"AUDITLEDGER_CLICKHOUSE_USER": "ana", "AUDITLEDGER_CLICKHOUSE_PASSWORD": "p"},
                         home=home)  # fmt: skip
    assert (mine.clickhouse_user, mine.clickhouse_password) == ("ana", "p")
    elsewhere = load_settings(environ={"AUDITLEDGER_CLICKHOUSE_URL": "http://prod:8123"}, home=home)
    assert (elsewhere.clickhouse_user, elsewhere.clickhouse_password) == ("", "")
    assert with_stack_credentials(elsewhere).clickhouse_password == ""


def test_the_password_stays_out_of_reprs_and_child_environments(home: Path) -> None:
    settings = load_settings(environ={}, home=home)
    assert ADMIN["password"] not in repr(settings)
    env = settings_environment(settings)
    assert env["AUDITLEDGER_CLICKHOUSE_USER"] == "admin"
    assert ADMIN["password"] not in json.dumps(env) and "AUDITLEDGER_CLICKHOUSE_PASSWORD" not in env


def test_worker_processes_get_the_callers_credentials() -> None:
    # clickhouse-connect's HttpClient sends Basic credentials and exposes its request headers as .headers
    client = SimpleNamespace(headers={"Authorization": "Basic " + base64.b64encode(b"ana:p:w").decode()})
    assert client_credentials(client) == ("ana", "p:w")
    assert client_credentials(object()) == ("", "")
