"""Failpoints: named spots in the stream where a test can hold the worker still, to SIGKILL it exactly there.

Off unless `AUDITLEDGER_FAILPOINTS` is set, e.g.

    AUDITLEDGER_FAILPOINTS="checkpoint_signed:pause_ms=3000,batch_before_commit:pause_ms=3000"
    AUDITLEDGER_FAILPOINT_MARKER=/tmp/run/failpoints.log

At an enabled point the worker appends `<name> <pid> pause` to the marker file, sleeps `pause_ms`, then
appends `<name> <pid> resume`. That is all a failpoint can do: it only delays, so it can never change an
output (what is signed, sequenced or committed). A test waits for a `pause` line and kills the pid while it
sleeps; no `resume` line for that pid proves the kill landed inside the window.

Points: `checkpoint_signed` (a shard's checkpoint has just been signed, its batch not yet produced or
committed); `batch_before_commit` (a batch's records are produced inside the open transaction, not committed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_POINTS = "AUDITLEDGER_FAILPOINTS"
ENV_MARKER = "AUDITLEDGER_FAILPOINT_MARKER"
POINTS = frozenset({"checkpoint_signed", "batch_before_commit"})


class FailpointConfigError(ValueError):
    """AUDITLEDGER_FAILPOINTS does not parse, or names a point that does not exist."""


@dataclass(frozen=True)
class Failpoints:
    pauses_s: Mapping[str, float]
    marker: Path | None = None

    @classmethod
    def parse(cls, spec: str, marker: str = "") -> Failpoints:
        """`name:pause_ms=N` entries separated by commas; an empty spec enables nothing."""
        pauses: dict[str, float] = {}
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            name, _, option = entry.partition(":")
            key, _, value = option.partition("=")
            if name not in POINTS:
                raise FailpointConfigError(f"unknown failpoint {name!r}, want one of {sorted(POINTS)}")
            if key != "pause_ms" or not value.isdigit():
                raise FailpointConfigError(f"failpoint {name!r}: got {option!r}, want pause_ms=<integer>")
            pauses[name] = int(value) / 1000
        return cls(pauses, Path(marker) if marker else None)

    def hit(self, name: str) -> None:
        """Pause at `name` if it is enabled (after noting it in the marker file); otherwise do nothing."""
        pause = self.pauses_s.get(name)
        if pause is None:
            return
        self._note(f"{name} {os.getpid()} pause")
        time.sleep(pause)
        self._note(f"{name} {os.getpid()} resume")

    def _note(self, line: str) -> None:
        if self.marker is not None:
            with open(self.marker, "a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()


def from_environment(environ: Mapping[str, str] = os.environ) -> Failpoints:
    return Failpoints.parse(environ.get(ENV_POINTS, ""), environ.get(ENV_MARKER, ""))


OFF = Failpoints({})
