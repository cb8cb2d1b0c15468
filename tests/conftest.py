"""Shared fixtures. Tests marked `stack` run against the real local Kafka and ClickHouse (see tests/stack)."""

from __future__ import annotations

import pytest

from ledger.signed_note import NoteSigner
from schemas import SchemaStore


@pytest.fixture(scope="session")
def store() -> SchemaStore:
    return SchemaStore()


@pytest.fixture(scope="session")
def signer() -> NoteSigner:
    """A checkpoint-signing key made for the test run."""
    return NoteSigner.generate("test.example/log")
