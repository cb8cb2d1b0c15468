"""Tampering with the stored ledger on the real stack, each attack named as it is in the issue; every one
must make `auditledger verify` exit 1 and name the problem, and the ledger verifies again once restored."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditledger.config import Settings
from ledger.ddl import BINARY_COLUMNS, CHECKPOINT_COLUMNS, RECORD_COLUMNS
from ledger.entry import encode_entry, entry_leaf_hash
from ledger.keyring import Keyring
from ledger.projection import checkpoint_row, record_row
from ledger.signed_note import NoteSigner, SignedNote
from ledger.tree_head import TreeHead
from producers.demo_session import demo_events
from schemas import SchemaStore
from stream.shard_chain import ShardChain
from tests.stack.conftest import emit_stored_anchored

pytestmark = pytest.mark.stack
COL = {name: i for i, name in enumerate(RECORD_COLUMNS)}
STORE = SchemaStore()


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), *args],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def verify(settings: Settings, *extra: str) -> tuple[int, dict]:
    proc = cli(settings, "verify", "--json", *extra)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def first_problem(report: dict) -> tuple:
    p = report["problems"][0]
    return p["shard"], p["seq"], p["kind"]


def busiest_shards(ch) -> list[int]:
    rows = ch.query("SELECT shard, count() AS n FROM ledger_records GROUP BY shard ORDER BY n DESC").result_rows
    return [int(shard) for shard, n in rows if n >= 50]


def shard_rows(ch, shard: int) -> list[list]:
    query = f"SELECT {', '.join(RECORD_COLUMNS)} FROM ledger_records WHERE shard = {{s:UInt32}} ORDER BY seq"
    return [list(r) for r in ch.query(query, parameters={"s": shard}, column_formats=BINARY_COLUMNS).result_rows]


def shard_checkpoints(ch, shard: int) -> list[list]:
    query = f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM ledger_checkpoints WHERE shard = {{s:UInt32}}"
    formats = {"root_hash": "bytes", "checkpoint": "bytes"}
    return [list(r) for r in ch.query(query, parameters={"s": shard}, column_formats=formats).result_rows]


def delete(ch, table: str, where: str) -> None:
    ch.command(f"ALTER TABLE {table} DELETE WHERE {where} SETTINGS mutations_sync = 2")


def replace_shard(ch, shard: int, rows: list, checkpoints: list) -> None:
    """The shard as `rows`; ledger_leaves is refilled from them by its view (inserted leaves outlive deletes)."""
    delete(ch, "ledger_records", f"shard = {shard}")
    delete(ch, "ledger_leaves", f"shard = {shard}")
    delete(ch, "ledger_checkpoints", f"shard = {shard}")
    ch.insert("ledger_records", rows, column_names=list(RECORD_COLUMNS))
    ch.insert("ledger_checkpoints", checkpoints, column_names=list(CHECKPOINT_COLUMNS))


@pytest.fixture(scope="module")
def ledger_ready(settings: Settings, ch) -> None:
    emit_stored_anchored(settings, ch, list(demo_events(600, sessions=24, seed=23)))
    code, report = verify(settings)
    assert code == 0, report["problems"][:3]


@pytest.fixture
def restored(ch, settings: Settings, ledger_ready) -> Iterator[None]:
    """Every test starts from, and leaves behind, a ledger that verifies."""
    saved = {s: (shard_rows(ch, s), shard_checkpoints(ch, s)) for s in range(settings.partitions)}
    yield
    for shard, (rows, checkpoints) in saved.items():
        replace_shard(ch, shard, rows, checkpoints)
    assert verify(settings)[0] == 0


def test_forged_record_appended_with_a_correct_leaf_and_chain_is_unanchored(settings, ch, restored) -> None:
    shard = busiest_shards(ch)[0]
    rows = shard_rows(ch, shard)
    last = rows[-1]
    entry = STORE.decode(last[COL["entry"]], reader="LedgerEntry")
    event = {**entry["event"], "payload": {**entry["event"]["payload"], "response": "approved by nobody"}}
    forged = encode_entry(STORE, shard=shard, seq=len(rows), source_offset=entry["source_offset"] + 1,
                          sequenced_at=datetime.now(UTC), prev_leaf_hash=last[COL["leaf_hash"]],
                          event=event)  # fmt: skip
    record = {"shard": shard, "seq": len(rows), "leaf_hash": entry_leaf_hash(forged), "entry": forged}
    ch.insert("ledger_records", [record_row(record, STORE.decode(forged, reader="LedgerEntry"))],
              column_names=list(RECORD_COLUMNS))  # fmt: skip
    code, report = verify(settings)
    assert (code, first_problem(report)) == (1, (shard, len(rows), "unanchored"))


def test_two_records_swapped_are_reordered(settings, ch, restored) -> None:
    shard = busiest_shards(ch)[0]
    rows = shard_rows(ch, shard)
    a, b = rows[40], rows[41]
    a[COL["seq"]], b[COL["seq"]] = 41, 40
    delete(ch, "ledger_records", f"shard = {shard} AND seq IN (40, 41)")
    ch.insert("ledger_records", [a, b], column_names=list(RECORD_COLUMNS))
    code, report = verify(settings)
    assert (code, first_problem(report)) == (1, (shard, 40, "reordered"))


def test_checkpoint_replaced_by_one_signed_with_an_unknown_key_is_refused(settings, ch, restored) -> None:
    shard = busiest_shards(ch)[-1]
    checkpoint = shard_checkpoints(ch, shard)[0]
    cp = dict(zip(CHECKPOINT_COLUMNS, checkpoint, strict=True))
    head = TreeHead.parse(SignedNote.parse(cp["note"]).body)
    impostor = NoteSigner.generate(settings.log_origin)
    forged = [*checkpoint]
    forged[CHECKPOINT_COLUMNS.index("note")] = SignedNote.sign(head.body(), [impostor]).text()
    delete(ch, "ledger_checkpoints", f"shard = {shard} AND tree_size = {cp['tree_size']}")
    ch.insert("ledger_checkpoints", [forged], column_names=list(CHECKPOINT_COLUMNS))
    code, report = verify(settings)
    assert code == 1
    assert report["problems"][0]["kind"] == "bad_signature" and "no trusted key" in report["problems"][0]["detail"]
    # records that only the forged head covered are, rightly, vouched for by nothing now
    assert {p["kind"] for p in report["problems"]} <= {"bad_signature", "unanchored"}


def rewritten_history(ch, settings: Settings, shard: int) -> tuple[list, list]:
    """The shard re-sequenced from seq 0 with one early response changed, checkpoints re-signed with the
    real key at the same sizes: what an insider holding the signing key could produce."""
    rows, checkpoints = shard_rows(ch, shard), shard_checkpoints(ch, shard)
    sizes = sorted({c[CHECKPOINT_COLUMNS.index("tree_size")] for c in checkpoints})
    signers = Keyring.load(settings.signing_keys_dir).signers_at(datetime.now(UTC))
    chain, new_rows, new_checkpoints = ShardChain(shard=shard), [], []
    for row in rows:
        entry = STORE.decode(row[COL["entry"]], reader="LedgerEntry")
        event = entry["event"]
        if entry["seq"] == 5:
            event = {**event, "payload": {**event["payload"], "response": "nothing happened here"}}
        _, _, message = chain.append(STORE, event, entry["source_offset"], entry["sequenced_at"])
        record = STORE.decode(message, reader="LedgerRecord")
        new_rows.append(record_row(record, STORE.decode(record["entry"], reader="LedgerEntry")))
        if chain.next_seq in sizes:
            signed = chain.checkpoint(STORE, settings.log_origin, datetime.now(UTC), 0.0, signers)
            new_checkpoints.append(checkpoint_row(STORE.decode(signed, reader="Checkpoint"), signed))
    return new_rows, new_checkpoints


def test_history_rewritten_with_the_real_key_is_caught_by_an_earlier_witness(
    settings, ch, restored, tmp_path: Path
) -> None:
    witness = tmp_path / "witness.json"
    exported = cli(settings, "checkpoint", "export", "--out", str(witness))
    assert exported.returncode == 0, exported.stderr
    assert {c["shard"] for c in json.loads(witness.read_text())["checkpoints"]} >= set(busiest_shards(ch))
    assert verify(settings, "--witness", str(witness))[0] == 0

    shard = busiest_shards(ch)[0]
    replace_shard(ch, shard, *rewritten_history(ch, settings, shard))
    code, report = verify(settings)
    assert code == 0, report["problems"][:3]  # signatures alone cannot tell: the key signed the new history
    code, report = verify(settings, "--witness", str(witness))
    assert code == 1
    assert {(p["shard"], p["kind"]) for p in report["problems"]} == {(shard, "witness_mismatch")}


def test_verify_from_an_exported_checkpoint_reads_only_what_came_after(settings, ch, restored, tmp_path) -> None:
    start = tmp_path / "start.json"
    assert cli(settings, "checkpoint", "export", "--out", str(start)).returncode == 0
    code, report = verify(settings, "--from-checkpoint", str(start))
    assert code == 0
    exported = {c["shard"]: c for c in json.loads(start.read_text())["checkpoints"]}
    for shard in report["shards"]:
        size = int(exported[shard["shard"]]["note"].splitlines()[1])
        assert shard["verified_from_seq"] == size and shard["records"] == shard["tree_size"] - size


def test_verify_with_the_published_keys_file_and_refusal_of_a_foreign_one(settings, ledger_ready, tmp_path) -> None:
    keys = tmp_path / "keys.txt"
    published = cli(settings, "keys", "public")
    assert published.returncode == 0 and published.stdout.count("\n") >= 1
    keys.write_text(published.stdout)
    assert verify(settings, "--keys", str(keys))[0] == 0
    foreign = tmp_path / "foreign.txt"
    foreign.write_text(NoteSigner.generate(settings.log_origin).verifier_key.text() + "\n")
    code, report = verify(settings, "--keys", str(foreign))
    assert code == 1 and report["problems"][0]["kind"] == "bad_signature"
    assert {p["kind"] for p in report["problems"]} == {"bad_signature", "unanchored"}  # nothing vouches for any record


def test_shards_verified_in_parallel_processes_report_as_one_process_does(settings, ch, restored, monkeypatch) -> None:
    from ledger import store_verification
    from ledger.keyring import Keyring

    shard = busiest_shards(ch)[0]
    delete(ch, "ledger_records", f"shard = {shard} AND seq = 7")
    monkeypatch.setattr(store_verification, "PARALLEL_FROM_RECORDS", 0)
    trusted = Keyring.load(settings.signing_keys_dir).trusted_keys()

    def outcome(workers: int) -> list:
        reports = store_verification.verify_store(ch, trusted, settings.log_origin, workers=workers,
                                                  connection=(settings.clickhouse_url, "default"))  # fmt: skip
        return [(r.shard, r.records, r.tree_size, r.root_hash, [p.as_dict() for p in r.problems]) for r in reports]

    parallel = outcome(2)
    assert parallel == outcome(1)
    assert [(shard, 7, "deleted")] == [(p["shard"], p["seq"], p["kind"]) for r in parallel for p in r[4]][:1]


def test_checkpoint_export_to_a_topic_carries_every_shards_signed_head(settings, ch, ledger_ready) -> None:
    from confluent_kafka import Consumer

    topic = "audit.witness"
    proc = cli(settings, "checkpoint", "export", "--out", "/dev/null", "--topic", topic)
    assert proc.returncode == 0, proc.stderr
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "witness-test",
                         "auto.offset.reset": "earliest"})  # fmt: skip
    consumer.subscribe([topic])
    seen: dict[int, dict] = {}
    deadline = time.monotonic() + 30
    while len(seen) < len(busiest_shards(ch)) and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and not msg.error():
            item = json.loads(msg.value())
            assert int(msg.key()) == item["shard"]
            seen[item["shard"]] = item
    consumer.close()
    assert set(busiest_shards(ch)) <= set(seen)
    for item in seen.values():
        assert SignedNote.parse(item["note"]).signatures and item["frontier"]
