"""What the SIEM feed costs the stream: the same batch step with the audit.siem output (OCSF JSON) on and off.

Usage: .venv/bin/python benchmarks/siem_feed_cost.py [--events N]
Uses the masking benchmark's 1 KB agent events, then on one core measures:
  - this machine's raw limits for the same events: hashlib SHA-256 of the Avro bytes, and json.dumps of
    the event datums (compact; what any JSON output pays at least);
  - the OCSF mapping alone (dicts), and mapping plus JSON encoding, over the stream's sequenced records;
  - the stream's pure batch step (decode, admit, mask, sequence, hash, chain, checkpoint) with the SIEM
    feed off, and on (one API Activity message per record);
and prints the feed's share of the step. Its last line is machine-readable. No servers: the stream's own work.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.masking_throughput import agent_events, best_of, step_arguments  # noqa: E402
from ledger.signed_note import NoteSigner  # noqa: E402
from schemas import SchemaStore  # noqa: E402
from stream.ocsf import OcsfProduct, encode_json  # noqa: E402
from stream.ocsf_activity import api_activity  # noqa: E402
from stream.ocsf_feed import OcsfFeed  # noqa: E402
from stream.sequencer import LedgerSequencer, RawEvent  # noqa: E402
from stream.shard_chain import ShardChain  # noqa: E402
from tests.ledger_path import admission, dead_letters  # noqa: E402


def each(work: Callable[[Any], object], items: list[Any]) -> None:
    """Apply `work` to every item, keeping no result (as the stream does: each message is sent, then dropped)."""
    for item in items:
        work(item)


def main() -> int:
    args = step_arguments(__doc__ or "")
    store = SchemaStore()
    datums = agent_events(args.events, seed=7)
    encoded = [store.encode("AuditEvent", d) for d in datums]
    n = len(encoded)
    signer = NoteSigner.generate("bench/log")
    gate = admission()
    product = OcsfProduct.installed("bench/log")

    def stream_step(feed: OcsfFeed | None) -> float:
        sequencer = LedgerSequencer(store, lambda s: ShardChain(shard=s), "bench/log", "audit.events",
                                    signers=lambda now: [signer], admission=gate, siem=feed,
                                    dead_letters=dead_letters(store, gate))  # fmt: skip
        raws = [RawEvent(i % 6, i // 6, b) for i, b in enumerate(encoded)]
        began = time.perf_counter()
        for i in range(0, n, 1000):
            sequencer.process(raws[i : i + 1000], idle=False)
        return time.perf_counter() - began

    # The records exactly as the sequencer hands them to the feed: admitted (masked), with position and leaf.
    now = datetime.now(UTC)
    entries = []
    for i, d in enumerate(datums):
        admitted = gate.admit(d, now)
        entries.append({"shard": i % 6, "seq": i // 6, "sequenced_at": now, "source_topic": "events",
                        "event": admitted.event, "identity": admitted.identity, "masking": admitted.masking,
                        "approval": None})  # fmt: skip
    leaf = hashlib.sha256(b"leaf").digest()
    sha = best_of(args.runs, lambda: [hashlib.sha256(b"\x00" + b).digest() for b in encoded])
    dumps = best_of(args.runs, lambda: each(lambda d: json.dumps(d, default=str, separators=(",", ":")), datums))
    mapping = best_of(args.runs, lambda: each(lambda e: api_activity(e, leaf, product), entries))
    mapped_json = best_of(args.runs, lambda: each(lambda e: encode_json(api_activity(e, leaf, product)), entries))
    size = sum(len(encode_json(api_activity(e, leaf, product))) for e in entries[:1000]) / min(n, 1000)
    gc.freeze()  # the inputs held for the benchmark are not the worker's heap: keep the collector off them
    off = on = float("inf")
    for _ in range(args.runs):  # alternate, so that a busy moment of the machine hurts both alike
        off = min(off, stream_step(None))
        on = min(on, stream_step(OcsfFeed(product)))
    share = (on - off) / on

    print(f"events: {n}, {sum(map(len, encoded)) / n:.0f} bytes Avro each; OCSF messages {size:.0f} bytes each")
    print("raw limits of this machine, one core, same events:")
    print(f"  hashlib SHA-256 of the Avro bytes     {n / sha:>12,.0f} /s")
    print(f"  json.dumps of the event datums        {n / dumps:>12,.0f} /s   {dumps / n * 1e6:6.1f} us/event")
    print("ours, one core:")
    print(f"  OCSF mapping alone (dicts)            {n / mapping:>12,.0f} /s   {mapping / n * 1e6:6.1f} us/event")
    print(
        f"  OCSF mapping + JSON encoding          {n / mapped_json:>12,.0f} /s   {mapped_json / n * 1e6:6.1f} us/event"
    )
    print(f"  stream step, SIEM feed off            {n / off:>12,.0f} /s   {off / n * 1e6:6.1f} us/event")
    print(f"  stream step, SIEM feed on             {n / on:>12,.0f} /s   {on / n * 1e6:6.1f} us/event")
    print(f"  the feed's share of the stream step   {share:>12.1%}")
    print(f"  feed per event / json.dumps per event: {(on - off) / dumps:.2f}x")
    print(f"siem_off_events_per_s: {n / off:.0f} siem_on_events_per_s: {n / on:.0f} siem_share: {share:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
