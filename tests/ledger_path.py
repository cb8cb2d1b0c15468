"""The stream's admission step as tests build it: the packaged default policy, masking keys made for the
test run, no trusted issuers (so tokens are `absent` or `unverified`), and a dead-letter recipient key."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from schemas import SchemaStore
from stream.admission import EventAdmission
from stream.dead_letters import DeadLetterBuilder
from stream.identity.verifier import TokenVerifier
from stream.masking.keys import MaskingKeys
from stream.masking.policy import MaskingPolicy, default_policy
from stream.sealed_envelope import RecipientKey


@functools.cache
def _keys_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="auditledger-test-keys-"))


def admission(policy: MaskingPolicy | None = None, kind: type[EventAdmission] = EventAdmission) -> EventAdmission:
    policy = policy or default_policy()
    keys = MaskingKeys(_keys_dir() / "masking")
    keys.ensure(policy.hash_key_ids())
    return kind(policy, keys, TokenVerifier(policy.identity))


@functools.cache
def recipient() -> RecipientKey:
    return RecipientKey.generate()


def dead_letters(store: SchemaStore, gate: EventAdmission, source_topic: str = "audit.events") -> DeadLetterBuilder:
    topics = {"events": source_topic, "approvals": "audit.approvals"}
    return DeadLetterBuilder(store, recipient().sealing_key, topics, gate)


def sequencer_parts(store: SchemaStore) -> dict:
    """The `admission` and `dead_letters` keyword arguments of LedgerSequencer."""
    gate = admission()
    return {"admission": gate, "dead_letters": dead_letters(store, gate)}
