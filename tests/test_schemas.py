"""Avro single-object framing and schema evolution between reader and writer versions."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib import resources

import pytest

from producers.demo_session import demo_events
from producers.event_json import event_from_json
from schemas import DecodeError, FramingError, SchemaStore, UnknownSchemaError
from schemas.store import load_project_schemas, schema_from_json


def _v2_definition() -> dict:
    v1 = json.loads(resources.files("schemas").joinpath("AuditEvent.avsc").read_text())
    v2 = copy.deepcopy(v1)
    v2["fields"].append({"name": "risk_score", "type": ["null", "double"], "default": None})
    return v2


def _event() -> dict:
    return event_from_json(next(demo_events(1)))


def test_message_starts_with_marker_and_writer_fingerprint(store: SchemaStore) -> None:
    message = store.encode("AuditEvent", _event())
    assert message[:2] == b"\xc3\x01"
    assert message[2:10] == store.schema("AuditEvent").fingerprint
    # CRC-64-AVRO of the canonical form '"int"' is 0x7275d51a3f395c8f (Avro spec), little-endian in the frame
    assert schema_from_json('"int"').fingerprint == bytes.fromhex("8f5c393f1ad57572")


def test_round_trip_keeps_every_field(store: SchemaStore) -> None:
    event = _event()
    decoded = store.decode(store.encode("AuditEvent", event))
    assert str(decoded["event_id"]) == event["event_id"]
    assert decoded["occurred_at"] == event["occurred_at"]
    assert decoded["payload"] == event["payload"]
    assert decoded["correlation"] == event["correlation"]


def test_v1_reader_reads_v2_event_with_added_optional_field() -> None:
    v2 = schema_from_json(_v2_definition())
    writer = SchemaStore({"AuditEvent": v2})
    event = dict(_event(), risk_score=0.93)
    message = writer.encode("AuditEvent", event)
    reader = SchemaStore()  # knows v1 as its reader schema, v2 as another writer version
    reader.add(v2)
    decoded = reader.decode(message, reader="AuditEvent")
    assert "risk_score" not in decoded
    assert decoded["actor"]["subject"] == event["actor"]["subject"]


def test_v2_reader_reads_v1_event_and_fills_the_default() -> None:
    v1_store = SchemaStore()
    message = v1_store.encode("AuditEvent", _event())
    v2 = schema_from_json(_v2_definition())
    reader = SchemaStore({**load_project_schemas(), "AuditEvent": v2})
    reader.add(v1_store.schema("AuditEvent"))
    decoded = reader.decode(message, reader="AuditEvent")
    assert decoded["risk_score"] is None
    assert decoded["tenant"] == "acme"


def test_unknown_writer_fingerprint_is_named(store: SchemaStore) -> None:
    message = bytearray(store.encode("AuditEvent", _event()))
    message[2] ^= 0xFF
    with pytest.raises(UnknownSchemaError, match="fingerprint"):
        store.decode(bytes(message))


@pytest.mark.parametrize("data", [b"", b"\xc3", b'{"json": true}', b"\xc3\x02" + bytes(20)])
def test_not_single_object_is_a_framing_error(store: SchemaStore, data: bytes) -> None:
    with pytest.raises(FramingError):
        store.decode(data)


def test_truncated_body_is_a_decode_error(store: SchemaStore) -> None:
    message = store.encode("AuditEvent", _event())
    with pytest.raises(DecodeError):
        store.decode(message[:-40])
    with pytest.raises(DecodeError, match="trailing"):
        store.decode(message + b"\x00")


def test_timestamps_keep_microseconds(store: SchemaStore) -> None:
    event = _event()
    event["occurred_at"] = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert store.decode(store.encode("AuditEvent", event))["occurred_at"].microsecond == 678901
