"""A real local stack (Apache Kafka, the ledger process with the ClickHouse engine, the stream worker)
for the integration tests: started once per test session in a temporary home, stopped at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from auditledger.config import Settings
from auditledger.stack.local_stack import LocalStack
from ledger.clickhouse_client import connect


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    home = tmp_path_factory.mktemp("stack")
    settings = Settings(home=home, partitions=3, checkpoint_every_ms=500)
    local = LocalStack(settings, log=lambda m: None)
    status = local.up()
    local.settings = replace(settings, kafka_bootstrap=status["kafka_bootstrap"],
                             clickhouse_url=status["clickhouse_url"])  # fmt: skip
    try:
        yield local
    finally:
        local.down()


@pytest.fixture(scope="session")
def settings(stack: LocalStack) -> Settings:
    return stack.settings


@pytest.fixture(scope="session")
def ch(settings: Settings):
    return connect(settings.clickhouse_url)


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
