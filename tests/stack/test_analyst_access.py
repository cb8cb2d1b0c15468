"""Analysts on the real stack: added with `auditledger access add-analyst` while the ledger runs, they read
their tenant's rows only, cannot write or change the schema, and nobody gets in without credentials; the
admin the stack created (stack.json) keeps `auditledger verify` working."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlparse

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from auditledger import demo
from auditledger.config import Settings
from producers.emitter import AuditEmitter
from tests.stack.conftest import wait_for

pytestmark = pytest.mark.stack
PASSWORD = "analyst-of-tenant-a-" + uuid.uuid4().hex[:8]


def cli(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), *args],
                          input=stdin, capture_output=True, text=True, timeout=120)  # fmt: skip


def event(tenant: str, i: int) -> dict:
    return {"event_id": str(uuid.uuid4()), "tenant": tenant,
            "actor": {"subject": f"agent-{i}@{tenant}", "kind": "agent"},
            "action": {"type": "tool.call", "name": "crm_lookup"}, "target": {"kind": "tool", "name": "crm_lookup"},
            "payload": {"tool_arguments": {"customer": i}}, "outcome": {"status": "success"},
            "source": {"service": "access-test"}, "correlation": {"session_id": f"sess-{tenant}-{i % 3}"}}  # fmt: skip


@pytest.fixture(scope="module")
def tenants(settings: Settings, ch) -> tuple[str, str]:
    """Two fresh tenants with 20 events each, stored and anchored."""
    mine, theirs = f"t-a-{uuid.uuid4().hex[:6]}", f"t-b-{uuid.uuid4().hex[:6]}"
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for i in range(20):
            emitter.emit(event(mine, i))
            emitter.emit(event(theirs, i))
        assert len(emitter.flush()) == 40
    query = "SELECT count() FROM ledger_records WHERE tenant IN ({a:String}, {b:String})"
    wait_for(lambda: ch.command(query, parameters={"a": mine, "b": theirs}) == 40, 180, "both tenants stored")
    assert demo.wait_anchored(ch, 60)
    return mine, theirs


@pytest.fixture(scope="module")
def analyst(settings: Settings, tenants: tuple[str, str]):
    name = f"ana_{uuid.uuid4().hex[:6]}"
    added = cli(settings, "access", "add-analyst", name, "--tenant", tenants[0], "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    url = urlparse(settings.clickhouse_url)
    client = clickhouse_connect.get_client(host=url.hostname, port=url.port, username=name, password=PASSWORD)
    yield client
    client.close()


def test_the_stack_keeps_its_secrets_owner_only(settings: Settings) -> None:
    for path in (settings.stack_state_path, settings.users_file_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    state = json.loads(settings.stack_state_path.read_text())
    assert state["clickhouse_admin"]["password"] not in settings.users_file_path.read_text()
    status = cli(settings, "stack", "status", "--json")
    assert state["clickhouse_admin"]["password"] not in status.stdout + status.stderr


def test_analyst_reads_only_their_tenant(analyst, ch, tenants: tuple[str, str]) -> None:
    mine, theirs = tenants
    params = {"a": mine, "b": theirs}
    seen = analyst.query("SELECT tenant, count() FROM ledger_records WHERE tenant IN ({a:String}, {b:String}) "
                         "GROUP BY tenant", parameters=params).result_rows  # fmt: skip
    assert seen == [(mine, 20)]
    assert ch.command("SELECT count() FROM ledger_records WHERE tenant = {b:String}", parameters=params) == 20
    sessions = analyst.query("SELECT DISTINCT tenant FROM ledger_sessions WHERE tenant IN ({a:String}, {b:String})",
                             parameters=params).result_rows  # fmt: skip
    assert sessions == [(mine,)]
    assert {t for (t,) in analyst.query("SELECT DISTINCT tenant FROM default.ledger_records").result_rows} == {mine}
    assert analyst.command("SELECT count() FROM ledger_checkpoints") > 0  # no tenant data: readable


def test_analyst_cannot_write_or_change_the_schema(analyst, ch) -> None:
    before = ch.command("SELECT count() FROM ledger_records")
    with pytest.raises(DatabaseError, match="READONLY"):
        analyst.command("INSERT INTO ledger_checkpoints (shard, tree_size) VALUES (99, 1)")
    with pytest.raises(DatabaseError, match="READONLY"):
        analyst.command("ALTER TABLE ledger_records DELETE WHERE 1")
    with pytest.raises(DatabaseError, match="READONLY"):
        analyst.command("CREATE TABLE analyst_table (x UInt8) ENGINE = Memory")
    with pytest.raises(DatabaseError, match="READONLY"):
        analyst.command("DROP TABLE ledger_checkpoints")
    assert ch.command("SELECT count() FROM ledger_records") == before
    assert ch.command("SELECT count() FROM ledger_checkpoints WHERE shard = 99") == 0


def test_no_credentials_no_answer(settings: Settings) -> None:
    request = urllib.request.Request(f"{settings.clickhouse_url}/?query=SELECT+count()+FROM+ledger_records")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401 and b"AUTHENTICATION_FAILED" in refused.value.read()
    assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="auditledger"'


def test_verify_still_runs_as_the_stack_admin(settings: Settings, analyst) -> None:
    proc = cli(settings, "verify", "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    assert json.loads(proc.stdout)["ok"] is True
