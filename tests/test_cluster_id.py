"""The local broker's cluster id never starts with "-", which Kafka's storage tool would take for an option."""

from __future__ import annotations

import base64
import uuid

import pytest

from auditledger.stack import kafka_broker


def test_an_id_starting_with_a_dash_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    dashed, plain = uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x00" + bytes(15))
    assert base64.urlsafe_b64encode(dashed.bytes).startswith(b"-")
    drawn = iter([dashed, dashed, plain])
    monkeypatch.setattr(kafka_broker.uuid, "uuid4", lambda: next(drawn))
    cid = kafka_broker.new_cluster_id()
    assert cid == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=") and len(cid) == 22
    assert next(drawn, None) is None  # both dashed ids were refused


def test_ids_are_22_url_safe_characters_and_differ() -> None:
    ids = {kafka_broker.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(
        len(i) == 22
        and not i.startswith("-")
        and set(i) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for i in ids
    )
