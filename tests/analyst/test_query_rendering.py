"""`auditledger query` output: aligned tables with cut cells, JSON lines, CSV; and the CLI's options and exit codes."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime

import pytest

from auditledger.cli import build_parser, main
from ledger.query_cli import render_csv, render_jsonl, render_table, scrubbed

COLUMNS = ("occurred_at", "event_id", "prompt", "masked", "attributes")
ROWS = [
    (datetime(2026, 11, 23, 9, 0, 1, 5), uuid.UUID(int=1), "short", [], {}),
    (datetime(2026, 11, 23, 9, 0, 2, tzinfo=UTC), uuid.UUID(int=2), "line one\nline two, \"quoted\" " + "x" * 60,
     [{"path": "payload.prompt", "rule": "detector:email", "action": "hash", "count": 1}], {"k": "v"}),
]  # fmt: skip


def test_table_aligns_columns_and_cuts_long_cells() -> None:
    lines = render_table(COLUMNS, ROWS, max_width=20).splitlines()
    assert lines[0].split() == list(COLUMNS)
    starts = [lines[0].index(c) for c in COLUMNS[1:]]
    assert all(line[s - 2 : s] == "  " for line in lines[1:] for s in starts)  # every column starts at its header
    assert "2026-11-23T09:00:01.000005Z" in lines[1]
    cell = lines[2][lines[0].index("prompt") : lines[0].index("masked")].rstrip()
    assert len(cell) == 20 and cell.endswith("…") and cell.startswith("line one⏎line two")
    assert render_table(COLUMNS, ROWS, max_width=0).count("x" * 60) == 1  # 0 = never cut


def test_jsonl_is_one_object_per_row_with_plain_values() -> None:
    docs = [json.loads(line) for line in render_jsonl(COLUMNS, ROWS).splitlines()]
    assert len(docs) == 2 and list(docs[1]) == list(COLUMNS)
    assert docs[1]["occurred_at"] == "2026-11-23T09:00:02.000000Z" and docs[1]["event_id"] == str(uuid.UUID(int=2))
    assert docs[1]["masked"][0]["rule"] == "detector:email" and docs[1]["prompt"] == ROWS[1][2]


def test_csv_has_a_header_and_round_trips_quotes_and_newlines() -> None:
    parsed = list(csv.reader(io.StringIO(render_csv(COLUMNS, ROWS))))
    assert parsed[0] == list(COLUMNS) and len(parsed) == 3
    assert parsed[2][2] == ROWS[1][2]
    assert json.loads(parsed[2][3]) == ROWS[1][3] and json.loads(parsed[2][4]) == {"k": "v"}


def test_errors_never_echo_the_values_asked_for() -> None:
    message = "Code: 6. DB::Exception: Cannot parse string 'ana@acme.example' as UInt64\nStack trace: ..."
    assert scrubbed(message, ["ana@acme.example", 100]) == "Code: 6. DB::Exception: Cannot parse string '…' as UInt64"


@pytest.mark.parametrize("command", ["query", "replay"])
def test_help_explains_every_option(command) -> None:
    sub = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command").choices[command]
    text = sub.format_help()
    for action in sub._actions:
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
    assert "Exit codes" in text and "Examples" in text


def test_bad_filters_exit_2_before_touching_the_store(capsys, tmp_path) -> None:
    assert main(["--home", str(tmp_path), "query", "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["--home", str(tmp_path), "query", "--columns", "entry"]) == 2


def test_no_store_is_exit_2(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("AUDITLEDGER_CLICKHOUSE_URL", raising=False)
    assert main(["--home", str(tmp_path), "query", "--tenant", "acme"]) == 2
    assert main(["--home", str(tmp_path), "replay", "sess-1"]) == 2
    assert main(["--home", str(tmp_path), "replay", "sess-1", "--to-topic", "audit.events"]) == 2
    assert "audit.events is one of auditledger's own topics" in capsys.readouterr().err
