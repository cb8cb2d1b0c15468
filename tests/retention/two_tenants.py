"""One shard written the way the stream writes it, with records of two tenants interleaved: rows as the sink
stores them in ledger_records, the ledger_leaves rows the view derives from them, and signed checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.checkpoint_checks import StoredCheckpoint
from ledger.ddl import RECORD_COLUMNS
from ledger.projection import record_row
from ledger.signed_note import NoteSigner
from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import SchemaStore
from stream.shard_chain import ShardChain

ORIGIN = "retention.test/log"
COL = {name: i for i, name in enumerate(RECORD_COLUMNS)}


@dataclass
class TwoTenantShard:
    rows: list[list]
    checkpoints: list[StoredCheckpoint]

    def leaves(self) -> list[tuple[int, bytes, str, int]]:
        """ledger_leaves rows: (seq, leaf_hash, tenant, sequenced_at in µs)."""
        return [(r[COL["seq"]], r[COL["leaf_hash"]], r[COL["tenant"]], micros(r[COL["sequenced_at"]]))
                for r in self.rows]  # fmt: skip

    def seqs_of(self, tenant: str) -> list[int]:
        return [r[COL["seq"]] for r in self.rows if r[COL["tenant"]] == tenant]


def micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def build(store: SchemaStore, signer: NoteSigner, start: datetime, tenants: list[str], n: int = 30,
          shard: int = 0, checkpoint_every: int = 10) -> TwoTenantShard:  # fmt: skip
    """`n` records, tenant i % len(tenants), one second apart from `start`; a checkpoint every few and at the end."""
    chain = ShardChain(shard=shard)
    rows, checkpoints = [], []
    for seq, raw in enumerate(demo_events(n, seed=5)):
        event = event_from_json({**raw, "tenant": tenants[seq % len(tenants)]})
        at = start + timedelta(seconds=seq)
        _, _, message = chain.append(store, event, seq, at)
        record = store.decode(message, reader="LedgerRecord")
        rows.append(list(record_row(record, store.decode(record["entry"], reader="LedgerEntry"))))
        if (seq + 1) % checkpoint_every == 0 or seq + 1 == n:
            signed = chain.checkpoint(store, ORIGIN, at, 0.0, [signer])
            cp = store.decode(signed, reader="Checkpoint")
            checkpoints.append(StoredCheckpoint(shard, cp["tree_size"], bytes(cp["root_hash"]), cp["note"]))
    return TwoTenantShard(rows, checkpoints)
