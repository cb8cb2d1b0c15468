"""The stream's decode -> validate -> admit (mask) -> append path exactly as the sequencer runs it, without Kafka.

`run_one(raw)` feeds one raw message through `LedgerSequencer.process` on a fresh in-memory shard and
says what became of it: a ledger entry (decoded, with the exact entry bytes) or a dead letter (decoded).
Any other exception escapes: that is what the fuzz tests look for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.signed_note import NoteSigner
from schemas import SchemaStore
from stream.sequencer import LedgerSequencer, RawEvent
from stream.shard_chain import ShardChain
from tests.ledger_path import sequencer_parts

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Outcome:
    """Exactly one of `entry_bytes` (admitted) or `dead_letter` (refused) is set."""

    entry_bytes: bytes | None
    entry: dict[str, Any] | None
    dead_letter: dict[str, Any] | None


@functools.cache
def store() -> SchemaStore:
    return SchemaStore()


@functools.cache
def _parts() -> dict:
    return sequencer_parts(store())


@functools.cache
def _signer() -> NoteSigner:
    return NoteSigner.generate("fuzz.example/log")


def sequencer() -> LedgerSequencer:
    """A sequencer with the packaged default policy (strict) that never checkpoints on its own."""
    return LedgerSequencer(store(), lambda s: ShardChain(shard=s), "fuzz.example/log", "audit.events",
                           signers=lambda now: [_signer()], clock=lambda: NOW, checkpoint_every_records=10**9,
                           checkpoint_every_ms=10**9, **_parts())  # fmt: skip


def run_one(raw: bytes | None, received_at: datetime | None = None) -> Outcome:
    result = sequencer().process([RawEvent(0, 0, raw, received_at)], idle=False)
    ledger = [o for o in result.outputs if o.role == "ledger"]
    dead = [o for o in result.outputs if o.role == "deadletter"]
    assert len(ledger) + len(dead) == 1, f"one input gave {len(ledger)} records and {len(dead)} dead letters"
    if dead:
        assert dead[0].value is not None
        return Outcome(None, None, store().decode(dead[0].value, reader="DeadLetter"))
    assert ledger[0].value is not None
    record = store().decode(ledger[0].value, reader="LedgerRecord")
    entry = store().decode(record["entry"], reader="LedgerEntry")
    return Outcome(bytes(record["entry"]), entry, None)
