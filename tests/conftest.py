"""Shared fixtures. Tests marked `stack` run against the real local Kafka and ClickHouse (see tests/stack)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest

from ledger.http_interface import ClickHouseHTTPInterface
from ledger.signed_note import NoteSigner
from schemas import SchemaStore


@pytest.fixture(scope="session")
def store() -> SchemaStore:
    return SchemaStore()


@pytest.fixture(scope="session")
def signer() -> NoteSigner:
    """A checkpoint-signing key made for the test run."""
    return NoteSigner.generate("test.example/log")


@pytest.fixture
def http_store(tmp_path: Path) -> Iterator[Any]:
    """A fresh store behind ClickHouse's HTTP interface (no credentials), as verify, prove and the sink's
    tests reach it; a plain clickhouse-connect client."""
    server = ClickHouseHTTPInterface(str(tmp_path / "store"), access=None)
    server.start()
    try:
        yield clickhouse_connect.get_client(host="127.0.0.1", port=server.port)
    finally:
        server.stop()
