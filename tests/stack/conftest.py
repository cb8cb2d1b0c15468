"""A real local stack (Apache Kafka, the ledger process with the ClickHouse engine, the stream worker)
for the integration tests: started once per test session in a temporary home, stopped at the end.

The stream runs with a policy written here: the default detectors, one field rule, three approval
rules, and a test OIDC issuer whose JWKS file the identity tests rewrite (key rotation without a restart)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from auditledger import demo
from auditledger.config import Settings
from auditledger.stack.local_stack import LocalStack
from ledger.clickhouse_client import store_client
from producers.emitter import AuditEmitter
from stream.partition_reader import read_to_end, tail_consumer
from tests.identity.token_factory import TokenFactory

POLICY = """\
version: 1
strict: true
hash_key: mk-default
limits: {{max_depth: 32}}
rules:
  - id: response-ssn
    path: payload.response.rows[*].ssn
    action: redact
approvals:
  late_window_s: 600
  rules:
    - name: prod-sql-writes
      action_types: [db.query]
      resources: ["pg://prod/*"]
      sql: [ddl, grant, delete_without_where, update_without_where, write]
      approver_groups: [dba]
    - name: drop-database
      action_types: [tool.call]
      tools: [drop_database]
      approver_groups: [dba]
      approvals: 2
    - name: refunds
      action_types: [tool.call]
      tools: [refund_payment]
      approver_groups: [finance]
identity:
  jwks_refresh_min_interval_s: 0.5
  algorithms: [RS256, ES256]
  issuers:
    - issuer: {issuer}
      audiences: [{audience}]
      jwks_file: {jwks}
"""


@pytest.fixture(scope="session")
def idp() -> TokenFactory:
    """The test's OIDC issuer: its JWKS file is what the stack's policy trusts."""
    return TokenFactory()


def started_stack(home: Path, idp: TokenFactory) -> LocalStack:
    """A stack in `home` with the test policy, up; its `settings` point at its servers. The caller downs it."""
    jwks = idp.write_jwks(home / "idp-jwks.json")
    policy = home / "policy.yaml"
    policy.write_text(POLICY.format(issuer=idp.issuer, audience=idp.audience, jwks=jwks), encoding="utf-8")
    settings = Settings(home=home, partitions=3, checkpoint_every_ms=500, policy_file=str(policy))
    local = LocalStack(settings, log=lambda m: None)
    status = local.up()
    local.settings = replace(settings, kafka_bootstrap=status["kafka_bootstrap"],
                             clickhouse_url=status["clickhouse_url"])  # fmt: skip
    return local


@contextmanager
def stack_of_its_own(tmp_path_factory: pytest.TempPathFactory, idp: TokenFactory, name: str) -> Iterator[LocalStack]:
    """A started stack in a fresh home, downed on exit: for tests that would disturb the session's stack."""
    local = started_stack(tmp_path_factory.mktemp(name), idp)
    try:
        yield local
    finally:
        local.down()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, idp: TokenFactory) -> Iterator[LocalStack]:
    with stack_of_its_own(tmp_path_factory, idp, "stack") as local:
        yield local


@pytest.fixture(scope="session")
def settings(stack: LocalStack) -> Settings:
    return stack.settings


@pytest.fixture(scope="session")
def ch(settings: Settings):
    return store_client(settings)


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def idp_jwks_path(settings: Settings) -> Path:
    return settings.home / "idp-jwks.json"


def topic_bytes(settings: Settings, topic: str) -> list[bytes]:
    """Every message value now in `topic`, aborted transactions' included (a leak there is still a leak)."""
    consumer = tail_consumer(settings.kafka_bootstrap, f"t-{uuid.uuid4()}", {"isolation.level": "read_uncommitted"})
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        return [value or b"" for p in partitions for _, value in read_to_end(consumer, topic, p, 0, timeout_s=60)]
    finally:
        consumer.close()


def emit_stored_anchored(settings: Settings, ch, events: list[dict], timeout_s: float = 120) -> list[str]:
    """Emit `events`, wait until every one is in ClickHouse and under a signed checkpoint; their ids."""
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for e in events:
            emitter.emit(e)
        assert len(emitter.flush()) == len(events)
    ids = [e["event_id"] for e in events]
    wait_for(lambda: demo.count_stored_ids(ch, ids) == len(ids), timeout_s, f"{len(ids)} events stored")
    assert demo.wait_anchored(ch, 60)
    return ids


def paced_emit(settings: Settings, events: list[dict], seconds: float, failures: list, steps: int = 60) -> None:
    """Emit `events` in `steps` flushed slices spread over `seconds`; a failure is appended, never lost."""
    try:
        with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
            step = max(1, len(events) // steps)
            for i in range(0, len(events), step):
                for event in events[i : i + step]:
                    emitter.emit(event)
                emitter.flush()
                time.sleep(seconds / steps)
    except Exception as exc:  # reported by the test
        failures.append(exc)
