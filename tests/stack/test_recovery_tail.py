"""Recovery of a shard from its output when a dead worker's aborted transaction fills the end of the partition.

Seen in the SIGKILL fault test: a worker killed inside a batch left ~200 uncommitted records on audit.ledger;
the next worker aborted them and read the tail of the partition to find what follows the last checkpoint.
The last 64 offsets were all aborted records, read_committed returned nothing, and recovery took the stale
checkpoint for the end: the worker then wrote seqs that were already taken (a fork). Here the same shape is
built on the real broker, on topics of this test's own.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from auditledger.config import Settings
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.recovery import TAIL_WINDOW, ShardRecovery
from stream.sequencer import LedgerSequencer, Output, RawEvent
from stream.shard_chain import ShardChain
from tests.ledger_path import sequencer_parts
from tests.test_sequencer import SIGNER

pytestmark = pytest.mark.stack

CHECKPOINTED, COMMITTED, ABORTED = 10, 90, 3 * TAIL_WINDOW  # records in each transaction


def _outputs(store: SchemaStore, n_events: int) -> tuple[list[Output], list[Output], list[Output]]:
    """Ledger outputs of one shard: a checkpointed first batch, a committed second one, an aborted third."""
    sequencer = LedgerSequencer(store, lambda shard: ShardChain(shard=shard), "test.example/log", "audit.events",
                                signers=lambda now: [SIGNER], checkpoint_every_records=10**9,
                                checkpoint_every_ms=10**9, **sequencer_parts(store))  # fmt: skip
    raws = [RawEvent(0, i, store.encode("AuditEvent", event_from_json(e)))
            for i, e in enumerate(demo_events(n_events, sessions=3, seed=5))]  # fmt: skip
    first = sequencer.process(raws[:CHECKPOINTED], idle=True).outputs
    second = sequencer.process(raws[CHECKPOINTED : CHECKPOINTED + COMMITTED], idle=False).outputs
    third = sequencer.process(raws[CHECKPOINTED + COMMITTED :], idle=False).outputs
    assert [o.role for o in first].count("checkpoints") == 1
    assert "checkpoints" not in {o.role for o in second + third}
    return first, second, third


def test_recovery_reads_past_an_aborted_transaction_to_the_last_committed_record(settings: Settings) -> None:
    store = SchemaStore()
    first, second, third = _outputs(store, CHECKPOINTED + COMMITTED + ABORTED)
    suffix = uuid.uuid4().hex[:8]
    topics = {"ledger": f"recovery-test.ledger.{suffix}", "checkpoints": f"recovery-test.checkpoints.{suffix}"}
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3})
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 3,
                         "transactional.id": f"recovery-test-{suffix}"})  # fmt: skip
    producer.init_transactions(30)
    for batch, commit in ((first, True), (second, True), (third, False)):
        producer.begin_transaction()
        for out in batch:
            if out.role in topics:
                producer.produce(topics[out.role], value=out.value, partition=0)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.flush(30)  # on the partition, then aborted: the dead worker's batch after its fencing
            producer.abort_transaction(30)
    records = [store.decode(o.value, reader="LedgerRecord") for o in second if o.role == "ledger"]
    assert records[-1]["seq"] == CHECKPOINTED + COMMITTED - 1

    recovery = ShardRecovery(settings.kafka_bootstrap, topics["ledger"], topics["checkpoints"], store, timeout_s=30)
    try:
        chain = recovery(0)
    finally:
        recovery.close()
        admin.delete_topics(list(topics.values()))
    assert chain.next_seq == CHECKPOINTED + COMMITTED
    assert chain.last_leaf_hash == records[-1]["leaf_hash"]
