"""Helpers for the LangChain handler's stack tests: a delivery that remembers what it was given, a session's
ledger rows in ledger order, and `auditledger verify` run as an auditor would."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from auditledger import demo
from auditledger.config import Settings
from producers.background_delivery import BackgroundDelivery

ROW_COLUMNS = (
    "event_id",
    "tenant",
    "actor_subject",
    "actor_kind",
    "action_type",
    "action_name",
    "target_kind",
    "prompt",
    "parameters",
    "tool_arguments",
    "query",
    "response",
    "attributes",
    "outcome_status",
    "outcome_error",
    "session_id",
    "run_id",
    "parent_run_id",
    "graph_node",
    "trace_id",
    "masked",
)


@dataclass
class RecordingDelivery:
    """Passes every datum to the real delivery and keeps its event id and action type, in submit order."""

    inner: BackgroundDelivery
    submitted: list[tuple[str, str]] = field(default_factory=list)

    def submit(self, datum: Mapping[str, Any]) -> str:
        event_id = self.inner.submit(datum)
        self.submitted.append((event_id, datum["action"]["type"]))
        return event_id

    @property
    def event_ids(self) -> list[str]:
        return [event_id for event_id, _ in self.submitted]


def session_rows(ch: Any, session_id: str) -> list[dict[str, Any]]:
    """The session's ledger records in ledger order (one session is one Kafka key, so one shard)."""
    columns = ", ".join(f"toString({c})" if c == "event_id" else c for c in ROW_COLUMNS)
    result = ch.query(
        f"SELECT {columns} FROM ledger_records WHERE session_id = {{s:String}} ORDER BY shard, seq",
        parameters={"s": session_id},
    )
    return [dict(zip(ROW_COLUMNS, row, strict=True)) for row in result.result_rows]


def stored_counts(ch: Any, event_ids: list[str]) -> dict[str, int]:
    rows = ch.query(
        "SELECT toString(event_id), count() FROM ledger_records WHERE event_id IN {ids:Array(UUID)} GROUP BY event_id",
        parameters={"ids": sorted(set(event_ids))},
    ).result_rows
    return {event_id: int(n) for event_id, n in rows}


def replay_json(settings: Settings, session_id: str) -> list[dict[str, Any]]:
    """`auditledger replay SESSION_ID --json`, as an auditor runs it: one object per record."""
    proc = subprocess.run(
        [sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), "replay", session_id, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def verify_ok(settings: Settings, ch: Any) -> dict[str, Any]:
    """Run `auditledger verify --json` once every shard's tail is anchored; returns its report."""
    assert demo.wait_anchored(ch, 60), "a shard's tail stayed without a checkpoint for 60 s"
    proc = subprocess.run(
        [sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), "verify", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report.get("problems", [])[:5]
    assert report["ok"] is True
    return report
