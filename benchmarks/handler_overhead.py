"""What the LangChain audit handler adds to a chain: per event, beside the raw cost of the same work.

Runs the example agent (examples/langchain_agent.py: a scripted fake chat model, one tool writing to
SQLite; 8 audit events a run) three ways, alternated and best of --runs:
  bare      no callbacks: the chain's own cost
  mapped    the handler with an in-memory delivery: LangChain's callback dispatch + building the events
  spooled   the handler with BackgroundDelivery to a broker that is not there: + Avro encoding + the
            append to the disk spool (what a callback does in production; Kafka is never waited on)
and, in the same run, this machine's raw limits for the same events: fastavro encode (schemaless) and
an append of the encoded bytes to a file. Prints per-event costs and their ratios; the last line is
machine-readable.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro  # noqa: E402

from benchmarks.masking_throughput import best_of  # noqa: E402
from examples import langchain_agent  # noqa: E402
from producers.background_delivery import BackgroundDelivery  # noqa: E402
from producers.langchain_audit import AuditCallbackHandler  # noqa: E402
from schemas import SchemaStore  # noqa: E402

UNREACHABLE = "127.0.0.1:9"  # nothing listens: delivery only ever spools


class Collected:
    """An in-memory delivery: keeps the datums, so the raw limits run on exactly these events."""

    def __init__(self) -> None:
        self.datums: list[Mapping[str, Any]] = []

    def submit(self, datum: Mapping[str, Any]) -> str:
        self.datums.append(datum)
        return str(datum["event_id"])


def handler_on(delivery: Any) -> AuditCallbackHandler:
    return AuditCallbackHandler(delivery, tenant="acme", actor_subject="ana@acme.example", actor_kind="user",
                                source_service="bench")  # fmt: skip


def chain_runs(runs: int, db: Path, handler: AuditCallbackHandler | None) -> Callable[[], None]:
    agent = langchain_agent.build_agent(db)

    def work() -> None:
        for _ in range(runs):
            config: dict[str, Any] = {"metadata": {"auditledger_session_id": "bench"}}
            if handler is not None:
                config["callbacks"] = [handler]
            agent.invoke(langchain_agent.USER_PROMPT, config)

    return work


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chains", type=int, default=200, help="agent runs per measurement (8 events each)")
    parser.add_argument("--runs", type=int, default=3, help="repeat each measurement, keep the fastest")
    args = parser.parse_args()
    store = SchemaStore()
    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "tickets.db"
        collected = Collected()
        chain_runs(1, db, handler_on(collected))()
        events_per_chain = len(collected.datums)
        events = args.chains * events_per_chain
        delivery = BackgroundDelivery(UNREACHABLE, Path(work) / "spool", max_bytes=1 << 34)
        try:
            ways = {"bare": chain_runs(args.chains, db, None),
                    "mapped": chain_runs(args.chains, db, handler_on(Collected())),
                    "spooled": chain_runs(args.chains, db, handler_on(delivery))}  # fmt: skip
            best = dict.fromkeys(ways, float("inf"))
            for _ in range(args.runs):
                for name, way in ways.items():
                    best[name] = min(best[name], best_of(1, way))
            spooled_count = delivery.pending()
        finally:
            delivery.close(timeout_s=1.0)
        datums = collected.datums * args.chains
        parsed = store.schema("AuditEvent").parsed
        encoded = [store.encode("AuditEvent", d) for d in datums]
        t_encode = best_of(args.runs, lambda: [fastavro.schemaless_writer(io.BytesIO(), parsed, d) for d in datums])
        with open(Path(work) / "raw-append", "ab", buffering=0) as raw:
            t_append = best_of(args.runs, lambda: [raw.write(b) for b in encoded])

    def per_event_us(seconds: float) -> float:
        return seconds / events * 1e6

    bare, mapped, spooled = (per_event_us(best[k]) for k in ("bare", "mapped", "spooled"))
    handler_us, mapping_us, spool_us = spooled - bare, mapped - bare, spooled - mapped
    encode_us, append_us = per_event_us(t_encode), per_event_us(t_append)
    print(f"handler overhead, {args.chains} agent runs x {events_per_chain} events = {events} events "
          f"(best of {args.runs}; {spooled_count} events left in the spool, never sent)")  # fmt: skip
    print(f"  chain alone                               {bare:8.1f} us per event's share of the chain")
    print(f"  + callbacks and event building            {mapping_us:8.1f} us/event")
    print(f"  + Avro encode and spool append            {spool_us:8.1f} us/event")
    print(f"  = handler total                           {handler_us:8.1f} us/event "
          f"({handler_us / bare:.2f}x the chain's own cost)")  # fmt: skip
    print(f"  raw: fastavro encode, same events         {encode_us:8.1f} us/event")
    print(f"  raw: append of the encoded bytes to a file{append_us:8.1f} us/event")
    print(f"  spool step / (raw encode + raw append):   {spool_us / (encode_us + append_us):.2f}x")
    print(f"handler_us_per_event: {handler_us:.1f} chain_us_per_event: {bare:.1f} "
          f"spool_us_per_event: {spool_us:.1f} raw_encode_append_us: {encode_us + append_us:.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
