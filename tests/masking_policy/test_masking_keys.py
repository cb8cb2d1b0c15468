"""Masking key files: created 0600 in a 0700 directory, refused when unsafe, tenant keys derived and stable."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest

from stream.masking.keys import MaskingKeyError, MaskingKeyExistsError, MaskingKeys


@pytest.fixture
def keys(tmp_path: Path) -> MaskingKeys:
    return MaskingKeys(tmp_path / "masking-keys")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def refusal(keys: MaskingKeys, key_id: str, secret_text: str) -> str:
    """The error a fresh reader gives for key_id; it must not contain the key material."""
    with pytest.raises(MaskingKeyError) as caught:
        MaskingKeys(keys.directory).load(key_id)
    message = str(caught.value)
    assert secret_text not in message and secret_text.lower() not in message
    return message


def test_generate_writes_32_random_bytes_as_hex_0600_in_a_0700_directory(keys: MaskingKeys) -> None:
    old_umask = os.umask(0)  # a permissive umask must not loosen the modes
    try:
        path = keys.generate("mk-default")
    finally:
        os.umask(old_umask)
    assert path == keys.directory / "mk-default.key"
    assert mode(path) == 0o600 and mode(keys.directory) == 0o700
    text = path.read_text()
    assert len(text) == 65 and text.endswith("\n")
    assert keys.load("mk-default") == bytes.fromhex(text.strip())
    assert keys.generate("mk-other").read_text() != text
    assert not [p for p in keys.directory.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_generate_refuses_to_overwrite(keys: MaskingKeys) -> None:
    path = keys.generate("mk-default")
    before = path.read_bytes()
    with pytest.raises(MaskingKeyExistsError, match="already exists: refusing to overwrite it"):
        keys.generate("mk-default")
    assert path.read_bytes() == before


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_load_refuses_group_or_other_access(keys: MaskingKeys, loose: int) -> None:
    path = keys.generate("mk-default")
    secret = path.read_text().strip()
    os.chmod(path, loose)
    message = refusal(keys, "mk-default", secret)
    assert str(path) in message and f"mode {loose:o}" in message and f"chmod 600 {path}" in message


def test_load_refuses_a_file_owned_by_another_user(keys: MaskingKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    path = keys.generate("mk-default")
    secret = path.read_text().strip()
    real_uid = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real_uid + 1)  # we are now someone else than the file's owner
    message = refusal(keys, "mk-default", secret)
    assert str(path) in message and f"owner uid {real_uid}" in message and f"want owner uid {real_uid + 1}" in message


@pytest.mark.parametrize(
    "content",
    [
        "0123456789abcdef" * 3 + "\n",  # 24 bytes
        "0123456789abcdef" * 4 + "ab\n",  # 33 bytes
        "zz23456789abcdef" * 4 + "\n",  # not hex
        "0123456789abcdef" * 2 + "\n" + "0123456789abcdef" * 2 + "\n",  # two lines
        "",
    ],
)
def test_load_refuses_malformed_files_without_printing_them(keys: MaskingKeys, content: str) -> None:
    keys.directory.mkdir(mode=0o700)
    path = keys.directory / "mk-default.key"
    path.write_text(content)
    os.chmod(path, 0o600)
    message = refusal(keys, "mk-default", content.strip() or "\x00")
    assert message == f"masking key file {path} is malformed: want 64 hex digits (32 bytes) on one line"
    assert "0123456789abcdef" not in message


def test_load_refuses_a_symlink_and_a_directory(keys: MaskingKeys, tmp_path: Path) -> None:
    real = keys.generate("mk-real")
    (keys.directory / "mk-link.key").symlink_to(real)
    assert "cannot open masking key file" in refusal(keys, "mk-link", real.read_text().strip())
    (keys.directory / "mk-dir.key").mkdir(mode=0o700)
    assert "is not a regular file" in refusal(keys, "mk-dir", "\x00")


def test_missing_key(keys: MaskingKeys) -> None:
    with pytest.raises(MaskingKeyError) as caught:
        keys.load("mk-none")
    assert str(caught.value) == f"masking key 'mk-none' is missing: no file {keys.directory / 'mk-none.key'}"


@pytest.mark.parametrize("bad_id", ["", "../etc/passwd", ".hidden", "a/b", "a b", "x" * 65, "-lead"])
def test_key_ids_are_checked_before_any_file_access(keys: MaskingKeys, bad_id: str) -> None:
    for call in (keys.generate, keys.load, lambda key_id: keys.tenant_key(key_id, "acme")):
        with pytest.raises(MaskingKeyError, match="bad masking key id"):
            call(bad_id)
    assert not keys.directory.exists()


def test_tenant_keys_are_stable_and_differ_by_tenant_and_key(keys: MaskingKeys) -> None:
    keys.ensure(["mk-a", "mk-b"])
    master = keys.load("mk-a")
    acme = keys.tenant_key("mk-a", "acme")
    assert acme == hmac.new(master, b"auditledger/mask/v1\x00acme", hashlib.sha256).digest()
    assert len(acme) == 32
    assert MaskingKeys(keys.directory).tenant_key("mk-a", "acme") == acme  # another reader, same key
    assert keys.tenant_key("mk-a", "beta") != acme
    assert keys.tenant_key("mk-b", "acme") != acme
    assert (
        keys.tenant_key("mk-a", "Ünïcode")
        == hmac.new(master, b"auditledger/mask/v1\x00" + "Ünïcode".encode(), hashlib.sha256).digest()
    )


def test_ensure_creates_only_missing_keys_and_check_refuses_missing_or_unusable(keys: MaskingKeys) -> None:
    assert keys.ensure(["mk-b", "mk-a", "mk-a"]) == ["mk-a", "mk-b"]
    assert keys.ensure(["mk-a", "mk-b", "mk-c"]) == ["mk-c"]
    keys.check(["mk-a", "mk-b", "mk-c"])
    bad = keys.directory / "mk-b.key"
    secret = bad.read_text().strip()
    os.chmod(bad, 0o644)
    fresh = MaskingKeys(keys.directory)
    with pytest.raises(MaskingKeyError) as caught:
        fresh.check(["mk-a", "mk-b", "mk-missing"])
    message = str(caught.value)
    assert f"masking key file {bad} has mode 644" in message
    assert "masking key 'mk-missing' is missing" in message
    assert "mk-a" not in message.replace(str(keys.directory), "")
    assert secret not in message
    with pytest.raises(MaskingKeyError, match="mode 644"):
        MaskingKeys(keys.directory).ensure(["mk-b"])  # ensure also refuses an unusable existing key
