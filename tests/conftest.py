"""Shared fixtures. Tests marked `stack` run against the real local Kafka and ClickHouse (see tests/stack)."""

from __future__ import annotations

import pytest

from schemas import SchemaStore


@pytest.fixture(scope="session")
def store() -> SchemaStore:
    return SchemaStore()
