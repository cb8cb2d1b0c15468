"""Where a spool's delivery stands, as Kafka committed it: the record that makes spool delivery exactly once.

The spool's own cursor (producers/spool.py) is written after Kafka confirms, so a process that dies in between
would send the same events again. In exactly-once delivery (producers/background_delivery.py) each batch of
events goes to audit.events in one Kafka transaction together with a cursor record on `audit.spool.cursors`
(key = the spool's id, value = the index after the batch). The two commit or abort together, and the stream
reads audit.events read_committed; so after a crash the committed cursor says exactly which spooled events
are in the log, and a restarted delivery resumes from there: nothing lost, nothing doubled.

The cursor topic is compacted and has one partition: a restart reads it to its end. A spool's identity is a
random id and a random key written once into the spool directory (0600): the spool, not the host or the
process, is what holds the events. Every emitter may write the cursor topic, so a cursor record carries an
HMAC under the spool's key, and a restart takes the highest `next` among its spool's authentic records: a
forged cursor is ignored (it could otherwise make a spool skip events), and an old one replayed cannot move
a spool back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from stream.partition_reader import PartitionReadError, messages_to_end

DEFAULT_CURSOR_TOPIC = "audit.spool.cursors"
ID_FILE = "spool-identity.json"
TRANSACTIONAL_PREFIX = "auditledger-spool-"

log = logging.getLogger(__name__)


class DeliveryCursorError(RuntimeError):
    """The committed cursor cannot be read or does not fit this spool; delivery must not guess."""


@dataclass(frozen=True)
class SpoolIdentity:
    id: str
    key: bytes = field(repr=False)

    def mac(self, next_index: int) -> str:
        return hmac.new(self.key, f"{self.id}:{next_index}".encode(), hashlib.sha256).hexdigest()


def spool_identity(directory: Path) -> SpoolIdentity:
    """The spool's identity, created on first use (atomically: two openers agree; readable by the owner only)."""
    path = directory / ID_FILE
    if not path.exists():
        tmp = directory / f"{ID_FILE}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"id": str(uuid.uuid4()), "key": secrets.token_hex(32)}, f)
        try:
            os.link(tmp, path)  # fails if another opener won; then theirs is the identity
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SpoolIdentity(str(data["id"]), bytes.fromhex(data["key"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise DeliveryCursorError(f"audit spool {directory}: unreadable {ID_FILE}") from exc


def transactional_id(spool: SpoolIdentity) -> str:
    """One transactional id per spool: a restarted delivery fences and aborts whatever its predecessor left open."""
    return f"{TRANSACTIONAL_PREFIX}{spool.id}"


def cursor_record(spool: SpoolIdentity, next_index: int) -> tuple[bytes, bytes]:
    """(key, value) of the cursor record: every spooled index below `next_index` is in the log or set aside."""
    value = {"spool": spool.id, "next": next_index, "mac": spool.mac(next_index)}
    return spool.id.encode(), json.dumps(value).encode()


def authentic_next(value: bytes, spool: SpoolIdentity) -> int | None:
    """The `next` of a cursor record if it is this spool's and its HMAC holds, else None."""
    try:
        data = json.loads(value)
        next_index = int(data["next"])
        mac = str(data["mac"])
    except (ValueError, KeyError, TypeError):
        return None
    if data.get("spool") != spool.id or not hmac.compare_digest(mac, spool.mac(next_index)):
        return None
    return next_index


def committed_cursor(consumer: Consumer, topic: str, spool: SpoolIdentity, timeout_s: float) -> int:
    """The highest authentic committed `next` of this spool (0 if it never committed).

    Call after init_transactions, which resolves this spool's own open transaction: every cursor it
    committed then lies below the high watermark read here. Other spools' transactions may stay open above
    the stable offset for a moment; the read waits for them, up to `timeout_s`, but never past that mark."""
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=timeout_s, cached=False)
    if high <= low:
        return 0
    found = 0
    try:
        for msg in messages_to_end(consumer, topic, 0, low, timeout_s, end=high):
            if msg.key() != spool.id.encode() or msg.value() is None:
                continue
            next_index = authentic_next(msg.value(), spool)
            if next_index is None:
                log.error("%s offset %d: a cursor record for spool %s that this spool did not write; ignored",
                          topic, msg.offset(), spool.id)  # fmt: skip
            else:
                found = max(found, next_index)
    except PartitionReadError as exc:
        raise DeliveryCursorError(str(exc)) from exc
    finally:
        consumer.unassign()
    return found
