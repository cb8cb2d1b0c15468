"""Content detectors: find secrets and personal data in a string and say which part is sensitive.

One detector per name in `plan.DETECTOR_NAMES`. Each is a function `(text, lower, shape, out)` that
appends a `Finding` per hit to `out`; `lower` is `text.lower()` and `shape` is `shape_of(text)`, both
computed once per text (see `_scanner`). A finding carries two spans: the whole match (used to
choose between overlapping findings) and the sensitive part (what gets replaced): for `url_password`
only the password, for `bearer_token` only the token, for a labelled AWS secret or bare SSN only the
value.

Checksums are validated where they exist (Luhn and issuer prefix for cards, mod-97 and the country's
length for IBANs, area/group/serial rules for SSNs, octet ranges for IPv4, the stdlib parser for
IPv6), and every detector starts with a cheap test (`'@' in text`, a literal prefix, a digit) so
that a text with nothing of the kind costs little. Every repeat is bounded or consumed once, so a
scan is linear in the text even for hostile input.

Choices made to keep false positives low, beyond the checksums:
- phone: only `+` numbers (8-15 digits) and the North-American forms (area code and exchange 2-9);
  never a bare run of digits.
- ipv4: not glued to a word or to more dotted numbers (`10.0.19041.1`, `v1.2.3.4`).
- ipv6: at least 3 groups or an IPv4 tail (`std::vector`, `a::b`, `fe80::1` and `12:30:45` are not
  addresses), and not part of a longer colon-separated sequence (certificate fingerprints).
- email: a "top-level domain" that is a file extension (`icon@2x.png`) is not an address, nor is the
  `user@` of a URL.
- openai_key and bearer_token: the token must look random (a digit, or mixed case); a bearer token
  at least 12 characters, a `Basic` value must decode to `user:password`.
- url_password: `password=` / `pwd=` / `passwd=` values up to `;`, `&`, whitespace or a quote, or a
  whole quoted value; `password=DB_PASSWORD)` (a keyword argument in code) is skipped.
- us_ssn: a bare 9-digit number only right after an `ssn` / `social security` label.

Use `scanner(kinds)` to get a function `scan(text) -> list[Finding]` for a set of detector names: its
findings are sorted by position and never overlap (see `resolve`). Replacement markers written by
`actions` (`[REDACTED:...]`, `[PARTIAL:...]`, `[HASH:...]`, `[WITHHELD:...]`) are never reported, so
masking an already-masked text changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import NamedTuple

from stream.masking.plan import DETECTOR_NAMES


class Finding(NamedTuple):
    """One hit: `start`/`end` delimit the sensitive part, `match_start`/`match_end` the whole match."""

    start: int
    end: int
    kind: str
    match_start: int
    match_end: int


Detector = Callable[[str, str, bytes, list[Finding]], None]

# Overlap tie-break after position and length: lower wins (the more specific detector).
PRIORITY: dict[str, int] = {
    name: rank
    for rank, name in enumerate(
        (
            "pem_private_key",
            "jwt",
            "url_password",
            "aws_access_key",
            "github_token",
            "slack_token",
            "openai_key",
            "bearer_token",
            "email",
            "payment_card",
            "iban",
            "us_ssn",
            "phone",
            "ipv6",
            "ipv4",
        )
    )
}

# The markers `actions` writes; a value that is one of them is never reported again.
PLACEHOLDER = re.compile(r"\[(?:REDACTED|PARTIAL|HASH|WITHHELD):[A-Za-z0-9_.:*\-]*\]")
_PLACEHOLDER_START = ("[REDACTED:", "[PARTIAL:", "[HASH:", "[WITHHELD:")

_DIGITS = frozenset("0123456789")
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_B64URL = _ALNUM | {"-", "_"}


def _is_placeholder(value: str) -> bool:
    return value.startswith(_PLACEHOLDER_START)


# --------------------------------------------------------------------------------------------- checksums


_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(digits: str) -> bool:
    """True when a string of digits passes the Luhn check."""
    total = sum(map(int, digits[-1::-2]))
    total += sum(_LUHN_DOUBLE[int(c)] for c in digits[-2::-2])
    return total % 10 == 0


def card_issuer(digits: str) -> str | None:
    """The card brand a 13-19 digit number belongs to by prefix and length, or None."""
    n = len(digits)
    if not 13 <= n <= 19:
        return None
    d1 = digits[0]
    p2 = int(digits[:2])
    p3 = int(digits[:3])
    p4 = int(digits[:4])
    if d1 == "4":
        return "visa" if n in (13, 16, 19) else None
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return "mastercard" if n == 16 else None
    if p2 in (34, 37):
        return "amex" if n == 15 else None
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65:
        return "discover" if n >= 16 else None
    if 3528 <= p4 <= 3589:
        return "jcb" if n >= 16 else None
    if 300 <= p3 <= 305 or p2 in (36, 38):
        return "diners" if n >= 14 else None
    if p2 == 62:
        return "unionpay" if n >= 16 else None
    if p2 == 50 or 56 <= p2 <= 69:
        return "maestro"
    return None


# IBAN length by country (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban_valid(compact: str) -> bool:
    """True for an upper-case IBAN without spaces whose length fits its country and whose mod-97 is 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(c if c.isdigit() else str(ord(c) - 55) for c in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def ssn_valid(area: str, group: str, serial: str) -> bool:
    a = int(area)
    return a != 0 and a != 666 and a < 900 and group != "00" and serial != "0000"


# --------------------------------------------------------------------------------------------- detectors
# Patterns that would start with a boundary look-behind instead start with the first character and
# check the boundary with a two-character look-behind, so that the regex engine can skip ahead to
# candidate characters quickly.

_EMAIL_LOCAL_REVERSED = re.compile(r"[A-Za-z0-9._%+\-]+")
_EMAIL_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![A-Za-z0-9\-]|\.[A-Za-z0-9])"
)
# Top-level "domains" that are really file extensions (icon@2x.png, bundle@1.2.js).
_NOT_TLDS = frozenset(
    "png jpg jpeg gif svg webp bmp ico css scss js mjs cjs ts tsx jsx json yaml yml toml lock txt log csv tsv "
    "html htm xml pdf gz tgz tar whl jar py rb go rs java kt swift c cc cpp h hpp o so dll exe bin dat db "
    "sqlite ipynb md".split()
)


def _url_userinfo(text: str, start: int) -> bool:
    """The local part starting at `start` is a URL's `user@` or `user:password@`, not an address."""
    if start == 0 or text[start - 1] not in ":/":
        return False
    token_start = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1
    return "://" in text[token_start:start]


def _find_email(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    at = text.find("@")
    while at != -1:
        nxt = text.find("@", at + 1)
        if at > 0 and text[at - 1] in _EMAIL_LOCAL_CHARS:
            window = text[max(0, at - 256) : at][::-1]
            local = _EMAIL_LOCAL_REVERSED.match(window)
            dom = _EMAIL_DOMAIN.match(text, at + 1) if local else None
            if dom and dom.group(1).lower() not in _NOT_TLDS:
                start = at - local.end()
                while text[start] == ".":
                    start += 1
                if start < at and text[at - 1] != "." and not _url_userinfo(text, start):
                    out.append(Finding(start, dom.end(), "email", start, dom.end()))
        at = nxt


# The digit detectors search a "shape" of the text: one byte per character, every ASCII digit as
# '0', lower-case letters as 'a', upper-case as 'A', other ASCII as itself, anything else as '?'.
# Patterns over it start with several literal bytes ("0000", "AA00", "0.0"), which the regex engine
# finds far faster than a character class; candidates are then checked against the text itself.
_SHAPE_TABLE = bytes.maketrans(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", b"0" * 10 + b"a" * 26 + b"A" * 26
)
_WORDISH = frozenset(b"aA0_")


def shape_of(text: str) -> bytes:
    return text.encode("ascii", "replace").translate(_SHAPE_TABLE)


def _bounded_left(shape: bytes, start: int, also: bytes = b"") -> bool:
    """The character before `start` is not part of a word (nor one of `also`)."""
    return start == 0 or (shape[start - 1] not in _WORDISH and shape[start - 1] not in also)


_E164 = re.compile(r"\+(?<![\w+]\+)[1-9](?:[ .\-()]{0,2}\d){7,14}(?!\d|[.\-]\d)")
_NANP_DASHED = re.compile(rb"000(?:-000-|\.000\.)0000(?![aA0_]|[.\-]0)")
_NANP_PAREN = re.compile(rb"\(000\) ?000-0000(?![aA0_]|[.\-]0)")


def _nanp_ok(text: str, start: int, end: int) -> bool:
    """Area code and exchange both start with 2-9."""
    digits = [c for c in text[start:end] if c.isdigit()]
    return digits[0] not in "01" and digits[3] not in "01"


def _find_phone(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "+" in text:
        for m in _E164.finditer(text):
            out.append(Finding(m.start(), m.end(), "phone", m.start(), m.end()))
    if b"000" not in shape:
        return
    for pattern in (_NANP_DASHED, _NANP_PAREN):
        for m in pattern.finditer(shape):
            start, end = m.span()
            if not _nanp_ok(text, start, end):
                continue
            if start >= 2 and shape[start - 1] in b"-." and text[start - 2] == "1" and _bounded_left(shape, start - 2):
                start -= 2  # 1-800-555-0199
            elif pattern is _NANP_DASHED and not _bounded_left(shape, start, b".-+"):
                continue  # a parenthesised area code is bounded by its "(" (an ANSI colour code may touch it)
            out.append(Finding(start, end, "phone", start, end))


_CARD_RUN = re.compile(rb"0000000000000(?<![aA0_.+\-]0000000000000)0{0,6}(?![aA0_]|[.\-]0)")
_CARD_GROUPED = re.compile(rb"0000[ \-]000(?<![aA0_.+\-]0000[ \-]000)0{0,3}(?:[ \-]0{3,6}){1,3}(?![aA0_]|[.\-]0)")
_GROUP_SEP = re.compile(r"[ \-]")


def _find_card(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if b"0000" not in shape:
        return
    for m in _CARD_RUN.finditer(shape):
        digits = text[m.start() : m.end()]
        if card_issuer(digits) and luhn_valid(digits):
            out.append(Finding(m.start(), m.end(), "payment_card", m.start(), m.end()))
    if b"0000 " not in shape and b"0000-" not in shape:
        return
    pos = 0
    while (m := _CARD_GROUPED.search(shape, pos)) is not None:
        # The last groups may be a neighbouring number ("4111 1111 1111 1111 2024", or a second
        # card), so take the longest run of groups that is a valid card and go on after it.
        groups = _GROUP_SEP.split(text[m.start() : m.end()])
        pos = m.start() + 1
        for n in range(len(groups), 2, -1):
            digits = "".join(groups[:n])
            if card_issuer(digits) and luhn_valid(digits):
                end = m.start() + sum(len(g) for g in groups[:n]) + n - 1
                out.append(Finding(m.start(), end, "payment_card", m.start(), end))
                pos = end
                break


_SSN_SHAPE = re.compile(rb"000(?<![aA0_.\-]000)(?P<sep>[\- ])00(?P=sep)0000(?![aA0_]|[.\-]0)")
_SSN_LABELLED = re.compile(r"(?<![a-z])(?:ssn|social[ _\-]?security(?:[ _\-]?(?:number|num|no))?)\W{0,4}(\d{9})(?!\d)")


def _find_ssn(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if b"000-00-" in shape or b"000 00 " in shape:
        for m in _SSN_SHAPE.finditer(shape):
            start = m.start()
            if ssn_valid(text[start : start + 3], text[start + 4 : start + 6], text[start + 7 : start + 11]):
                out.append(Finding(start, m.end(), "us_ssn", start, m.end()))
    if "ssn" in lower or "social" in lower:
        for m in _SSN_LABELLED.finditer(lower):
            v = m.group(1)
            if ssn_valid(v[:3], v[3:5], v[5:]):
                out.append(Finding(m.start(1), m.end(1), "us_ssn", m.start(), m.end()))


_IBAN_SHAPE = re.compile(rb"AA00(?<![aA0_]AA00)(?: ?[A0]{4}){2,7}(?: ?[A0]{1,4})?(?![aA0_])")


def _find_iban(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if b"AA00" not in shape:
        return
    pos = 0
    while (m := _IBAN_SHAPE.search(shape, pos)) is not None:
        pos = m.start() + 1
        raw = text[m.start() : m.end()]
        length = IBAN_LENGTHS.get(raw[:2])
        if length is None:
            continue
        compact = raw.replace(" ", "")
        if len(compact) > length:
            # Grouped and followed by more groups (a word, another IBAN): cut at the country's length.
            seen = end = 0
            while seen < length:
                if raw[end] != " ":
                    seen += 1
                end += 1
            if end < len(raw) and raw[end] != " ":
                continue
            raw, compact = raw[:end], compact[:length]
        if iban_valid(compact):
            end = m.start() + len(raw)
            out.append(Finding(m.start(), end, "iban", m.start(), end))
            pos = end


_IPV4_SHAPE = re.compile(rb"0{1,3}\.0{1,3}\.0{1,3}\.0{1,3}(?![aA0_]|\.0)")


def _find_ipv4(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    seed = shape.find(b"0.0")
    while seed != -1:
        start = seed
        while start > 0 and seed - start < 2 and shape[start - 1] == 48:  # '0'
            start -= 1
        m = _IPV4_SHAPE.match(shape, start) if _bounded_left(shape, start, b".") else None
        if m is not None and all(int(part) <= 255 for part in text[start : m.end()].split(".")):
            out.append(Finding(start, m.end(), "ipv4", start, m.end()))
            seed = shape.find(b"0.0", m.end())
        else:
            seed = shape.find(b"0.0", seed + 1)


_IPV6_SEED = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6_MAX_LENGTH = 45
_IPV6_BODY = re.compile(r"[0-9A-Fa-f:]*:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f:]+")


def _ipv6_at(text: str, s: int, e: int) -> tuple[int, int] | None:
    """The longest IPv6 address in text[s:e] (a run of hex digits, colons and maybe an IPv4 tail) that
    starts at the run's start or after one of its colons, ends at its end or before a colon, is not
    glued to a word, and has at least 3 groups or an IPv4 tail."""
    run = text[s:e]
    if s and (text[s - 1] in _ALNUM or text[s - 1] == "_"):
        run = run[run.find(":") :]  # the first group is the end of a word ("the:2001:db8::1")
    if e < len(text) and (text[e] in _ALNUM or text[e] == "_"):
        run = run[: run.rfind(":") + 1]  # the last group is the start of a word
    colons = run.count(":") - (run[:1] == ":" and run[:2] != "::") - (run[-1:] == ":" and run[-2:] != "::")
    if colons > 8 or ("::" not in run and colons < 6):
        # Too many groups: a longer colon-separated sequence (a certificate fingerprint, a MAC list);
        # too few: a time such as 12:30:45.
        return None
    colons = [i for i in range(s, e) if text[i] == ":"]
    starts = [s] + [c + 1 for c in colons if c + 1 < e]
    ends = [e] + [c for c in colons if c > s]
    spans = sorted(
        ((a, b) for a in starts for b in ends if MIN_LENGTH <= b - a <= _IPV6_MAX_LENGTH), key=lambda ab: ab[0] - ab[1]
    )
    for a, b in spans:
        candidate = text[a:b]
        n_colons = candidate.count(":")
        tail = "." in candidate
        if "::" not in candidate and n_colons != (6 if tail else 7):
            continue
        if a and (text[a - 1] in _ALNUM or text[a - 1] in "_."):
            continue
        after = text[b : b + 2]
        if after and (after[0] in _ALNUM or after[0] == "_" or (after[0] == "." and after[1:].isdigit())):
            continue
        if not tail and sum(1 for g in candidate.split(":") if g) < 3:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        return a, b
    return None


def _find_ipv6(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if ":" not in text:
        return
    pos = 0
    while (seed := _IPV6_SEED.search(text, pos)) is not None:
        start = seed.start()
        floor = max(0, start - 40)
        while start > floor and text[start - 1] in _HEX_COLON:
            start -= 1
        end = _IPV6_BODY.match(text, start).end()
        pos = max(end, seed.end() - 1)
        span = _ipv6_at(text, start, end)
        if span is not None:
            out.append(Finding(span[0], span[1], "ipv6", span[0], span[1]))


_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{2,}\.eyJ[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]*")


def _find_jwt(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "eyJ" not in text:
        return
    for m in _JWT.finditer(text):
        out.append(Finding(m.start(), m.end(), "jwt", m.start(), m.end()))


_PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----")


def _find_pem(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "-----BEGIN " not in text:
        return
    pos = 0
    while True:
        m = _PEM_BEGIN.search(text, pos)
        if m is None:
            return
        footer = f"-----END {m.group(1)}-----"
        end = text.find(footer, m.end())
        end = len(text) if end == -1 else end + len(footer)
        out.append(Finding(m.start(), end, "pem_private_key", m.start(), end))
        pos = end


_AWS_KEY_ID = re.compile(
    r"A(?<![A-Za-z0-9]A)(?:KIA|SIA|ROA|IDA|GPA|IPA|NPA|NVA|PKA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])"
)
_AWS_SECRET = re.compile(
    r"(?:(?:aws[_\-. ]?)?secret[_\-. ]?access[_\-. ]?key(?:[_\-. ]?id)?|aws[_\-. ]?secret[_\-. ]?key)"
    r"[\"']?\s{0,3}[:=]{1,2}>?\s{0,3}[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
)


def _find_aws(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "A" in text:
        for m in _AWS_KEY_ID.finditer(text):
            out.append(Finding(m.start(), m.end(), "aws_access_key", m.start(), m.end()))
    if "secret" in lower:
        for m in _AWS_SECRET.finditer(lower):
            out.append(Finding(m.start(1), m.end(1), "aws_access_key", m.start(), m.end()))


_GITHUB = re.compile(r"gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}")


def _find_github(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "gh" not in text and "github_pat_" not in text:
        return
    for m in _GITHUB.finditer(text):
        out.append(Finding(m.start(), m.end(), "github_token", m.start(), m.end()))


_SLACK_TOKEN = re.compile(r"xox[abprs]-[A-Za-z0-9\-]{10,}|xapp-\d-[A-Za-z0-9\-]{10,}")
_SLACK_HOOK = re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/\-]+)")


def _find_slack(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "xox" in text or "xapp-" in text:
        for m in _SLACK_TOKEN.finditer(text):
            out.append(Finding(m.start(), m.end(), "slack_token", m.start(), m.end()))
    if "hooks.slack.com/" in text:
        for m in _SLACK_HOOK.finditer(text):
            out.append(Finding(m.start(1), m.end(1), "slack_token", m.start(), m.end()))


_OPENAI = re.compile(r"sk-(?<![A-Za-z0-9_\-]sk-)[A-Za-z0-9_\-]{20,}")


def _mixed(token: str) -> bool:
    """A random-looking token: a digit, or both upper and lower case letters beyond a capital initial."""
    if any(c in _DIGITS for c in token):
        return True
    return any(c.islower() for c in token) and sum(1 for c in token[1:] if c.isupper()) >= 2


def _find_openai(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "sk-" not in text:
        return
    for m in _OPENAI.finditer(text):
        if _mixed(m.group()[3:]):
            out.append(Finding(m.start(), m.end(), "openai_key", m.start(), m.end()))


# The separator may also be an escaped tab or space as a repr or a log line writes it ("Bearer\\tTOKEN").
_AUTH_SCHEME = re.compile(r"(?<![a-z0-9_\-])(bearer|basic)(?:[ \t]|\\t|%20)+([A-Za-z0-9\-._~+/]+=*)")


def _basic_credentials(token: str) -> bool:
    if len(token) < 8:
        return False
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _find_bearer(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "bearer" not in lower and "basic" not in lower:
        return
    for m in _AUTH_SCHEME.finditer(lower):
        start, end = m.span(2)
        token = text[start:end]
        ok = _basic_credentials(token) if m.group(1) == "basic" else len(token) >= 12 and _mixed(token)
        if ok:
            out.append(Finding(start, end, "bearer_token", m.start(), end))


# Bounded repeats: an unbounded password group would make a long run of "://a:b" quadratic.
_URL_USERINFO = re.compile(r"://([^\s:/?#@'\"<>\[\]]{0,256}):([^\s/?#'\"<>]{1,256})@(?=[A-Za-z0-9\[])")
_KV_PASSWORD = re.compile(r"(?:password|passwd|pwd)[\"']?=(?:([\"'])([^\"'\r\n]{1,200}?)\1|([^;&\s'\"<>]+))")
# `password=DB_PASSWORD)` or `password=self.pw,` is a keyword argument in code, not a password.
_CODE_ARGUMENT = re.compile(r"[A-Za-z_][A-Za-z_.]*(?:\(\))?[),]+")


def _find_url_password(text: str, lower: str, shape: bytes, out: list[Finding]) -> None:
    if "://" in text and "@" in text:
        for m in _URL_USERINFO.finditer(text):
            password = m.group(2)
            if not _is_placeholder(password):
                out.append(Finding(m.start(2), m.end(2), "url_password", m.start(), m.end()))
    if "pass" in lower or "pwd" in lower:
        for m in _KV_PASSWORD.finditer(lower):
            group = 2 if m.group(2) is not None else 3
            start, end = m.span(group)
            value = text[start:end]
            if _is_placeholder(value) or (group == 3 and _CODE_ARGUMENT.fullmatch(value)):
                continue
            out.append(Finding(start, end, "url_password", m.start(), end))


DETECTORS: dict[str, Detector] = {
    "email": _find_email,
    "phone": _find_phone,
    "payment_card": _find_card,
    "us_ssn": _find_ssn,
    "iban": _find_iban,
    "ipv4": _find_ipv4,
    "ipv6": _find_ipv6,
    "jwt": _find_jwt,
    "pem_private_key": _find_pem,
    "aws_access_key": _find_aws,
    "github_token": _find_github,
    "slack_token": _find_slack,
    "openai_key": _find_openai,
    "bearer_token": _find_bearer,
    "url_password": _find_url_password,
}
assert set(DETECTORS) == set(DETECTOR_NAMES)  # noqa: S101 - a module invariant

# Detectors that search `lower` (case-insensitive labels and keywords).
_NEEDS_LOWER = frozenset({"us_ssn", "aws_access_key", "bearer_token", "url_password"})
# Detectors whose every match contains a digit.
_NEEDS_DIGIT = frozenset({"phone", "payment_card", "us_ssn", "iban", "ipv4"})
# No detector can match in fewer characters than this (a@b.co, 1.1.1.1, 1:2::3).
MIN_LENGTH = 6


# --------------------------------------------------------------------------------------------- resolving


def resolve(findings: list[Finding]) -> list[Finding]:
    """Non-overlapping findings sorted by position.

    Among findings whose sensitive parts overlap, one is kept: the one whose whole match starts
    earliest, then the longer match, then the more specific detector (PRIORITY). Its sensitive span
    is widened to cover the others', so that nothing any detector found is left in the clear.
    """
    if len(findings) < 2:
        return findings
    ranked = sorted(findings, key=lambda f: (f.match_start, f.match_start - f.match_end, PRIORITY[f.kind]))
    rank = {id(f): i for i, f in enumerate(ranked)}
    by_span = sorted(findings, key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    best_rank: list[int] = []
    for f in by_span:
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            keep = f if rank[id(f)] < best_rank[-1] else last
            merged[-1] = Finding(last.start, max(last.end, f.end), keep.kind, keep.match_start, keep.match_end)
            best_rank[-1] = min(best_rank[-1], rank[id(f)])
        else:
            merged.append(f)
            best_rank.append(rank[id(f)])
    return merged


Scanner = Callable[[str], list[Finding]]


def _lower(text: str) -> str:
    """`text.lower()` with the same length, so that spans found in it are spans of `text`."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


@lru_cache(maxsize=256)
def _scanner(kinds: frozenset[str]) -> Scanner:
    ordered = [name for name in DETECTOR_NAMES if name in kinds]
    always = tuple(DETECTORS[n] for n in ordered if n not in _NEEDS_DIGIT)
    digit_fns = tuple(DETECTORS[n] for n in ordered if n in _NEEDS_DIGIT)
    needs_lower = any(n in _NEEDS_LOWER for n in ordered)

    def scan(text: str) -> list[Finding]:
        if len(text) < MIN_LENGTH:
            return []
        out: list[Finding] = []
        lower = _lower(text) if needs_lower else text
        for fn in always:
            fn(text, lower, b"", out)
        if digit_fns:
            shape = shape_of(text)
            if b"0" in shape:
                for fn in digit_fns:
                    fn(text, lower, shape, out)
        if len(out) > 1:
            return resolve(out)
        return out

    return scan


def scanner(kinds: Iterable[str]) -> Scanner:
    """A function finding every enabled kind in a text; unknown names raise ValueError."""
    wanted = frozenset(kinds)
    unknown = wanted - set(DETECTOR_NAMES)
    if unknown:
        raise ValueError(f"unknown detector(s): {', '.join(sorted(unknown))}")
    return _scanner(wanted)


def detect(text: str, kinds: Iterable[str] = DETECTOR_NAMES) -> list[Finding]:
    """Every finding of the given kinds in `text`, sorted by position, non-overlapping."""
    return scanner(kinds)(text)
