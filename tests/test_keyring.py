"""The checkpoint-signing keyring: states over time, who signs when, file safety, and `auditledger keys`."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditledger.cli import main
from ledger.keyring import (
    ActiveKeyExistsError,
    KeyFileMismatchError,
    KeyFilePermissionError,
    Keyring,
    NoSigningKeyError,
    RevokeRefusedError,
    SigningKeys,
    ensure_signing_key,
)
from ledger.signed_note import NoteSigner, SignedNote, VerifierKey
from ledger.trusted_keys import parse_trusted_keys

NAME = "example.com/log"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def ids(signers: list[NoteSigner]) -> list[str]:
    return [s.key_id.hex() for s in signers]


@pytest.fixture
def rotated(tmp_path: Path) -> tuple[Path, str, str]:
    """Key A generated at T0, rotated to key B at T1 with a one-hour grace window."""
    a = Keyring.load(tmp_path).generate(NAME, T0)
    b = Keyring.load(tmp_path).rotate(T1, HOUR)
    return tmp_path, a.key_id, b.key_id


def test_states_over_time_through_generate_rotate_revoke(rotated: tuple[Path, str, str]) -> None:
    directory, a, b = rotated
    ring = Keyring.load(directory)

    def state(key: str, t: datetime) -> str:
        return ring.state_at(ring.record(key), t)

    times = (T0 - HOUR, T0, T1 - HOUR, T1, T1 + HOUR - timedelta(microseconds=1), T1 + HOUR)
    assert [state(a, t) for t in times] == ["pending", "active", "active", "grace", "grace", "retired"]
    assert [state(b, t) for t in (T1 - HOUR, T1, T1 + 100 * HOUR)] == ["pending", "active", "active"]
    ring.revoke(a, T1 + HOUR / 2, now=T1 + HOUR / 2)
    ring = Keyring.load(directory)  # the revocation is on disk, not only in the instance
    assert state(a, T1 + HOUR / 4) == "grace"
    assert state(a, T1 + HOUR / 2) == "revoked"
    assert ring.record(a).signs_until == T1 + HOUR


def test_grace_window_signs_with_both_keys_then_only_the_new(rotated: tuple[Path, str, str]) -> None:
    directory, a, b = rotated
    ring = Keyring.load(directory)
    assert ids(ring.signers_at(T1 - HOUR)) == [a]
    both = ring.signers_at(T1 + HOUR / 2)
    assert ids(both) == [b, a]  # active first
    note = SignedNote.sign("example.com/log\n7\nroot\n", both)
    assert {k.key_id.hex() for k in note.verified_by(r.key for r in ring.trusted_keys())} == {a, b}
    assert ids(ring.signers_at(T1 + HOUR)) == [b]


def test_revoked_key_never_signs_after_revocation(tmp_path: Path) -> None:
    a = Keyring.load(tmp_path).generate(NAME, T0).key_id
    b = Keyring.load(tmp_path).rotate(T1, 24 * HOUR).key_id
    Keyring.load(tmp_path).revoke(a, at=T1 + HOUR, now=T1 + 2 * HOUR)
    ring = Keyring.load(tmp_path)
    assert ids(ring.signers_at(T1 + HOUR / 2)) == [b, a]
    for t in (T1 + HOUR, T1 + 2 * HOUR, T1 + 12 * HOUR, T1 + 48 * HOUR):
        assert ids(ring.signers_at(t)) == [b]
        assert ids(SigningKeys(tmp_path).signers(t)) == [b]


def test_generate_refuses_when_a_key_is_active(tmp_path: Path) -> None:
    Keyring.load(tmp_path).generate(NAME, T0)
    with pytest.raises(ActiveKeyExistsError, match="use rotate"):
        Keyring.load(tmp_path).generate(NAME, T1)
    assert len(Keyring.load(tmp_path).records) == 1


def test_revoke_refuses_the_only_signing_key(tmp_path: Path) -> None:
    a = Keyring.load(tmp_path).generate(NAME, T0).key_id
    with pytest.raises(RevokeRefusedError, match="rotate first"):
        Keyring.load(tmp_path).revoke(a, at=T1, now=T1)
    with pytest.raises(RevokeRefusedError, match="in the future"):
        Keyring.load(tmp_path).revoke(a, at=T1 + HOUR, now=T1)
    assert Keyring.load(tmp_path).record(a).revoked_at is None
    assert ids(Keyring.load(tmp_path).signers_at(T1)) == [a]


def test_trusted_keys_round_trip_through_public_text(rotated: tuple[Path, str, str]) -> None:
    directory, a, _ = rotated
    Keyring.load(directory).revoke(a, at=T1 + HOUR / 2, now=T1 + HOUR / 2)
    ring = Keyring.load(directory)
    text = "".join(key.line() + "\n" for key in ring.trusted_keys())
    assert "revoked-at=2026-11-02T09:30:00" in text
    assert parse_trusted_keys(text) == ring.trusted_keys()
    assert [t.revoked_at for t in parse_trusted_keys(text)] == [T1 + HOUR / 2, None]


def test_verifier_and_private_key_text_with_plus_in_base64_parse() -> None:
    # seed 0x3e * 32: both base64 fields contain "+", which C2SP allows after the second "+"
    signer = NoteSigner(NAME, Ed25519PrivateKey.from_private_bytes(bytes([0x3E]) * 32))
    assert signer.verifier_key.text() == "example.com/log+bf122f5c+Aflcal3/Ax+sexpqVLZhDK64Ozn36KZr4W/1+qSlEe0t"
    assert VerifierKey.parse(signer.verifier_key.text()) == signer.verifier_key
    assert NoteSigner.from_private_text(signer.private_text()).verifier_key == signer.verifier_key


def test_file_modes_and_no_private_material_in_keyring_json(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    a = Keyring.load(directory).generate(NAME, T0).key_id
    key_file = directory / f"{a}.key"
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory / "keyring.json").st_mode) == 0o644
    private_b64 = key_file.read_text().strip().split("+", 4)[4]  # base64(0x01 || seed), may contain "+"
    seed = base64.b64decode(private_b64)[1:]
    public = (directory / "keyring.json").read_text()
    for secret in (private_b64, base64.b64encode(seed).decode(), seed.hex(), "PRIVATE"):
        assert secret not in public
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    a = Keyring.load(tmp_path).generate(NAME, T0).key_id
    key_file = tmp_path / f"{a}.key"
    key_file.chmod(0o644)
    with pytest.raises(KeyFilePermissionError, match=f"chmod 600 {key_file}") as caught:
        Keyring.load(tmp_path).signers_at(T0)
    assert key_file.read_text().strip() not in str(caught.value)
    with pytest.raises(KeyFilePermissionError):
        SigningKeys(tmp_path).signers(T0)
    key_file.chmod(0o600)
    assert ids(Keyring.load(tmp_path).signers_at(T0)) == [a]


def test_key_file_holding_another_key_is_refused(rotated: tuple[Path, str, str]) -> None:
    directory, a, b = rotated
    (directory / f"{a}.key").write_text((directory / f"{b}.key").read_text())
    with pytest.raises(KeyFileMismatchError, match=f"want {NAME}\\+{a}") as caught:
        Keyring.load(directory).signers_at(T1)
    assert "PRIVATE" not in str(caught.value)


def test_signing_keys_pick_up_a_rotation_made_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = Keyring.load(tmp_path).generate(NAME, T0).key_id
    keys = SigningKeys(tmp_path)
    loads = []
    real_load = Keyring.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(Keyring, "load", classmethod(lambda cls, d: loads.append(d) or real_load(cls, d)))
    assert ids(keys.signers(T1)) == [a]
    assert ids(keys.signers(T1)) == [a]
    assert len(loads) == 1  # unchanged keyring.json: served from the cache
    b = Keyring.load(tmp_path).rotate(T1, HOUR).key_id  # another process, as `auditledger keys rotate` would be
    assert ids(keys.signers(T1 + HOUR / 2)) == [b, a]
    assert ids(keys.signers(T1 + HOUR)) == [b]


def test_signing_keys_without_a_keyring_say_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(NoSigningKeyError, match="auditledger keys generate"):
        SigningKeys(tmp_path / "keys").signers(T0)


def test_ensure_signing_key_generates_only_the_first(tmp_path: Path) -> None:
    assert ensure_signing_key(tmp_path, NAME, T0) is True
    assert ensure_signing_key(tmp_path, NAME, T1) is False
    assert [r.name for r in Keyring.load(tmp_path).records] == [NAME]


def keys_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(tmp_path), "keys", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_cli_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AUDITLEDGER_KEYS_DIR", "AUDITLEDGER_CONFIG", "AUDITLEDGER_LOG_ORIGIN"):
        monkeypatch.delenv(variable, raising=False)
    code, out, _ = keys_cli(tmp_path, capsys, "generate")
    assert code == 0 and "auditledger.local/ledger+" in out
    a = Keyring.load(tmp_path / "keys").records[0].key_id
    code, _, err = keys_cli(tmp_path, capsys, "generate")
    assert code == 2 and f"already has active key {a}: use rotate" in err
    code, _, err = keys_cli(tmp_path, capsys, "revoke", a)
    assert code == 2 and "rotate first" in err
    code, out, _ = keys_cli(tmp_path, capsys, "rotate", "--grace", "15m")
    assert code == 0 and f"previous key {a} signs until" in out
    code, out, _ = keys_cli(tmp_path, capsys, "list", "--json")
    listed = json.loads(out)
    b = listed[1]["key_id"]
    assert code == 0 and [(k["key_id"], k["state"]) for k in listed] == [(a, "grace"), (b, "active")]
    assert "PRIVATE" not in out
    code, out, _ = keys_cli(tmp_path, capsys, "revoke", a, "--at", "2026-01-01T00:00:00Z")
    assert code == 0 and a in out
    code, out, _ = keys_cli(tmp_path, capsys, "public")
    trusted = parse_trusted_keys(out)
    assert code == 0 and [t.key.key_id.hex() for t in trusted] == [a, b]
    assert trusted[0].revoked_at == datetime(2026, 1, 1, tzinfo=UTC) and trusted[1].revoked_at is None
    assert trusted == Keyring.load(tmp_path / "keys").trusted_keys()
    code, out, _ = keys_cli(tmp_path, capsys, "list")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["key_id", "name", "state"]
    assert [line.split()[2] for line in out.splitlines()[1:]] == ["revoked", "active"]


def test_keys_cli_rejects_a_bad_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--home", str(tmp_path), "keys", "rotate", "--grace", "5x"])
    assert caught.value.code == 2 and "not a duration" in capsys.readouterr().err
