"""Failpoints are off unless configured, refuse what they do not understand, and only ever delay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from stream import failpoints
from stream.failpoints import ENV_MARKER, ENV_POINTS, FailpointConfigError, Failpoints, from_environment


def test_off_without_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(failpoints.time, "sleep", slept.append)
    points = from_environment({})
    points.hit("checkpoint_signed")
    assert points.pauses_s == {} and slept == []


def test_an_enabled_point_notes_pause_and_resume_around_its_sleep(tmp_path: Path) -> None:
    marker = tmp_path / "marks"
    points = from_environment({ENV_POINTS: "checkpoint_signed:pause_ms=120", ENV_MARKER: str(marker)})
    started = time.monotonic()
    points.hit("batch_before_commit")  # not enabled: no pause, no note
    assert not marker.exists()
    points.hit("checkpoint_signed")
    assert time.monotonic() - started >= 0.12
    pid = os.getpid()
    assert marker.read_text().splitlines() == [f"checkpoint_signed {pid} pause", f"checkpoint_signed {pid} resume"]


@pytest.mark.parametrize("spec", ["no_such_point:pause_ms=1", "checkpoint_signed:pause_ms=soon",
                                  "checkpoint_signed", "checkpoint_signed:drop=1"])  # fmt: skip
def test_a_spec_that_does_not_parse_is_refused(spec: str) -> None:
    with pytest.raises(FailpointConfigError):
        Failpoints.parse(spec)
