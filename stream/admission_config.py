"""From settings to the stream's admission step: policy, masking keys, token verifier, dead-letter key.

Everything here fails loudly at start (a bad policy, a missing key, a loose key file): a stream that
cannot mask or seal must not run, because it would have to choose between losing events and leaking them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from auditledger.config import Settings
from schemas import SchemaStore
from stream.admission import EventAdmission
from stream.dead_letters import DeadLetterBuilder
from stream.identity.verifier import TokenVerifier
from stream.masking.keys import MaskingKeys
from stream.masking.policy import MaskingPolicy, default_policy, load_policy
from stream.sealed_envelope import RecipientKey, SealingKey


def policy_of(settings: Settings) -> MaskingPolicy:
    """The policy file named in settings, else the packaged default; raises PolicyError naming the line."""
    return load_policy(Path(settings.policy_file).expanduser()) if settings.policy_file else default_policy()


def admission_of(settings: Settings) -> EventAdmission:
    policy = policy_of(settings)
    keys = MaskingKeys(settings.masking_keys_path)
    keys.check(policy.hash_key_ids())
    return EventAdmission(policy, keys, TokenVerifier(policy.identity))


def dead_letters_of(settings: Settings, store: SchemaStore, admission: EventAdmission) -> DeadLetterBuilder:
    sealing_key = SealingKey.load(settings.deadletter_public_key_path)
    topics = {"events": settings.topics.events, "approvals": settings.topics.approvals}
    return DeadLetterBuilder(store, sealing_key, topics, admission)


def check_stream_config(settings: Settings) -> None:
    """Everything the stream needs to start, checked without Kafka; raises with a message a person can act on."""
    dead_letters_of(settings, SchemaStore(), admission_of(settings))


def ensure_local_secrets(settings: Settings) -> list[str]:
    """For the local stack: create the masking keys the policy names and a dead-letter key pair, if missing.

    Returns what was created. Production provisions these itself and keeps the dead-letter private key
    away from the stream's host.
    """
    created = []
    policy = policy_of(settings)
    for key_id in MaskingKeys(settings.masking_keys_path).ensure(policy.hash_key_ids()):
        created.append(f"masking key {key_id}")
    public = settings.deadletter_public_key_path
    if not public.exists():
        RecipientKey.generate().save(settings.deadletter_private_key_path, public)
        created.append(f"dead-letter key {SealingKey.load(public).key_id} ({datetime.now(UTC):%Y-%m-%d})")
    return created
