"""Where each ledger record arrived on audit.ledger, and the arrivals that are not the record's own.

A record is written once, by the stream, to partition = its shard, in a transaction. So the sink can tell
a *redelivery* (the same message again, at the same partition and offset: a rewound or restarted consumer)
from a *replay* (the same, validly signed bytes produced again by someone with write access: a later offset)
and a *misrouted* record (produced to a partition that is not its shard). The first arrival of each record
is kept in `ledger_arrivals` (kind `stored`); a replay or a misrouted record is kept there too, with the
offset of the stored original, and never stored as a record. Verify reports every such row.

Pure, apart from `read_arrivals` and `stored_anomalies`, which query a ClickHouse client.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ledger.verification_errors import MisroutedRecordError, ReplayedRecordError, VerificationError

ArrivalKind = Literal["stored", "replayed", "misrouted"]
UNKNOWN_OFFSET = -1  # the original's offset, when the store never saw it arrive (stored before this table existed)
ARRIVAL_COLUMNS: tuple[str, ...] = (
    "kind", "shard", "seq", "leaf_hash", "ledger_partition", "ledger_offset", "original_offset", "arrived_at",
)  # fmt: skip


@dataclass(frozen=True)
class Arrival:
    """One record message as it came off audit.ledger: the position it names and where it was read."""

    shard: int
    seq: int
    leaf_hash: bytes
    partition: int
    offset: int


@dataclass(frozen=True)
class KnownArrival:
    """A row of ledger_arrivals for the same (shard, seq, leaf)."""

    kind: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Verdict:
    """What the sink does with an arrival. `store`: insert the record; `arrival`: the ledger_arrivals row to
    add (kind, original offset), or None when nothing is new (a redelivery)."""

    store: bool
    arrival: tuple[ArrivalKind, int] | None


REDELIVERY = Verdict(store=False, arrival=None)


def judge_arrival(arrival: Arrival, known: list[KnownArrival], leaf_stored: bool) -> Verdict:
    """Decide one arrival from the rows already kept for its (shard, seq, leaf) and whether that very record
    (same leaf) is stored. Requires `known` to hold only rows of the same (shard, seq, leaf)."""
    if any(k.partition == arrival.partition and k.offset == arrival.offset for k in known):
        return REDELIVERY  # the same message read again
    original = next((k.offset for k in known if k.kind == "stored"), UNKNOWN_OFFSET)
    if arrival.partition != arrival.shard:
        return Verdict(store=False, arrival=("misrouted", original))  # never stored as another shard's record
    if not leaf_stored:
        return Verdict(store=True, arrival=("stored", UNKNOWN_OFFSET))
    if original == UNKNOWN_OFFSET:  # stored before arrivals were kept: adopt this as its arrival
        return Verdict(store=False, arrival=("stored", UNKNOWN_OFFSET))
    return Verdict(store=False, arrival=("replayed", original))


def arrival_row(arrival: Arrival, kind: ArrivalKind, original_offset: int, now: datetime) -> tuple[Any, ...]:
    return (kind, arrival.shard, arrival.seq, arrival.leaf_hash, arrival.partition, arrival.offset,
            original_offset, now)  # fmt: skip


def read_arrivals(client: Any, shard: int, seqs: list[int]) -> dict[tuple[int, bytes], list[KnownArrival]]:
    """The kept arrivals of these seqs of `shard`, by (seq, leaf)."""
    result = client.query(
        "SELECT seq, leaf_hash, kind, ledger_partition, ledger_offset FROM ledger_arrivals "
        "WHERE shard = {shard:UInt32} AND seq IN {seqs:Array(UInt64)}",
        parameters={"shard": shard, "seqs": seqs},
        column_formats={"leaf_hash": "bytes"},
    )
    known: dict[tuple[int, bytes], list[KnownArrival]] = defaultdict(list)
    for seq, leaf, kind, partition, offset in result.result_rows:
        known[(int(seq), bytes(leaf))].append(KnownArrival(str(kind), int(partition), int(offset)))
    return known


def anomaly_error(kind: str, shard: int, seq: int, partition: int, offset: int, original: int) -> VerificationError:
    where = f"offset {original}" if original != UNKNOWN_OFFSET else "an offset this store never saw"
    if kind == "replayed":
        return ReplayedRecordError(shard, seq, f"the record stored from audit.ledger partition {shard} {where} "
                                               f"arrived again at offset {offset}: replayed by a producer")  # fmt: skip
    return MisroutedRecordError(shard, seq, f"the record of shard {shard} (partition {shard} {where}) arrived "
                                            f"on partition {partition} at offset {offset}, not stored")  # fmt: skip


def stored_anomalies(client: Any) -> dict[int, list[VerificationError]]:
    """Every replayed or misrouted arrival the sink kept, by the shard the record names. A store from before
    ledger_arrivals existed has none to report."""
    try:
        rows = client.query(
            "SELECT kind, shard, seq, ledger_partition, ledger_offset, original_offset FROM ledger_arrivals "
            "WHERE kind != 'stored' ORDER BY shard, seq, ledger_partition, ledger_offset"
        ).result_rows
    except Exception as exc:  # noqa: BLE001 - only a missing table is an answer; anything else is re-raised
        if "UNKNOWN_TABLE" in str(exc) or "doesn't exist" in str(exc):
            return {}
        raise
    found: dict[int, list[VerificationError]] = defaultdict(list)
    for kind, shard, seq, partition, offset, original in rows:
        found[int(shard)].append(anomaly_error(str(kind), int(shard), int(seq), int(partition), int(offset),
                                               int(original)))  # fmt: skip
    return dict(found)
