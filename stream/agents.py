"""Faust agents. `sequence_events` turns audit.events into the chained ledger, a batch at a time."""

from __future__ import annotations

import asyncio
import logging

from schemas import SchemaStore
from stream.app import app, settings
from stream.recovery import ShardRecovery
from stream.sequencer import LedgerSequencer, RawEvent
from stream.topics import OUTPUT_TOPICS, events_topic

log = logging.getLogger("auditledger.stream")


@app.agent(events_topic)
async def sequence_events(stream):
    """Sequence, hash and chain each event; invalid ones go to the dead-letter topic with the reason.

    State lives here, per agent instance. A redelivered input (offset already in the shard's output)
    is skipped, so correctness rests on the recovered output tail, not on Faust's exactly-once alone.
    """
    store = SchemaStore()
    recovery = ShardRecovery(settings.kafka_bootstrap, settings.topics.ledger, settings.topics.checkpoints, store)
    sequencer = LedgerSequencer(
        store,
        recovery,
        log_origin=settings.log_origin,
        source_topic=settings.topics.events,
        checkpoint_every_records=settings.checkpoint_every_records,
        checkpoint_every_ms=settings.checkpoint_every_ms,
    )
    generation = app.rebalancing_count
    loop = asyncio.get_running_loop()
    async for batch in stream.take_events(settings.stream_batch_size, within=settings.stream_batch_within_s):
        if app.rebalancing_count != generation:
            sequencer.forget_all()
            generation = app.rebalancing_count
        raws = [RawEvent(e.message.partition, e.message.offset, e.value) for e in batch]
        for shard in sorted(sequencer.missing_shards(r.partition for r in raws)):
            chain = await loop.run_in_executor(None, sequencer.ensure_shard, shard)
            log.info(
                "shard %d recovered: next seq %d, last input offset %d", shard, chain.next_seq, chain.last_source_offset
            )
        result = sequencer.process(raws, idle=len(batch) < settings.stream_batch_size)
        for out in result.outputs:
            await OUTPUT_TOPICS[out.role].send(value=out.value, partition=out.partition)
        if result.dead_lettered or result.skipped_redelivered:
            log.warning(
                "batch: %d sequenced, %d dead-lettered, %d redelivered inputs skipped",
                result.appended,
                result.dead_lettered,
                result.skipped_redelivered,
            )
