"""`auditledger prove` against a scripted store and `auditledger verify-proof` on files: exit codes and outputs."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import ledger.clickhouse_client
from auditledger.cli import main
from ledger.merkle import root_of
from ledger.signed_note import NoteSigner, SignedNote
from ledger.tree_head import TreeHead, shard_origin
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.shard_chain import ShardChain

SHARD = 1
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@dataclass
class Result:
    result_rows: list[tuple[Any, ...]]


@dataclass
class ScriptedStore:
    """Answers prove's three queries from in-memory rows, as ClickHouse would."""

    records: list[tuple[int, int, bytes, bytes, str]]  # shard, seq, leaf hash, entry, event id
    checkpoints: list[tuple[int, int, str]]  # shard, tree size, note
    queries: list[str] = field(default_factory=list)

    def query(self, sql: str, parameters: dict[str, Any], column_formats: dict | None = None) -> Result:
        self.queries.append(sql)
        if "event_id =" in sql:
            rows = [(s, q, h, e) for s, q, h, e, i in self.records if i == parameters["id"]]
            return Result(sorted(rows, key=lambda r: (r[0], r[1])))
        if "FROM ledger_checkpoints" in sql:
            rows = [(n, note) for s, n, note in self.checkpoints if s == parameters["shard"] and n > parameters["seq"]]
            return Result(sorted(rows, reverse=True)[:1])
        rows = [(q, h) for s, q, h, _, _ in self.records if s == parameters["shard"] and q < parameters["size"]]
        return Result(sorted(rows))


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner.generate("cli-test")


@pytest.fixture(scope="module")
def ledger_rows(store: SchemaStore) -> list[tuple[int, int, bytes, bytes, str]]:
    chain = ShardChain(shard=SHARD)
    rows = []
    for offset, event in enumerate(demo_events(7, seed=3)):
        seq, leaf, record = chain.append(store, event_from_json(event), offset, T0 + timedelta(seconds=offset))
        rows.append((SHARD, seq, leaf, bytes(store.decode(record, reader="LedgerRecord")["entry"]), event["event_id"]))
    return rows


def note_for(rows: list, size: int, signer: NoteSigner, root: bytes | None = None) -> str:
    root = root if root is not None else root_of(r[2] for r in rows[:size])
    return SignedNote.sign(TreeHead(shard_origin("t/log", SHARD), size, root, T0).body(), [signer]).text()


@pytest.fixture
def scripted(ledger_rows, signer, monkeypatch: pytest.MonkeyPatch) -> ScriptedStore:
    fake = ScriptedStore(list(ledger_rows), [(SHARD, 4, note_for(ledger_rows, 4, signer))])
    monkeypatch.setattr(ledger.clickhouse_client, "connect", lambda url, database="default", **credentials: fake)
    return fake


def cli(tmp_path: Path, *args: str) -> int:
    return main(["--home", str(tmp_path), *args])


@pytest.fixture
def bundle_file(tmp_path: Path, scripted: ScriptedStore, ledger_rows) -> Path:
    out = tmp_path / "proof.json"
    assert cli(tmp_path, "prove", ledger_rows[2][4], "--out", str(out), "--clickhouse-url", "http://x") == 0
    return out


@pytest.fixture
def keys_file(tmp_path: Path, signer: NoteSigner) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text(f"# the log's key\n{signer.verifier_key.text()}\n")
    return path


# --- prove --------------------------------------------------------------------------------------------------


def test_prove_prints_the_canonical_bundle_under_the_newest_covering_checkpoint(
    tmp_path, scripted, ledger_rows, signer, capsys
) -> None:
    scripted.checkpoints.append((SHARD, 7, note_for(ledger_rows, 7, signer)))
    assert cli(tmp_path, "prove", ledger_rows[2][4].upper(), "--json", "--clickhouse-url", "http://x") == 0
    bundle = json.loads(capsys.readouterr().out)
    assert (bundle["event_id"], bundle["shard"], bundle["leaf_index"], bundle["tree_size"]) == (
        ledger_rows[2][4], SHARD, 2, 7,
    )  # fmt: skip


def test_prove_without_json_prints_a_summary_and_how_to_get_the_bundle(tmp_path, scripted, ledger_rows, capsys):
    assert cli(tmp_path, "prove", ledger_rows[3][4], "--clickhouse-url", "http://x") == 0
    out = capsys.readouterr().out
    assert "leaf index 3 of tree size 4" in out and "t/log/shard/1 at 2026-11-23T10:00:00.000000Z" in out
    assert "--out proof.json" in out


@pytest.mark.parametrize(
    ("damage", "code", "said"),
    [
        (lambda s, rows, k: setattr(s, "records", s.records[:2]), 2, "not in ledger_records"),
        (lambda s, rows, k: s.records.append((2, 0, rows[2][2], rows[2][3], rows[2][4])), 1, "stored 2 times"),
        (lambda s, rows, k: setattr(s, "checkpoints", []), 1, "not yet anchored"),
        (lambda s, rows, k: s.records.pop(1), 1, "seq 1 is missing"),
        (
            lambda s, rows, k: s.records.insert(1, (SHARD, 0, *rows[0][2:4], str(uuid.uuid4()))),
            1,
            "seq 0 is stored twice",
        ),
        (lambda s, rows, k: setattr(s, "checkpoints", [(SHARD, 4, note_for(rows, 4, k, bytes(32)))]), 1, "root"),
        (lambda s, rows, k: setattr(s, "checkpoints", [(SHARD, 4, "t/log/shard/1\n4\nAAAA\n")]), 1, "signed tree head"),
    ],
    ids=["not-found", "stored-twice", "not-anchored", "gap", "duplicate-seq", "root-differs", "unsigned-note"],
)
def test_prove_refuses_what_it_cannot_back(
    tmp_path, scripted, ledger_rows, signer, capsys, damage, code: int, said: str
) -> None:
    damage(scripted, ledger_rows, signer)
    assert cli(tmp_path, "prove", ledger_rows[2][4], "--json", "--clickhouse-url", "http://x") == code
    captured = capsys.readouterr()
    assert captured.out == "" and said in captured.err


def test_prove_usage_and_unreachable_store_exit_2(tmp_path, capsys, monkeypatch) -> None:
    assert cli(tmp_path, "prove", "not-a-uuid") == 2
    monkeypatch.delenv("AUDITLEDGER_CLICKHOUSE_URL", raising=False)
    assert cli(tmp_path, "prove", str(uuid.uuid4())) == 2  # no stack under this home: no URL
    assert "no ClickHouse URL" in capsys.readouterr().err


# --- verify-proof -------------------------------------------------------------------------------------------


def test_verify_proof_with_keys_file_and_key_flag(tmp_path, bundle_file, keys_file, signer, capsys) -> None:
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--keys", str(keys_file)) == 0
    assert capsys.readouterr().out.startswith("PROVEN: event ")
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--key", signer.verifier_key.text(), "--json") == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict == {
        "ok": True, "event_id": json.loads(bundle_file.read_text())["event_id"], "shard": SHARD, "leaf_index": 2,
        "tree_size": 4, "checkpoint_time": "2026-11-23T10:00:00.000000Z",
        "signed_by": [f"cli-test+{signer.key_id.hex()}"], "problem": None,
    }  # fmt: skip


def test_verify_proof_changed_byte_exits_1_naming_the_check(tmp_path, bundle_file, keys_file, capsys) -> None:
    data = bytearray(bundle_file.read_bytes())
    data[data.index(b'"leaf_index":2') + len('"leaf_index":')] = ord("3")
    bundle_file.write_bytes(bytes(data))
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--keys", str(keys_file), "--json") == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] is False and verdict["event_id"] is None and verdict["signed_by"] == []
    assert verdict["problem"] == {
        "check": 5, "check_name": "record", "kind": "record_mismatch", "message": "seq: entry has 2, bundle says 3",
    }  # fmt: skip
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--keys", str(keys_file)) == 1
    assert capsys.readouterr().out.startswith("FAILED: check (5) record failed [record_mismatch]")


def test_verify_proof_with_another_key_exits_1(tmp_path, bundle_file, capsys) -> None:
    other = NoteSigner.generate("cli-test").verifier_key.text()
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--key", other, "--json") == 1
    assert json.loads(capsys.readouterr().out)["problem"]["kind"] == "untrusted_signature"


def test_verify_proof_revoked_key_exits_1(tmp_path, bundle_file, signer, capsys) -> None:
    revoked = f"{signer.verifier_key.text()} revoked-at=2026-11-23T09:00:00Z"
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--key", revoked, "--json") == 1
    assert json.loads(capsys.readouterr().out)["problem"]["kind"] == "revoked_key"


def test_verify_proof_usage_errors_exit_2(tmp_path, bundle_file, keys_file, capsys) -> None:
    assert cli(tmp_path, "verify-proof", str(bundle_file)) == 2
    assert "no trusted key" in capsys.readouterr().err
    assert cli(tmp_path, "verify-proof", str(tmp_path / "absent.json"), "--keys", str(keys_file)) == 2
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--key", "not-a-key") == 2
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--keys", str(tmp_path / "absent.txt")) == 2
    keys_file.write_text("garbage line\n")
    assert cli(tmp_path, "verify-proof", str(bundle_file), "--keys", str(keys_file)) == 2
    assert "line 1" in capsys.readouterr().err


def test_help_says_what_a_bundle_does_not_prove(capsys) -> None:
    for command in ("prove", "verify-proof"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "does not prove that nothing was omitted" in " ".join(capsys.readouterr().out.split())


def test_verify_proof_module_is_offline() -> None:
    """The verifier's module pulls in no Kafka or ClickHouse client."""
    code = (
        "import sys, ledger.prove_cli, ledger.proof_bundle; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('clickhouse_connect', 'chdb', 'confluent_kafka', 'aiokafka', 'faust', 'stream')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
