"""The handler with the broker stopped: the chain keeps running, its events wait in the disk spool, and once
the broker is back every event is in audit.events exactly once, in order, and then in ClickHouse.

Stopping the broker is disruptive, so this module has a stack of its own (the session's `stack` stays
untouched for the other stack tests). The stream worker and the ledger process are not restarted by the
test: they must ride out the broker's absence themselves."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from auditledger.config import Settings
from auditledger.stack.local_stack import LocalStack
from examples import langchain_agent
from ledger.clickhouse_client import store_client
from producers.background_delivery import BackgroundDelivery
from producers.langchain_audit import AuditCallbackHandler
from schemas import SchemaStore
from tests.identity.token_factory import TokenFactory
from tests.stack.conftest import stack_of_its_own, topic_bytes, wait_for
from tests.stack.langchain_stack import RecordingDelivery, session_rows, stored_counts, verify_ok

pytestmark = pytest.mark.stack

HANG_LIMIT_S = 60  # not a speed target: a handler that waited on Kafka would never return while it is down


@dataclass
class Outage:
    """What happened around one broker outage: the events of the run before it and of the run during it."""

    stack: LocalStack
    settings: Settings
    before_ids: list[str]
    during_ids: list[str]
    during_session: str


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, idp: TokenFactory) -> Iterator[LocalStack]:
    with stack_of_its_own(tmp_path_factory, idp, "outage-stack") as local:
        yield local


def run_in_thread(target) -> object:
    """Run `target` and return its result, or fail if it does not return (it would be blocked on Kafka)."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(target()), daemon=True)
    thread.start()
    thread.join(HANG_LIMIT_S)
    assert not thread.is_alive(), "the chain did not finish while the broker was down"
    assert result, "the chain raised while the broker was down"
    return result[0]


@pytest.fixture(scope="module")
def outage(own_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Outage:
    settings = own_stack.settings
    work = tmp_path_factory.mktemp("outage")
    inner = BackgroundDelivery(settings.kafka_bootstrap, work / "spool", topic=settings.topics.events)
    delivery = RecordingDelivery(inner)
    handler = AuditCallbackHandler(
        delivery, tenant="acme", actor_subject="ana@acme.example", source_service="spool-stack-test"
    )
    langchain_agent.run(handler, work / "tickets.db")  # the broker is up: delivered as usual
    inner.flush(120)
    before_ids = list(delivery.event_ids)

    assert own_stack.stop_broker()
    try:
        during = run_in_thread(lambda: langchain_agent.run(handler, work / "tickets.db"))
        during_ids = delivery.event_ids[len(before_ids) :]
        assert len(during_ids) == 8
        assert inner.pending() == len(during_ids)  # all of them wait in the spool: none lost, none sent
        assert sorted((work / "spool" / "segments").glob("*.seg"))
    finally:
        own_stack.start_broker()
    inner.flush(300)
    inner.close()
    assert inner.rejected == []
    assert not sorted((work / "spool" / "segments").glob("*.seg"))  # drained: acknowledged segments are deleted
    return Outage(own_stack, settings, before_ids, during_ids, during.session_id)  # type: ignore[attr-defined]


def test_every_event_reaches_kafka_once_and_in_order_after_the_outage(outage: Outage) -> None:
    store = SchemaStore()
    events = [store.decode(value) for value in topic_bytes(outage.settings, outage.settings.topics.events)]
    counts = Counter(str(e["event_id"]) for e in events)
    wanted = outage.before_ids + outage.during_ids
    assert {event_id: counts[event_id] for event_id in wanted} == dict.fromkeys(wanted, 1)  # none lost, none doubled
    session = [str(e["event_id"]) for e in events if e["correlation"]["session_id"] == outage.during_session]
    assert session == outage.during_ids  # one session is one partition: in the order it happened


def test_every_event_is_in_the_ledger_once_after_the_outage(outage: Outage) -> None:
    processes = outage.stack.status()["processes"]
    assert processes["stream"]["running"], "the stream worker died while the broker was away"
    assert processes["ledger"]["running"], "the ledger process died while the broker was away"
    ch = store_client(outage.settings)
    ids = outage.before_ids + outage.during_ids
    wait_for(lambda: len(stored_counts(ch, ids)) == len(ids), 120, f"{len(ids)} events in ClickHouse")
    assert stored_counts(ch, ids) == dict.fromkeys(ids, 1)
    assert [r["event_id"] for r in session_rows(ch, outage.during_session)] == outage.during_ids
    verify_ok(outage.settings, ch)
