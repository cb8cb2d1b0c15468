"""The broker stopped and started again under plain AuditEmitters, and a disk spool filled while it is away.

What holds (and is asserted):
- an AuditEmitter keeps accepting events while the broker is away; librdkafka retries each one for up to
  `message.timeout.ms`. Back within that: every event is delivered, once (idempotent producer).
- away longer than that: `flush` raises DeliveryError naming exactly the events that timed out, so the
  caller knows what to resend; resent, they are in the ledger once (a timed-out event was never written).
- a spooling emitter (AuditEmitter(spool_dir=...) and BackgroundDelivery) at its bound raises SpoolFullError
  to the caller, naming the directory and the limit; what it had spooled is delivered once the broker is
  back, and what it refused is not in the ledger.

A stack of its own, since stopping the broker would disturb every other test. The stream worker and the
ledger process ride the outages out themselves. Bounded: two outages of ~10-30 s each, plus the stack's start.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditledger.stack.local_stack import LocalStack
from ledger.clickhouse_client import store_client
from producers.background_delivery import BackgroundDelivery
from producers.demo_session import demo_events
from producers.emitter import AuditEmitter, DeliveryError
from producers.event_json import event_from_json
from producers.spool import SpoolFullError
from tests.identity.token_factory import TokenFactory
from tests.stack.conftest import stack_of_its_own, wait_for
from tests.stack.test_end_to_end import counts_by_event, run_verify, wait_anchored

pytestmark = pytest.mark.stack

PATIENT_MS, IMPATIENT_MS = 180_000, 4_000  # longer than any outage here / shorter than every outage here
SPOOL_LIMIT = 32 * 1024  # a few dozen events


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, idp: TokenFactory) -> Iterator[LocalStack]:
    with stack_of_its_own(tmp_path_factory, idp, "broker-outage-stack") as local:
        yield local


def _stored_once(stack: LocalStack, ids: list[str], absent: list[str] = ()) -> None:
    """Wait until every one of `ids` is in ClickHouse; then each is there once, none of `absent` is, verify passes."""
    ch = store_client(stack.settings)
    wait_for(lambda: len(counts_by_event(ch, ids)) == len(ids), 240, f"{len(ids)} events in the ledger")
    wait_anchored(ch)
    assert counts_by_event(ch, ids) == dict.fromkeys(ids, 1)
    assert counts_by_event(ch, list(absent)) == {}
    code, report = run_verify(stack.settings)
    assert code == 0, report["problems"][:5]


def test_plain_emitter_rides_out_an_outage_within_its_timeout_and_reports_a_longer_one(own_stack) -> None:
    settings = own_stack.settings
    events = iter(demo_events(400, sessions=6, seed=41))
    topic = settings.topics.events
    patient = AuditEmitter(settings.kafka_bootstrap, topic=topic, extra_config={"message.timeout.ms": PATIENT_MS})
    impatient = AuditEmitter(settings.kafka_bootstrap, topic=topic, extra_config={"message.timeout.ms": IMPATIENT_MS})
    before = [patient.emit(next(events)) for _ in range(50)]
    assert len(patient.flush(60)) == len(before)

    assert own_stack.stop_broker()
    try:
        during = [patient.emit(next(events)) for _ in range(50)]
        timed_out_events = [next(events) for _ in range(30)]
        for e in timed_out_events:
            impatient.emit(e)
        with pytest.raises(DeliveryError) as refused:  # loud, and names exactly what did not make it
            impatient.flush(60)
        assert sorted(eid for eid, _ in refused.value.failures) == sorted(e["event_id"] for e in timed_out_events)
        during += [patient.emit(next(events)) for _ in range(50)]  # still accepted, still retried
    finally:
        own_stack.start_broker()
    assert sorted(d.event_id for d in patient.flush(PATIENT_MS / 1000)) == sorted(during)
    resent = [patient.emit(e) for e in timed_out_events]  # the caller's part: resend what was reported
    after = [patient.emit(next(events)) for _ in range(50)]
    assert len(patient.flush(60)) == len(resent) + len(after)
    _stored_once(own_stack, before + during + resent + after)


def _fill(submit, events: Iterator[dict]) -> tuple[list[str], str, SpoolFullError]:
    """Submit events until the spool refuses one: the ids it took, the id it refused, and the error."""
    accepted: list[str] = []
    for _ in range(10_000):
        event = next(events)
        try:
            accepted.append(submit(event))
        except SpoolFullError as full:
            return accepted, event["event_id"], full
    raise AssertionError("the spool never filled up")


def test_a_full_spool_is_reported_to_the_caller_and_keeps_what_it_spooled(own_stack, tmp_path: Path) -> None:
    settings = own_stack.settings
    events = demo_events(2000, sessions=6, seed=43)
    emitter_dir, delivery_dir = tmp_path / "emitter-spool", tmp_path / "delivery-spool"
    assert own_stack.stop_broker()
    try:
        emitter = AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events, spool_dir=emitter_dir,
                               spool_max_bytes=SPOOL_LIMIT)  # fmt: skip
        delivery = BackgroundDelivery(settings.kafka_bootstrap, delivery_dir, topic=settings.topics.events,
                                      max_bytes=SPOOL_LIMIT)  # fmt: skip
        spooled, refused = [], []
        for submit, directory in ((emitter.emit, emitter_dir), (lambda e: delivery.submit(event_from_json(e)),
                                                                delivery_dir)):  # fmt: skip
            accepted, refused_id, full = _fill(submit, events)
            assert accepted, "nothing fitted in the spool"
            assert full.directory == directory and full.max_bytes == SPOOL_LIMIT
            assert str(directory) in str(full) and str(SPOOL_LIMIT) in str(full)
            again = next(events)
            with pytest.raises(SpoolFullError):  # still full: refused again, nothing spooled is dropped for it
                submit(again)
            spooled += accepted
            refused += [refused_id, again["event_id"]]
        assert delivery.pending() + emitter.pending() == len(spooled)  # all kept, none sent
    finally:
        own_stack.start_broker()
    emitter.flush(180)
    delivery.flush(180)
    emitter.close()
    delivery.close()
    assert delivery.rejected == []
    _stored_once(own_stack, spooled, absent=refused)
