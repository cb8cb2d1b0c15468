"""Single-event proofs on the real stack: prove from ClickHouse, verify offline with the log's public keys."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from auditledger import demo
from auditledger.config import Settings
from producers.demo_session import demo_events
from producers.emitter import AuditEmitter
from tests.stack.conftest import wait_for

pytestmark = pytest.mark.stack
N_EVENTS = 24


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), *args], capture_output=True, timeout=120
    )


@pytest.fixture(scope="module")
def anchored(settings: Settings, ch) -> list[str]:
    """Event ids that are stored once each and covered by a signed checkpoint."""
    events = list(demo_events(N_EVENTS, sessions=6, seed=29))
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events) as emitter:
        for e in events:
            emitter.emit(e)
        assert len(emitter.flush()) == N_EVENTS
    ids = [e["event_id"] for e in events]

    def stored() -> bool:
        found = {row[0] for row in ch.query("SELECT toString(event_id) FROM ledger_records").result_rows}
        return found.issuperset(ids)

    wait_for(stored, 120, f"{N_EVENTS} events in ClickHouse")
    assert demo.wait_anchored(ch, 60), "a shard's tail stayed without a checkpoint for 60 s"
    return ids


@pytest.fixture(scope="module")
def keys_file(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    public = cli(settings, "keys", "public")
    assert public.returncode == 0, public.stderr.decode()
    path = tmp_path_factory.mktemp("keys") / "verifier-keys.txt"
    path.write_bytes(public.stdout)
    return path


def verify(settings: Settings, bundle: Path, keys_file: Path) -> tuple[int, dict]:
    proc = cli(settings, "verify-proof", str(bundle), "--keys", str(keys_file), "--json")
    assert proc.returncode in (0, 1), proc.stderr.decode()
    return proc.returncode, json.loads(proc.stdout)


def test_proven_event_verifies_offline_and_any_changed_byte_fails(settings, anchored, keys_file, tmp_path) -> None:
    for event_id in (anchored[0], anchored[-1]):
        proved = cli(settings, "prove", event_id, "--json")
        assert proved.returncode == 0, proved.stderr.decode()
        bundle = tmp_path / f"{event_id}.json"
        bundle.write_bytes(proved.stdout)

        code, verdict = verify(settings, bundle, keys_file)
        assert code == 0, verdict["problem"]
        assert verdict["ok"] is True and verdict["event_id"] == event_id and verdict["signed_by"]
        assert verdict["leaf_index"] < verdict["tree_size"]

        original = proved.stdout
        for position in (original.index(b'"entry":"') + 20, original.index(b"\\n\\n") - 3, len(original) // 2):
            tampered = bytearray(original)
            tampered[position] = ord("B") if tampered[position] != ord("B") else ord("C")
            bundle.write_bytes(bytes(tampered))
            code, verdict = verify(settings, bundle, keys_file)
            assert code == 1 and verdict["ok"] is False and verdict["problem"]["kind"], (position, verdict)


def test_prove_unknown_event_exits_2(settings, anchored) -> None:
    proc = cli(settings, "prove", str(uuid.uuid4()))
    assert proc.returncode == 2 and b"not in ledger_records" in proc.stderr
