"""The stream refuses to start on a bad policy or without the keys it needs, saying where and why.

These run the real command (`auditledger stream run`); the refusal comes before any connection, so no
servers are needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from auditledger.config import Settings
from stream.admission_config import ensure_local_secrets

BAD_POLICY = """\
version: 1
hash_key: mk-default
detectors:
  email: scramble
"""


def stream_run(home: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "AUDITLEDGER_KAFKA_BOOTSTRAP": "127.0.0.1:9", **env}
    return subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(home), "stream", "run"],
                          capture_output=True, text=True, timeout=60, env=environ)  # fmt: skip


def test_a_bad_policy_file_is_refused_with_its_line_and_reason(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(BAD_POLICY)
    ensure_local_secrets(Settings(home=tmp_path))
    proc = stream_run(tmp_path, AUDITLEDGER_POLICY_FILE=str(policy))
    assert proc.returncode == 2
    assert f"{policy}:4: detectors.email:" in proc.stderr and "scramble" in proc.stderr


def test_a_missing_masking_key_or_dead_letter_key_is_refused(tmp_path: Path) -> None:
    proc = stream_run(tmp_path)
    assert proc.returncode == 2 and "mk-default" in proc.stderr
    settings = Settings(home=tmp_path)
    ensure_local_secrets(settings)
    settings.deadletter_public_key_path.unlink()
    proc = stream_run(tmp_path)
    assert proc.returncode == 2 and "recipient.pub" in proc.stderr


def test_a_masking_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    ensure_local_secrets(settings)
    key = next(settings.masking_keys_path.glob("*.key"))
    key.chmod(0o644)
    proc = stream_run(tmp_path)
    assert proc.returncode == 2 and str(key.name) in proc.stderr
    assert key.read_text().strip() not in proc.stderr  # the error names the file, never the key
