"""Dead-letter sealing: only the recipient opens, nothing moves or changes unnoticed, keys stay private."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stream.sealed_envelope import RecipientKey, SealError, SealingKey, SealKeyError, seal_context

SECRET = b"card 4111 1111 1111 1111 and password=hunter2hunter2"
CONTEXT = seal_context("audit.events", 2, 17)


def test_the_recipient_opens_what_was_sealed_and_the_envelope_hides_it() -> None:
    recipient = RecipientKey.generate()
    envelope = recipient.sealing_key.seal(SECRET, CONTEXT)
    assert SECRET not in envelope and b"hunter2" not in envelope
    assert recipient.open(envelope, CONTEXT) == SECRET


def test_each_seal_uses_a_fresh_ephemeral_key() -> None:
    key = RecipientKey.generate().sealing_key
    assert key.seal(SECRET, CONTEXT) != key.seal(SECRET, CONTEXT)


def test_another_key_cannot_open_and_says_which_key_it_was_sealed_to() -> None:
    recipient, other = RecipientKey.generate(), RecipientKey.generate()
    envelope = recipient.sealing_key.seal(SECRET, CONTEXT)
    with pytest.raises(SealError, match=recipient.sealing_key.key_id):
        other.open(envelope, CONTEXT)


def test_every_changed_byte_and_a_moved_envelope_fail() -> None:
    recipient = RecipientKey.generate()
    envelope = recipient.sealing_key.seal(SECRET, CONTEXT)
    for i in range(len(envelope)):
        changed = bytearray(envelope)
        changed[i] ^= 0x01
        with pytest.raises(SealError):
            recipient.open(bytes(changed), CONTEXT)
    with pytest.raises(SealError, match="source position"):
        recipient.open(envelope, seal_context("audit.events", 2, 18))
    with pytest.raises(SealError):
        recipient.open(envelope[:20], CONTEXT)


def test_keys_round_trip_through_files_and_a_loose_private_key_is_refused(tmp_path: Path) -> None:
    recipient = RecipientKey.generate()
    private, public = tmp_path / "dl" / "recipient.key", tmp_path / "dl" / "recipient.pub"
    recipient.save(private, public)
    assert private.stat().st_mode & 0o777 == 0o600
    loaded_public = SealingKey.load(public)
    assert loaded_public == recipient.sealing_key
    envelope = loaded_public.seal(SECRET, CONTEXT)
    assert RecipientKey.load(private).open(envelope, CONTEXT) == SECRET
    with pytest.raises(FileExistsError):
        RecipientKey.generate().save(private, public)
    os.chmod(private, 0o644)
    with pytest.raises(SealKeyError, match="chmod 600"):
        RecipientKey.load(private)


def test_malformed_public_keys_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(SealKeyError, match="starts with"):
        SealingKey.from_text("ssh-ed25519 AAAA")
    with pytest.raises(SealKeyError, match="bytes"):
        SealingKey.from_text("auditledger-deadletter-x25519:AAAA")
    with pytest.raises(SealKeyError, match="cannot read"):
        SealingKey.load(tmp_path / "absent.pub")
