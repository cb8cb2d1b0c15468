"""A shard's tree head as the body of a C2SP tlog-checkpoint.

Body lines, each ending in "\\n":
    1. origin        the log's name: "<log origin>/shard/<n>"
    2. tree size     decimal, no leading zeros
    3. root hash     standard base64 of the 32-byte RFC 6962 root
    4. time <t>      extension line: when the head was signed, RFC 3339 UTC with microseconds
The time line is signed with the rest, so a verifier can reject signatures a key made after it was revoked.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.merkle import HASH_SIZE

TIME_PREFIX = "time "
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")


class MalformedTreeHeadError(Exception):
    """A checkpoint body that is not a tree head this log writes (may be tampering)."""


def shard_origin(log_origin: str, shard: int) -> str:
    return f"{log_origin}/shard/{shard}"


@dataclass(frozen=True)
class TreeHead:
    origin: str
    tree_size: int
    root_hash: bytes
    signed_at: datetime

    def body(self) -> str:
        stamp = self.signed_at.astimezone(UTC).strftime(TIME_FORMAT)
        return f"{self.origin}\n{self.tree_size}\n{base64.b64encode(self.root_hash).decode()}\n{TIME_PREFIX}{stamp}\n"

    @classmethod
    def parse(cls, body: str) -> TreeHead:
        lines = body.split("\n")
        if len(lines) != 5 or lines[-1] != "":
            raise MalformedTreeHeadError(f"tree head has {len(lines) - 1} lines, want 4 (origin, size, root, time)")
        origin, size, root, stamp = lines[:4]
        if not origin or not origin.isprintable():
            raise MalformedTreeHeadError("tree head origin is empty or not printable")
        if not _SIZE.fullmatch(size):
            raise MalformedTreeHeadError(f"tree size {size[:30]!r} is not a decimal number")
        try:
            root_hash = base64.b64decode(root.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise MalformedTreeHeadError("root hash is not standard base64") from exc
        if len(root_hash) != HASH_SIZE or base64.b64encode(root_hash).decode() != root:
            raise MalformedTreeHeadError(f"root hash is {len(root_hash)} bytes, want {HASH_SIZE} (canonical base64)")
        if not stamp.startswith(TIME_PREFIX):
            raise MalformedTreeHeadError("fourth line is not 'time <RFC 3339>'")
        try:
            signed_at = datetime.strptime(stamp[len(TIME_PREFIX) :], TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError as exc:
            raise MalformedTreeHeadError(f"time {stamp[5:40]!r} is not RFC 3339 UTC with microseconds") from exc
        return cls(origin, int(size), root_hash, signed_at)
