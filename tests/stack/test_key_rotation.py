"""Key rotation on a running stack: the worker picks up the new key without a restart, co-signs during the
grace window, and the ledger verifies with the published keys before and after the old key is revoked."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from auditledger.config import Settings
from ledger.signed_note import SignedNote
from producers.demo_session import demo_events
from tests.stack.conftest import emit_stored_anchored

pytestmark = pytest.mark.stack


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), *args],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def emit_and_anchor(settings: Settings, ch, n: int, seed: int) -> None:
    emit_stored_anchored(settings, ch, list(demo_events(n, sessions=12, seed=seed)))


def newest_signers(ch) -> set[str]:
    note = ch.query("SELECT note FROM ledger_checkpoints ORDER BY created_at DESC LIMIT 1").result_rows[0][0]
    return {s.key_id.hex() for s in SignedNote.parse(note).signatures}


def test_rotation_co_signs_in_grace_then_hands_over_and_revocation_keeps_the_past_valid(settings, ch, tmp_path):
    emit_and_anchor(settings, ch, 60, seed=31)
    listed = json.loads(cli(settings, "keys", "list", "--json").stdout)
    old = next(k["key_id"] for k in listed if k["state"] == "active")

    rotated = cli(settings, "keys", "rotate", "--grace", "4s")
    assert rotated.returncode == 0, rotated.stderr
    new = next(k["key_id"] for k in json.loads(cli(settings, "keys", "list", "--json").stdout)
               if k["state"] == "active")  # fmt: skip
    assert new != old
    emit_and_anchor(settings, ch, 60, seed=32)
    assert newest_signers(ch) == {old, new}  # the running worker co-signs during the grace window

    time.sleep(4.5)
    emit_and_anchor(settings, ch, 60, seed=33)
    assert newest_signers(ch) == {new}

    assert cli(settings, "keys", "revoke", old).returncode == 0
    keys = tmp_path / "keys.txt"
    keys.write_text(cli(settings, "keys", "public").stdout)
    assert "revoked-at=" in keys.read_text()
    proc = cli(settings, "verify", "--json", "--keys", str(keys))
    assert proc.returncode == 0, proc.stdout[-2000:]

    only_new = tmp_path / "new-only.txt"
    only_new.write_text("".join(line + "\n" for line in keys.read_text().splitlines() if new in line))
    proc = cli(settings, "verify", "--json", "--keys", str(only_new))
    assert proc.returncode == 1  # heads signed only by the old key need the old public key
    assert {p["kind"] for p in json.loads(proc.stdout)["problems"]} >= {"bad_signature"}
