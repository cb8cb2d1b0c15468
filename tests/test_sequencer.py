"""The stream's batch step: contiguous seqs per shard, chaining, dead letters, redelivery, recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.entry import ZERO_HASH, entry_leaf_hash
from ledger.merkle import root_of
from ledger.signed_note import NoteSigner
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.sealed_envelope import seal_context
from stream.sequencer import LedgerSequencer, RawEvent
from stream.shard_chain import ShardChain
from tests.ledger_path import recipient, sequencer_parts

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _raws(store: SchemaStore, n: int, partitions: int = 3) -> list[RawEvent]:
    events = [store.encode("AuditEvent", event_from_json(e)) for e in demo_events(n)]
    return [RawEvent(i % partitions, i // partitions, v) for i, v in enumerate(events)]


SIGNER = NoteSigner.generate("test.example/log")


def _sequencer(store: SchemaStore, recover=None, **kw) -> LedgerSequencer:
    return LedgerSequencer(store, recover or (lambda s: ShardChain(shard=s)), "test.example/log", "audit.events",
                           signers=lambda now: [SIGNER], clock=lambda: NOW, **sequencer_parts(store), **kw)  # fmt: skip


def _decoded(store: SchemaStore, outputs, role: str, reader: str) -> list[dict]:
    return [store.decode(o.value, reader=reader) for o in outputs if o.role == role]


def test_each_shard_is_contiguous_from_zero_and_chained(store: SchemaStore) -> None:
    result = _sequencer(store).process(_raws(store, 90), idle=True)
    records = _decoded(store, result.outputs, "ledger", "LedgerRecord")
    for shard in range(3):
        mine = [r for r in records if r["shard"] == shard]
        assert [r["seq"] for r in mine] == list(range(30))
        prev = ZERO_HASH
        for r in mine:
            entry = store.decode(r["entry"], reader="LedgerEntry")
            assert entry["prev_leaf_hash"] == prev
            assert entry_leaf_hash(r["entry"]) == r["leaf_hash"]
            prev = r["leaf_hash"]


def test_checkpoint_root_matches_the_leaves(store: SchemaStore) -> None:
    result = _sequencer(store).process(_raws(store, 30), idle=True)
    records = _decoded(store, result.outputs, "ledger", "LedgerRecord")
    checkpoints = {c["shard"]: c for c in _decoded(store, result.outputs, "checkpoints", "Checkpoint")}
    assert set(checkpoints) == {0, 1, 2}
    for shard, cp in checkpoints.items():
        leaves = [r["leaf_hash"] for r in records if r["shard"] == shard]
        assert cp["tree_size"] == len(leaves) == 10
        assert cp["root_hash"] == root_of(leaves)
        assert cp["note"].splitlines()[0] == f"test.example/log/shard/{shard}"


def test_redelivered_input_is_skipped_not_sequenced_twice(store: SchemaStore) -> None:
    raws = _raws(store, 30)
    seq = _sequencer(store)
    first = seq.process(raws[:20], idle=False)
    again = seq.process(raws[10:], idle=True)  # 10 redelivered, 10 new
    assert again.skipped_redelivered == 10
    assert first.appended + again.appended == 30
    seqs = [
        r["seq"] for r in _decoded(store, first.outputs + again.outputs, "ledger", "LedgerRecord") if r["shard"] == 0
    ]
    assert seqs == list(range(10))


def test_invalid_event_goes_to_dead_letter_with_reason_and_sealed_bytes(store: SchemaStore) -> None:
    event = event_from_json(next(demo_events(1)))
    event["action"]["type"] = "launch.missiles"
    future = event_from_json(next(demo_events(1)))
    future["occurred_at"] = NOW + timedelta(days=30)
    raws = [RawEvent(0, 0, b"not avro"), RawEvent(0, 1, store.encode("AuditEvent", event)),
            RawEvent(0, 2, store.encode("AuditEvent", future)), RawEvent(0, 3, None)]  # fmt: skip
    result = _sequencer(store).process(raws, idle=True)
    dead = _decoded(store, result.outputs, "deadletter", "DeadLetter")
    assert [d["error_kind"] for d in dead] == ["undecodable", "invalid", "invalid", "undecodable"]
    assert "action.type" in dead[1]["reason"] and "launch.missiles" not in dead[1]["reason"]
    assert "ahead" in dead[2]["reason"]
    assert dead[0]["source_offset"] == 0 and dead[0]["original_size"] == len(b"not avro")
    assert dead[0]["masked_preview"] is None and dead[1]["event_id"] == str(event["event_id"])
    for d, raw in zip(dead, raws, strict=True):  # only the recipient key recovers the original bytes
        context = seal_context(d["source_topic"], d["source_partition"], d["source_offset"])
        assert recipient().open(d["sealed_original"], context) == (raw.value or b"")
    assert result.appended == 0
    checkpoint = _decoded(store, result.outputs, "checkpoints", "Checkpoint")[0]
    assert checkpoint["last_source_offset"] == 3 and checkpoint["tree_size"] == 0


def test_recovery_from_checkpoint_plus_tail_continues_the_same_chain(store: SchemaStore) -> None:
    raws = _raws(store, 60, partitions=1)
    straight = _sequencer(store).process(raws, idle=True)
    want = _decoded(store, straight.outputs, "ledger", "LedgerRecord")
    # A worker writes 25 records with a checkpoint at 20, then dies.
    first = _sequencer(store, checkpoint_every_records=20)
    out = first.process(raws[:20], idle=False).outputs + first.process(raws[20:25], idle=False).outputs
    checkpoint = _decoded(store, out, "checkpoints", "Checkpoint")[-1]
    tail = [r for r in _decoded(store, out, "ledger", "LedgerRecord") if r["seq"] >= checkpoint["tree_size"]]

    def recover(shard: int) -> ShardChain:
        chain = ShardChain.from_checkpoint(checkpoint)
        for r in tail:
            entry = store.decode(r["entry"], reader="LedgerEntry")
            chain.replay_written(r["seq"], r["leaf_hash"], entry["source_offset"])
        return chain

    second = _sequencer(store, recover=recover)
    resumed = second.process(raws, idle=True)  # everything redelivered
    assert resumed.skipped_redelivered == 25
    got = _decoded(store, out, "ledger", "LedgerRecord") + _decoded(store, resumed.outputs, "ledger", "LedgerRecord")
    assert [r["seq"] for r in got] == list(range(60))
    assert [r["leaf_hash"] for r in got] == [r["leaf_hash"] for r in want]


def test_only_drained_shards_are_anchored_before_the_thresholds(store: SchemaStore) -> None:
    seq = _sequencer(store, checkpoint_every_records=1000, checkpoint_every_ms=60_000)
    result = seq.process(_raws(store, 30), idle={1})
    anchored = [c["shard"] for c in _decoded(store, result.outputs, "checkpoints", "Checkpoint")]
    assert anchored == [1]
    later = seq.process([], idle=True)
    assert later.outputs == []  # nothing new consumed: nothing to anchor until the shard sees input
    more = seq.due_checkpoints([0, 2], idle=True)
    assert sorted(store.decode(o.value, reader="Checkpoint")["tree_size"] for o in more) == [10, 10]


def test_a_shard_whose_end_is_learned_after_its_batch_is_anchored_once(store: SchemaStore) -> None:
    """A transactional emitter's commit marker hides the end of the input from the batch (stream/ledger_writer.py)."""
    sequencer = _sequencer(store)
    first = sequencer.process(_raws(store, 12, partitions=1), idle=False)
    assert [o.role for o in first.outputs].count("checkpoints") == 0
    anchored = sequencer.anchor_idle({0, 2})  # shard 2 has no records: nothing to anchor
    checkpoints = _decoded(store, anchored.outputs, "checkpoints", "Checkpoint")
    assert [(c["shard"], c["tree_size"]) for c in checkpoints] == [(0, 12)]
    assert sequencer.anchor_idle({0}).outputs == []  # nothing new since


def test_a_restarted_writer_anchors_the_tail_its_predecessor_left_open(store: SchemaStore) -> None:
    """The last batch committed, then the worker died before the end of its input was learned: the next writer
    has nothing to read, recovers the shard on that end, and anchors it."""
    before = _sequencer(store)
    before.process(_raws(store, 12, partitions=1), idle=False)
    left_open = before.ensure_shard(0)
    assert left_open.checkpointed_size == 0 and left_open.next_seq == 12
    restarted = _sequencer(store, recover=lambda shard: left_open)  # what recovery reads back from the output
    checkpoints = _decoded(store, restarted.anchor_idle([0]).outputs, "checkpoints", "Checkpoint")
    assert [(c["shard"], c["tree_size"]) for c in checkpoints] == [(0, 12)]
