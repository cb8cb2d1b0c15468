"""The handler with the broker stopped: the chain keeps running, its events wait in the disk spool, and once
the broker is back every event is in ClickHouse exactly once. The stream worker and the ledger process are
not restarted by the test: they must ride out the broker's absence themselves."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from auditledger.config import Settings
from auditledger.stack.local_stack import LocalStack
from examples import langchain_agent
from producers.background_delivery import BackgroundDelivery
from producers.langchain_audit import AuditCallbackHandler
from tests.stack.conftest import wait_for
from tests.stack.langchain_stack import RecordingDelivery, session_rows, stored_counts, verify_ok

pytestmark = pytest.mark.stack

HANG_LIMIT_S = 60  # not a speed target: a handler that waited on Kafka would never return while it is down


def run_in_thread(target) -> object:
    """Run `target` and return its result, or fail if it does not return (it would be blocked on Kafka)."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(target()), daemon=True)
    thread.start()
    thread.join(HANG_LIMIT_S)
    assert not thread.is_alive(), "the chain did not finish while the broker was down"
    assert result, "the chain raised while the broker was down"
    return result[0]


def test_chain_runs_with_broker_down_and_everything_arrives_once_after(
    stack: LocalStack, settings: Settings, ch, tmp_path: Path
) -> None:
    inner = BackgroundDelivery(settings.kafka_bootstrap, tmp_path / "spool", topic=settings.topics.events)
    delivery = RecordingDelivery(inner)
    handler = AuditCallbackHandler(
        delivery, tenant="acme", actor_subject="ana@acme.example", source_service="spool-stack-test"
    )
    before = langchain_agent.run(handler, tmp_path / "tickets.db")  # the broker is up: delivered as usual
    inner.flush(120)
    delivered_before = len(delivery.event_ids)

    assert stack.stop_broker()
    try:
        during = run_in_thread(lambda: langchain_agent.run(handler, tmp_path / "tickets.db"))
        during_ids = delivery.event_ids[delivered_before:]
        assert len(during_ids) == 8
        assert inner.pending() == len(during_ids)  # all of them wait in the spool, none was lost or sent
        assert sorted((tmp_path / "spool" / "segments").glob("*.seg"))
    finally:
        stack.start_broker()

    inner.flush(300)
    inner.close()
    assert inner.rejected == []
    processes = stack.status()["processes"]
    assert processes["stream"]["running"], "the stream worker died while the broker was away"
    assert processes["ledger"]["running"], "the ledger process died while the broker was away"

    ids = delivery.event_ids
    wait_for(lambda: len(stored_counts(ch, ids)) == len(ids), 300, f"{len(ids)} events in ClickHouse")
    counts = stored_counts(ch, ids)
    assert set(counts) == set(ids) and set(counts.values()) == {1}  # nothing lost, nothing doubled
    rows = session_rows(ch, during.session_id)  # type: ignore[attr-defined]
    assert [r["event_id"] for r in rows] == during_ids  # and in the order they happened
    assert before.session_id != during.session_id  # type: ignore[attr-defined]
    verify_ok(settings, ch)
