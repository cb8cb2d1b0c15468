"""False positives: ordinary fields with no secrets (tests/masking/fp_corpus.py) must almost never be touched.

Each corpus field is put where an event would carry it (a prompt in payload.prompt, SQL in
payload.query, JSON tool arguments in payload.tool_arguments, a log line in outcome.error, code and
answers in payload.response) and masked with every detector on. The rate of fields touched must stay
under 1%; the test prints the rate and each touched field (category, index, detector) for the record:
run `pytest -s tests/masking/test_false_positives.py` to see it.
"""

from __future__ import annotations

from typing import Any

from stream.masking.engine import mask_event
from stream.masking.plan import DETECTOR_NAMES, DetectorSetting, MaskingPlan
from tests.masking.fp_corpus import CORPUS

SLOT = {
    "prompt": ("payload", "prompt"),
    "response": ("payload", "response"),
    "python": ("payload", "response"),
    "javascript": ("payload", "response"),
    "go": ("payload", "response"),
    "cpp": ("payload", "response"),
    "sql": ("payload", "query"),
    "json": ("payload", "tool_arguments"),
    "log": ("outcome", "error"),
    "hard": ("payload", "prompt"),
}
PLAN = MaskingPlan(
    tenant="acme",
    detectors={name: DetectorSetting("redact") for name in DETECTOR_NAMES},
    hash_key=b"k" * 32,
    hash_key_id="mk-test",
)


def event_with(category: str, text: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "0b6c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3",
        "tenant": "acme",
        "occurred_at": 1714566645000000,
        "actor": {"subject": "agent-7", "issuer": None, "groups": [], "kind": "agent"},
        "action": {"type": "llm.request", "name": "assistant"},
        "target": {"kind": None, "name": None},
        "payload": {
            "prompt": None,
            "parameters": None,
            "tool_arguments": None,
            "query": None,
            "response": None,
            "attributes": {},
        },
        "outcome": {"status": "success", "error": None},
        "source": {"service": "agent-runtime", "host": None, "ip": None},
        "correlation": {
            "session_id": "s-1",
            "run_id": None,
            "parent_run_id": None,
            "graph_node": None,
            "trace_id": None,
        },
    }
    record, field = SLOT[category]
    event[record][field] = text
    return event


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 600
    assert {category for category, _ in CORPUS} == set(SLOT)


def test_false_positive_rate_is_under_one_percent() -> None:
    touched: list[str] = []
    for index, (category, text) in enumerate(CORPUS):
        masked = mask_event(event_with(category, text), PLAN)
        if masked.fields_touched:
            kinds = sorted({item.rule.removeprefix("detector:") for item in masked.manifest})
            touched.append(f"  #{index} {category}: {', '.join(kinds)}")
    rate = len(touched) / len(CORPUS)
    print(f"\nfalse positives: {len(touched)} of {len(CORPUS)} fields touched ({rate:.2%})")
    print("\n".join(touched))
    assert rate < 0.01, "\n".join(touched)
