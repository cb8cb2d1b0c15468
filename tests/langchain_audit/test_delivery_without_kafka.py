"""The handler over BackgroundDelivery with no broker reachable: chains never wait, events wait in the spool,
a full spool is reported loudly (and stops the chain when fail_closed), refused events are set aside."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda

from producers.background_delivery import BackgroundDelivery, DeliveryPending, frame, unframe
from producers.spool import DiskSpool, SpoolFullError
from schemas import SchemaStore
from tests.langchain_audit.capture import CapturingDelivery, make_handler

SECRET_PROMPT = "my password is hunter2-do-not-log"
HANG_LIMIT_S = 30  # not a speed target: a handler that waited on Kafka would not return at all


def unreachable_bootstrap() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens there


def small_agent() -> RunnableLambda:
    model = FakeMessagesListChatModel(responses=[AIMessage("done")])

    def agent(question: str, config: RunnableConfig) -> str:
        return str(model.invoke(question, config).content)

    return RunnableLambda(agent, name="agent")


def run_with_limit(fn) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_LIMIT_S)
    assert not thread.is_alive(), "the chain blocked on delivery"
    if errors:
        raise errors[0]


def test_chain_completes_without_kafka_and_its_events_wait_in_the_spool(tmp_path: Path) -> None:
    delivery = BackgroundDelivery(unreachable_bootstrap(), tmp_path / "spool")
    seen = CapturingDelivery()

    class Both:
        def submit(self, datum):
            seen.submit(datum)
            return delivery.submit(datum)

    run_with_limit(lambda: small_agent().invoke("q", {"callbacks": [make_handler(Both())]}))
    assert delivery.pending() == 4
    with pytest.raises(DeliveryPending, match="4 audit event"):
        delivery.flush(0.5)
    delivery.close(timeout_s=0.5)

    spooled = DiskSpool(tmp_path / "spool").read(100)
    store = SchemaStore()
    decoded = [unframe(record) for _, record in spooled]
    assert [event_id for event_id, _, _ in decoded] == [e["event_id"] for e in seen.events]
    assert {key for _, key, _ in decoded} == {seen.events[0]["correlation"]["session_id"].encode()}
    assert [store.decode(value)["action"]["type"] for _, _, value in decoded] == seen.kinds()


def test_full_spool_is_reported_and_the_chain_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    errors: list[tuple[str, str]] = []
    delivery = BackgroundDelivery(unreachable_bootstrap(), tmp_path / "spool", max_bytes=1500)
    handler = make_handler(delivery, on_delivery_error=lambda event_id, reason: errors.append((event_id, reason)))
    with caplog.at_level(logging.ERROR, logger="producers.langchain_audit"):
        run_with_limit(lambda: small_agent().invoke(SECRET_PROMPT, {"callbacks": [handler]}))
    spooled = delivery.pending()
    assert 0 < spooled < 4 and len(errors) == 4 - spooled
    assert all("is full" in reason and str(tmp_path / "spool") in reason and "1500" in reason for _, reason in errors)
    logged = [r.getMessage() for r in caplog.records if r.name == "producers.langchain_audit"]
    assert len(logged) == len(errors) and all(event_id in m for (event_id, _), m in zip(errors, logged, strict=True))
    assert not any(SECRET_PROMPT in m for m in logged)
    delivery.close(timeout_s=0.2)
    assert DiskSpool(tmp_path / "spool", max_bytes=1500).pending() == spooled  # what was spooled is kept


def test_full_spool_stops_the_chain_when_fail_closed(tmp_path: Path) -> None:
    delivery = BackgroundDelivery(unreachable_bootstrap(), tmp_path / "spool", max_bytes=600)
    handler = make_handler(delivery, fail_closed=True)
    ran: list[str] = []

    def agent(question: str, config: RunnableConfig) -> str:
        ran.append(question)
        return question

    with pytest.raises(SpoolFullError):
        run_with_limit(lambda: RunnableLambda(agent).invoke("x" * 700, {"callbacks": [handler]}))
    assert ran == []  # the chain.start event did not fit, so the chain never ran
    delivery.close(timeout_s=0.2)


def test_refused_event_is_set_aside_reported_and_does_not_block_the_queue(tmp_path: Path) -> None:
    errors: list[tuple[str, str]] = []
    delivery = BackgroundDelivery(
        unreachable_bootstrap(),
        tmp_path / "spool",
        extra_config={"message.max.bytes": 2000},
        on_delivery_error=lambda event_id, reason: errors.append((event_id, reason)),
        exactly_once=False,  # with no broker, transactions never start (the exactly-once case: tests/stack)
    )
    capture = CapturingDelivery()
    handler = make_handler(capture)
    RunnableLambda(lambda x: "ok", name="big").invoke("y" * 5000, {"callbacks": [handler]})
    big, small = capture.events
    delivery.submit(big)
    delivery.submit(small)
    rejected_json = tmp_path / "spool" / "rejected" / f"{0:020d}.json"
    for _ in range(200):
        if delivery.rejected:
            break
        time.sleep(0.05)
    assert [r.event_id for r in delivery.rejected] == [big["event_id"]]
    assert errors and errors[0][0] == big["event_id"] and "too large" in errors[0][1].lower()
    note = json.loads(rejected_json.read_text())
    assert note["event_id"] == big["event_id"] and "y" * 50 not in json.dumps(note)
    assert (tmp_path / "spool" / "rejected" / f"{0:020d}.avro").read_bytes().startswith(b"\xc3\x01")
    assert delivery.pending() == 1  # the small one still waits for the broker
    delivery.close(timeout_s=0.2)


def test_frame_round_trip() -> None:
    assert unframe(frame("e-1", b"sess-9", b"\x00value")) == ("e-1", b"sess-9", b"\x00value")


class RefusingDelivery:
    """A delivery whose encoder fails the way fastavro does: its message quotes the value it refused."""

    def submit(self, datum) -> str:
        raise ValueError(f"{datum['payload']['prompt']!r} (type <class 'str'>) do not match ['null', 'int']")


def test_an_encoding_failure_is_reported_by_type_never_with_the_event_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[tuple[str, str]] = []
    handler = make_handler(
        RefusingDelivery(), on_delivery_error=lambda event_id, reason: errors.append((event_id, reason))
    )
    with caplog.at_level(logging.ERROR, logger="producers.langchain_audit"):
        run_with_limit(lambda: small_agent().invoke(SECRET_PROMPT, {"callbacks": [handler]}))
    assert errors and all(reason == "ValueError" for _, reason in errors)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "ValueError" in logged and "hunter2" not in logged
