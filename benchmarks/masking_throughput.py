"""What masking costs the stream: the same batch step with masking on (full detector set) and off, in one run.

Usage: .venv/bin/python benchmarks/masking_throughput.py [--events N]
Builds N agent events of about 1 KB (prompts, tool arguments, SQL, JSON responses; one in five carries an
email, a card number, a token or a connection-string password), then on one core measures:
  - this machine's raw limits for the same bytes: hashlib SHA-256, fastavro encode and decode;
  - the masking engine alone (mask_event with every detector on);
  - the stream's pure batch step (decode, validate, admit, sequence, hash, chain, encode, checkpoint)
    with masking on, and with masking off (the admission step skips only mask_event);
and prints the share of the stream's time that masking takes. Its last line is machine-readable.
No servers are needed: this is the stream's own work, without Kafka.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fastavro  # noqa: E402

from ledger.signed_note import NoteSigner  # noqa: E402
from producers.event_json import event_from_json  # noqa: E402
from schemas import SchemaStore  # noqa: E402
from stream.admission import Admitted, EventAdmission, identity_datum  # noqa: E402
from stream.masking.engine import mask_event  # noqa: E402
from stream.sequencer import LedgerSequencer, RawEvent  # noqa: E402
from stream.shard_chain import ShardChain  # noqa: E402
from tests.ledger_path import admission, dead_letters  # noqa: E402

PROMPTS = (
    "You are a support assistant for an online shop. The customer asks why their order has not arrived "
    "yet and whether they can change the delivery address. Look up the order, check the carrier status, "
    "and answer politely in two or three sentences. If the parcel is lost, offer a replacement.",
    "Summarise the refunds issued last quarter for the EMEA region, grouped by reason, and point out any "
    "reason whose share grew by more than five percentage points compared with the quarter before.",
    "Write a SQL query that lists the ten customers with the most open tickets this week, with their "
    "account manager, and explain in one sentence how the query handles customers without a manager.",
)
SECRETS = (
    "ana.lopez@example.org",
    "4111 1111 1111 1111",
    "postgres://app:S3cr3tPassw0rd!x@db.internal:5432/shop",
    "Bearer abcDEF0123456789ghiJKL.mnoPQR",
    "sk-proj-Zq8vR2mT5xW9yB3nK7pL1cF4",
)


def agent_event(rnd: random.Random, i: int, start: datetime) -> dict[str, Any]:
    prompt = rnd.choice(PROMPTS)
    secret = rnd.choice(SECRETS) if i % 5 == 0 else None
    if secret:
        prompt += f" Context from the ticket: {secret} (as pasted by the user)."
    rows = [{"order_id": 100000 + rnd.randrange(900000), "status": rnd.choice(("shipped", "pending", "lost")),
             "carrier": rnd.choice(("DHL", "UPS", "PostNL")), "updated_at": f"2026-11-{rnd.randint(1, 23):02d}"}
            for _ in range(3)]  # fmt: skip
    return event_from_json({
        "event_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)), "tenant": "acme",
        "occurred_at": (start + timedelta(milliseconds=i)).isoformat(),
        "actor": {"subject": f"agent-{i % 7}", "kind": "agent", "groups": ["support"]},
        "action": {"type": "tool.call", "name": "order_lookup"}, "target": {"kind": "tool", "name": "orders"},
        "payload": {"prompt": prompt, "parameters": {"temperature": 0.2, "max_tokens": 512, "model": "gpt-4o-mini"},
                    "tool_arguments": {"customer_id": rnd.randrange(10**6), "include_history": True},
                    "query": "SELECT order_id, status, carrier, updated_at FROM orders WHERE customer_id = %s "
                             "ORDER BY updated_at DESC LIMIT 3",
                    "response": {"rows": rows}},
        "source": {"service": "support-copilot", "host": "worker-2"},
        "correlation": {"session_id": f"sess-{i % 24}", "run_id": str(uuid.UUID(int=rnd.getrandbits(128)))},
    })  # fmt: skip


class WithoutMasking(EventAdmission):
    """The same admission step with mask_event skipped: the baseline masking is measured against."""

    def admit(self, event: dict[str, Any], received_at: datetime) -> Admitted:
        verdict = self._verify(event, received_at)
        nothing_masked = {"policy_digest": self.policy.digest, "items": []}
        alerts = self._identity_alerts(event, verdict)
        return Admitted({**event, "credential": None}, identity_datum(verdict), nothing_masked, alerts)


def best_of(runs: int, work) -> float:
    """Shortest wall time of `runs` runs (least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - t)
    return best


def step_arguments(description: str) -> argparse.Namespace:
    """The options every stream-step benchmark takes: how many events, how many runs."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3, help="repeat each measurement, keep the fastest")
    return parser.parse_args()


def agent_events(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` agent events (AuditEvent datums) of about 1 KB, the same for the same seed."""
    rnd = random.Random(seed)
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    return [agent_event(rnd, i, start) for i in range(count)]


def main() -> int:
    args = step_arguments(__doc__ or "")
    store = SchemaStore()
    datums = agent_events(args.events, seed=5)
    encoded = [store.encode("AuditEvent", d) for d in datums]
    n = len(encoded)
    size = sum(map(len, encoded)) / n
    json_size = sum(len(json.dumps(d, default=str)) for d in datums[:1000]) / min(n, 1000)
    schema = store.schema("AuditEvent").parsed
    signer = NoteSigner.generate("bench/log")

    sha = best_of(args.runs, lambda: [hashlib.sha256(b"\x00" + b).digest() for b in encoded])
    enc = best_of(args.runs, lambda: [fastavro.schemaless_writer(io.BytesIO(), schema, d) for d in datums])
    dec = best_of(args.runs, lambda: [fastavro.schemaless_reader(io.BytesIO(b[10:]), schema, None) for b in encoded])
    gate = admission()
    plan = gate.plan(datums[0])
    engine = best_of(args.runs, lambda: [mask_event(d, plan) for d in datums])
    touched = sum(1 for d in datums if mask_event(d, plan).manifest)

    def stream_step(gate: EventAdmission) -> float:
        def work() -> None:
            sequencer = LedgerSequencer(store, lambda s: ShardChain(shard=s), "bench/log", "audit.events",
                                        signers=lambda now: [signer], admission=gate,
                                        dead_letters=dead_letters(store, gate))  # fmt: skip
            raws = [RawEvent(i % 6, i // 6, b) for i, b in enumerate(encoded)]
            for i in range(0, n, 1000):
                sequencer.process(raws[i : i + 1000], idle=False)

        return best_of(args.runs, work)

    masked = stream_step(gate)
    unmasked = stream_step(admission(kind=WithoutMasking))
    share = (masked - unmasked) / masked

    print(f"events: {n}, {size:.0f} bytes Avro ({json_size:.0f} bytes as JSON) each; {touched} had something masked")
    print("raw limits of this machine, one core, same events:")
    print(f"  hashlib SHA-256 of the Avro bytes     {n / sha:>12,.0f} /s")
    print(f"  fastavro encode                       {n / enc:>12,.0f} /s")
    print(f"  fastavro decode                       {n / dec:>12,.0f} /s")
    print("ours, one core:")
    print(f"  masking engine alone (15 detectors)   {n / engine:>12,.0f} /s   {engine / n * 1e6:6.1f} us/event")
    print(f"  stream step, masking on               {n / masked:>12,.0f} /s   {masked / n * 1e6:6.1f} us/event")
    print(f"  stream step, masking off              {n / unmasked:>12,.0f} /s   {unmasked / n * 1e6:6.1f} us/event")
    print(f"  masking's share of the stream step    {share:>12.1%}   (goal: under 50%)")
    print(f"  stream step with masking / fastavro decode: {dec / masked:.2f}x")
    print(f"masking_events_per_s: {n / masked:.0f} unmasked_events_per_s: {n / unmasked:.0f} "
          f"masking_share: {share:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
