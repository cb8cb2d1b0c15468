"""The ledger writer's supervision: Kafka errors rebuild the writer, anything else ends the worker."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaError, KafkaException

from stream.writer_supervisor import supervise


class ScriptedWriter:
    """Runs one step of a script: raise the given error, or stop the loop and return."""

    def __init__(self, outcome: BaseException | None, stop: threading.Event, runs: list[str]) -> None:
        self.outcome, self.stop, self.runs = outcome, stop, runs

    def run(self, stop: threading.Event) -> None:
        self.runs.append(type(self.outcome).__name__ if self.outcome else "ran")
        if self.outcome is not None:
            raise self.outcome
        self.stop.set()


def scripted(outcomes: list[BaseException | None]):
    stop = threading.Event()
    runs: list[str] = []
    pending = list(outcomes)
    return stop, runs, lambda: ScriptedWriter(pending.pop(0), stop, runs)


def fenced() -> KafkaException:
    return KafkaException(KafkaError(KafkaError._FATAL, "static consumer fenced", fatal=True))


def test_a_fatal_kafka_error_rebuilds_the_writer_until_one_runs_to_the_stop() -> None:
    stop, runs, make = scripted([fenced(), KafkaException(KafkaError(KafkaError._TIMED_OUT)), None])
    assert supervise(make, stop, first_backoff_s=0.01) == 2
    assert runs == ["KafkaException", "KafkaException", "ran"]


def test_an_error_that_is_not_kafka_ends_the_worker_instead_of_being_retried() -> None:
    stop, runs, make = scripted([fenced(), ValueError("bad policy")])
    with pytest.raises(ValueError, match="bad policy"):
        supervise(make, stop, first_backoff_s=0.01)
    assert runs == ["KafkaException", "ValueError"]


def test_a_stop_during_the_backoff_ends_without_another_writer() -> None:
    stop, runs, make = scripted([fenced(), None])
    threading.Timer(0.05, stop.set).start()
    assert supervise(make, stop, first_backoff_s=5.0) == 1
    assert runs == ["KafkaException"]


class StuckWriter:
    """Blocks in its run as a Kafka call did after a broker restart, and says it is stalled."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.own_stop: threading.Event | None = None

    def run(self, stop: threading.Event) -> None:
        self.own_stop = stop
        self.release.wait(10)

    def stalled(self) -> bool:
        return True


def test_a_writer_stuck_past_its_call_timeout_is_abandoned_and_rebuilt() -> None:
    stop, runs, make_scripted = scripted([None])
    stuck = StuckWriter()
    writers = [stuck]
    assert supervise(lambda: writers.pop() if writers else make_scripted(), stop, first_backoff_s=0.01) == 1
    assert runs == ["ran"]  # the next writer ran to the stop
    assert stuck.own_stop is not None and stuck.own_stop.is_set()  # were it to return, it would end at once
    stuck.release.set()
