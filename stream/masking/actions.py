"""Turning a sensitive value into its replacement (pure; no I/O).

Replacements are ASCII and never themselves match a detector, so masking is idempotent:

    redact   [REDACTED:<kind>]
    partial  [PARTIAL:<kind>:****<tail>]        tail: at most `keep` and at most len(value)//4 of the
                                                value's last characters (letters and digits only)
    hash     [HASH:<kind>:<key_id>:<24 hex>]    first 12 bytes of HMAC-SHA-256(hash_key,
                                                kind + "\\0" + normalised value)
    drop     ""                                 (for a field rule the engine removes the field instead)

`<kind>` is the detector name, or `field` for a field rule. Normalisation makes equal values hash
equal: email lower-cased; payment_card, phone and us_ssn digits only; iban upper-case without
spaces; anything else unchanged. A hash with an empty key is a configuration error (ValueError).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from stream.masking.detectors import detect
from stream.masking.plan import MASK_ACTIONS

FIELD_KIND = "field"
HASH_HEX_CHARS = 24
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
_DIGITS_ONLY = re.compile(r"\D+")


def normalise(kind: str, value: str) -> str:
    """The form of a value that is hashed: equal values (by kind) give equal tokens."""
    if kind == "email":
        return value.strip().lower()
    if kind in ("payment_card", "phone", "us_ssn"):
        return _DIGITS_ONLY.sub("", value)
    if kind == "iban":
        return value.replace(" ", "").upper()
    return value


def hash_digest(kind: str, value: str, key: bytes) -> str:
    """24 hex characters: the first 12 bytes of HMAC-SHA-256(key, kind NUL normalised value)."""
    if not key:
        raise ValueError("hash action needs the tenant's hash key, and the plan has none (plan.hash_key is empty)")
    message = f"{kind}\0{normalise(kind, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()[: HASH_HEX_CHARS // 2].hex()


def check_key_id(key_id: str) -> None:
    if key_id and not KEY_ID_PATTERN.fullmatch(key_id):
        raise ValueError(
            f"bad hash key id {key_id!r}: want a letter or digit, then up to 63 letters, digits, '.', '_' or '-'"
        )


def hash_token(kind: str, value: str, key: bytes, key_id: str) -> str:
    check_key_id(key_id)
    return f"[HASH:{kind}:{key_id}:{hash_digest(kind, value, key)}]"


def redact_token(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def partial_token(kind: str, value: str, keep: int) -> str:
    """`[PARTIAL:<kind>:****<tail>]`; the tail is shortened until the marker matches no detector."""
    limit = max(0, min(keep, len(value) // 4))
    tail = ""
    for ch in reversed(value[len(value) - limit :] if limit else ""):
        if not (ch.isascii() and ch.isalnum()):
            break
        tail = ch + tail
    while True:
        token = f"[PARTIAL:{kind}:****{tail}]"
        if not tail or not detect(token):
            return token
        tail = tail[1:]


def replacement(kind: str, value: str, action: str, keep: int, key: bytes, key_id: str) -> str:
    """What replaces `value` inside text (drop: the empty string)."""
    if action == "redact":
        return redact_token(kind)
    if action == "hash":
        return hash_token(kind, value, key, key_id)
    if action == "partial":
        return partial_token(kind, value, keep)
    if action == "drop":
        return ""
    raise ValueError(f"unknown mask action {action!r}: want one of {', '.join(MASK_ACTIONS)}")


def withheld_token(limit: str) -> str:
    return f"[WITHHELD:{limit}]"
