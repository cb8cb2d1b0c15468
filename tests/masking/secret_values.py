"""Hypothesis strategies for secrets and personal data, for tests of the masking engine and beyond.

Importable from any test (`from tests.masking.secret_values import secret_values, events_with_secrets`):

- `secret_values(kinds=None)`: a `SecretValue(kind, text, sensitive)` for every detector kind in
  `plan.DETECTOR_NAMES` (or the given ones). `text` is what an agent might write (a card number grouped
  by spaces, a connection string, an `Authorization` value); `sensitive` is the part that must never
  appear in masked output: the password of a URL or connection string, the token after `Bearer`, the
  40 characters after an `aws_secret_access_key =` label, the 9 digits after an `SSN:` label, and the
  whole of `text` for everything else. Sensitive parts are long or random enough (passwords and tokens
  of at least 10 random characters) that they cannot appear anywhere else by chance.
- `events_with_secrets(kinds=None, max_secrets=5)`: `(event, secrets)` where `event` is a decoded
  AuditEvent datum (as `producers.event_json.event_from_json` makes it) with the secrets placed at
  random: in nested JSON objects and lists (as values, and sometimes as object keys; a card number
  sometimes as a JSON number) inside payload.parameters / tool_arguments / response, in payload.prompt,
  payload.query and outcome.error text, and in attribute values; with random text around them,
  always separated from the value by a boundary (whitespace, a newline or one of `,;:()"'`).
- `sensitive_leaks(masked_event, secrets)`: the secrets whose sensitive part still appears anywhere in
  a masked event: in its JSON serialisation, or in any string inside it, JSON text fields decoded.

Values are built from a seeded `random.Random` that hypothesis draws (one draw per value keeps
generation fast: the property test runs thousands of events); hypothesis shrinks the seed.

Every value is valid for its kind: Luhn-valid cards of several brands and groupings, IBANs of several
countries with computed check digits, SSNs outside the never-issued ranges, North-American phone
numbers with valid area codes and exchanges, and so on.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import string
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hypothesis import strategies as st

from stream.masking.plan import DETECTOR_NAMES


class SecretValue(NamedTuple):
    kind: str
    text: str
    sensitive: str


ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
B64URL = ALNUM + "-_"
BOUNDARIES = (" ", "\n", ",", ";", ":", "(", ")", '"', "'", "\t")
FILLER_WORDS = (
    "please", "check", "the", "value", "for", "customer", "record", "was", "sent", "to", "agent", "and",
    "then", "logged", "note", "see", "above", "result", "request", "reply", "with", "from", "ticket",
    "update", "status", "pending", "done", "contact", "details", "below", "okay", "thanks", "order",
)  # fmt: skip


def _seeds() -> st.SearchStrategy[random.Random]:
    return st.integers(0, 2**64 - 1).map(random.Random)


def _chars(rnd: random.Random, alphabet: str, min_size: int, max_size: int) -> str:
    return "".join(rnd.choices(alphabet, k=rnd.randint(min_size, max_size)))


def _token(rnd: random.Random, alphabet: str, min_size: int, max_size: int) -> str:
    """Random characters from `alphabet` with at least one digit, upper- and lower-case letter (as any
    real key or token has), so that a token is never a word and cannot appear by chance."""
    body = list(_chars(rnd, alphabet, min_size, max_size))
    picks = rnd.sample(range(len(body)), 3)
    for i, pool in zip(picks, (string.digits, string.ascii_uppercase, string.ascii_lowercase), strict=True):
        body[i] = rnd.choice(pool)
    return "".join(body)


def _digits(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choices(string.digits, k=n))


# --------------------------------------------------------------------------------------------- cards


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


# brand -> (prefix choices, lengths)
CARD_BRANDS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "visa": (("4",), (13, 16, 19)),
    "mastercard": (("51", "52", "53", "54", "55", "2221", "2500", "2720"), (16,)),
    "amex": (("34", "37"), (15,)),
    "discover": (("6011", "644", "649", "65"), (16, 19)),
    "jcb": (("3528", "3550", "3589"), (16, 19)),
    "diners": (("300", "305", "36", "38"), (14,)),
    "unionpay": (("62",), (16, 17, 18, 19)),
    "maestro": (("50", "56", "58", "67"), (13, 16, 19)),
}


def _card_groups(digits: str, brand: str) -> list[str]:
    if brand == "amex" or (brand == "diners" and len(digits) == 14):
        return [digits[:4], digits[4:10], digits[10:]]
    groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    if len(groups[-1]) < 3:
        groups[-2:] = [groups[-2] + groups[-1]]
    return groups


def make_card(rnd: random.Random) -> SecretValue:
    brand = rnd.choice(sorted(CARD_BRANDS))
    prefixes, lengths = CARD_BRANDS[brand]
    prefix = rnd.choice(prefixes)
    length = rnd.choice(lengths)
    body = prefix + _digits(rnd, length - len(prefix) - 1)
    digits = body + luhn_check_digit(body)
    sep = rnd.choice(("", " ", "-"))
    text = sep.join(_card_groups(digits, brand)) if sep else digits
    return SecretValue("payment_card", text, text)


# --------------------------------------------------------------------------------------------- IBANs

# country -> BBAN layout: (count, class) with class n digits, a upper-case letters, c alphanumerics
IBAN_LAYOUTS: dict[str, tuple[tuple[int, str], ...]] = {
    "DE": ((18, "n"),),
    "GB": ((4, "a"), (14, "n")),
    "FR": ((10, "n"), (11, "c"), (2, "n")),
    "NL": ((4, "a"), (10, "n")),
    "ES": ((20, "n"),),
    "IT": ((1, "a"), (10, "n"), (12, "c")),
    "CH": ((5, "n"), (12, "c")),
    "BE": ((12, "n"),),
    "PL": ((24, "n"),),
    "NO": ((11, "n"),),
    "SE": ((20, "n"),),
    "IE": ((4, "a"), (14, "n")),
}
_CLASSES = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make country + digits + bban pass mod-97 (ISO 7064)."""
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(numeric) % 97:02d}"


def make_iban(rnd: random.Random) -> SecretValue:
    country = rnd.choice(sorted(IBAN_LAYOUTS))
    bban = "".join(_chars(rnd, _CLASSES[cls], n, n) for n, cls in IBAN_LAYOUTS[country])
    compact = country + iban_check_digits(country, bban) + bban
    text = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4)) if rnd.random() < 0.5 else compact
    return SecretValue("iban", text, text)


# --------------------------------------------------------------------------------------------- SSNs, email, phone


def make_ssn(rnd: random.Random) -> SecretValue:
    area = rnd.choice([a for a in range(1, 900) if a != 666])
    group, serial = rnd.randint(1, 99), rnd.randint(1, 9999)
    form = rnd.choice(("dash", "space", "label"))
    if form == "label":
        digits = f"{area:03d}{group:02d}{serial:04d}"
        label = rnd.choice(("SSN: ", "ssn ", "SSN#", "social security number: ", "Social Security No. "))
        return SecretValue("us_ssn", label + digits, digits)
    sep = "-" if form == "dash" else " "
    text = f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"
    return SecretValue("us_ssn", text, text)


def make_email(rnd: random.Random) -> SecretValue:
    local = _chars(rnd, string.ascii_lowercase, 3, 10) + rnd.choice((".", "_", "-", "+", ""))
    local += _chars(rnd, string.ascii_lowercase + string.digits, 2, 8)
    if rnd.random() < 0.3:
        local = local.capitalize()
    domain = rnd.choice(("", "mail.", "eu.", "corp-")) + _chars(rnd, string.ascii_lowercase, 3, 12)
    tld = rnd.choice(("com", "org", "net", "io", "de", "co.uk", "dev", "fr", "info"))
    text = f"{local}@{domain}.{tld}"
    return SecretValue("email", text, text)


def make_phone(rnd: random.Random) -> SecretValue:
    area = rnd.randint(200, 999)
    exchange = rnd.randint(200, 999)
    line = rnd.randint(0, 9999)
    form = rnd.choice(("paren", "dash", "dot", "plus1", "one_dash", "e164", "e164_spaced"))
    if form == "paren":
        text = f"({area}) {exchange}-{line:04d}"
    elif form == "dash":
        text = f"{area}-{exchange}-{line:04d}"
    elif form == "dot":
        text = f"{area}.{exchange}.{line:04d}"
    elif form == "plus1":
        text = f"+1 {area} {exchange} {line:04d}"
    elif form == "one_dash":
        text = f"1-{area}-{exchange}-{line:04d}"
    else:
        country = rnd.choice(("44", "49", "33", "81", "61", "353", "91", "55"))
        national = str(rnd.randint(1, 9)) + _digits(rnd, rnd.randint(7, 10))
        if form == "e164":
            text = f"+{country}{national}"
        else:
            text = f"+{country} {national[:3]} {national[3:6]} {national[6:]}"
    return SecretValue("phone", text, text)


# --------------------------------------------------------------------------------------------- IP addresses


def make_ipv4(rnd: random.Random) -> SecretValue:
    text = ".".join(map(str, [rnd.randint(1, 223)] + [rnd.randint(0, 255) for _ in range(3)]))
    return SecretValue("ipv4", text, text)


def make_ipv6(rnd: random.Random) -> SecretValue:
    groups = [rnd.randint(1, 0xFFFF) for _ in range(8)]
    form = rnd.choice(("full", "compressed", "exploded", "v4tail", "upper"))
    if form in ("compressed", "upper"):
        at = rnd.randint(2, 5)  # leaves at least 3 non-zero groups
        n = rnd.randint(2, 3)
        groups[at : at + n] = [0] * n
    address = ipaddress.IPv6Address(b"".join(g.to_bytes(2, "big") for g in groups))
    if form == "full":
        text = ":".join(f"{g:x}" for g in groups)
    elif form == "exploded":
        text = address.exploded
    elif form == "v4tail":
        text = "::ffff:" + make_ipv4(rnd).text
    else:
        text = address.compressed.upper() if form == "upper" else address.compressed
    return SecretValue("ipv6", text, text)


# --------------------------------------------------------------------------------------------- tokens


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(rnd: random.Random) -> SecretValue:
    alg = rnd.choice(("HS256", "RS256", "ES256", "none"))
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    claims = {"sub": _token(rnd, ALNUM, 8, 16), "iat": rnd.randint(1_500_000_000, 1_900_000_000)}
    payload = _b64url(json.dumps(claims).encode())
    signature = "" if alg == "none" else _token(rnd, B64URL, 30, 80)
    text = f"{header}.{payload}.{signature}"
    return SecretValue("jwt", text, text)


def make_pem(rnd: random.Random) -> SecretValue:
    label = rnd.choice(("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"))
    body = base64.b64encode(rnd.randbytes(rnd.randint(48, 160))).decode()
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    footer = f"-----END {label}-----" if rnd.random() < 0.8 else ""  # sometimes cut off
    text = f"-----BEGIN {label}-----\n{lines}\n{footer}"
    return SecretValue("pem_private_key", text, text)


def make_aws_key(rnd: random.Random) -> SecretValue:
    if rnd.random() < 0.5:
        text = rnd.choice(("AKIA", "ASIA", "AROA", "AIDA", "ANPA", "AGPA")) + _chars(rnd, UPPER_ALNUM, 16, 16)
        return SecretValue("aws_access_key", text, text)
    secret = _token(rnd, ALNUM + "/+", 40, 40)
    label = rnd.choice(
        ("aws_secret_access_key = ", "AWS_SECRET_ACCESS_KEY=", '"aws_secret_access_key": "', "SecretAccessKey: ")
    )
    return SecretValue("aws_access_key", label + secret, secret)


def make_github_token(rnd: random.Random) -> SecretValue:
    if rnd.random() < 0.25:
        text = f"github_pat_{_token(rnd, ALNUM, 22, 22)}_{_token(rnd, ALNUM, 59, 59)}"
    else:
        text = rnd.choice(("ghp_", "gho_", "ghu_", "ghs_", "ghr_")) + _token(rnd, ALNUM, 36, 36)
    return SecretValue("github_token", text, text)


def make_slack_token(rnd: random.Random) -> SecretValue:
    form = rnd.choice(("bot", "user", "app", "webhook"))
    if form == "webhook":
        secret = f"T{_chars(rnd, UPPER_ALNUM, 8, 10)}/B{_chars(rnd, UPPER_ALNUM, 8, 10)}/{_token(rnd, ALNUM, 24, 24)}"
        return SecretValue("slack_token", f"https://hooks.slack.com/services/{secret}", secret)
    if form == "app":
        text = f"xapp-1-A{_chars(rnd, UPPER_ALNUM, 10, 10)}-{_digits(rnd, 13)}-{_token(rnd, ALNUM, 40, 64)}"
    else:
        kind = "xoxb" if form == "bot" else rnd.choice(("xoxp", "xoxa", "xoxr", "xoxs"))
        text = f"{kind}-{_digits(rnd, 12)}-{_digits(rnd, 13)}-{_token(rnd, ALNUM, 24, 24)}"
    return SecretValue("slack_token", text, text)


def make_openai_key(rnd: random.Random) -> SecretValue:
    prefix = rnd.choice(("sk-", "sk-proj-", "sk-ant-api03-", "sk-svcacct-"))
    text = prefix + _token(rnd, ALNUM + ("-_" if prefix != "sk-" else ""), 32, 90)
    return SecretValue("openai_key", text, text)


def make_bearer(rnd: random.Random) -> SecretValue:
    if rnd.random() < 0.25:
        user = _chars(rnd, string.ascii_lowercase, 3, 10)
        token = base64.b64encode(f"{user}:{_token(rnd, ALNUM + '!$%*', 10, 24)}".encode()).decode()
        scheme = rnd.choice(("Basic", "basic", "BASIC"))
    else:
        token = _token(rnd, ALNUM + "-._~+/", 20, 60) + "=" * rnd.randint(0, 2)
        scheme = rnd.choice(("Bearer", "bearer", "BEARER"))
    return SecretValue("bearer_token", f"{scheme}{rnd.choice((' ', '  ', chr(9)))}{token}", token)


def make_url_password(rnd: random.Random) -> SecretValue:
    user = _chars(rnd, string.ascii_lowercase, 3, 10)
    host = _chars(rnd, string.ascii_lowercase, 3, 12) + rnd.choice((".internal", ".example.com", ""))
    form = rnd.choice(("url", "url_nouser", "odbc", "query", "pwd", "passwd", "env"))
    if form in ("url", "url_nouser"):
        password = _token(rnd, ALNUM + "-._~!$*+", 10, 24)
        scheme = rnd.choice(("postgres", "postgresql", "mysql", "redis", "amqp", "mongodb+srv", "https"))
        who = "" if form == "url_nouser" else user
        tail = rnd.choice(("", ":5432", ":6379/0", "/app", ":3306/orders?sslmode=require"))
        return SecretValue("url_password", f"{scheme}://{who}:{password}@{host}{tail}", password)
    password = _token(rnd, ALNUM + "-._~!$*+@#%^()[]{}", 10, 24)
    if form == "odbc":
        text = f"Server={host};Database=orders;User Id={user};Password={password};Encrypt=true"
    elif form == "query":
        text = f"https://{host}/login?user={user}&password={password}&next=/home"
    elif form == "pwd":
        text = f"Driver={{PostgreSQL}};Server={host};Uid={user};Pwd={password};"
    elif form == "passwd":
        text = f"passwd={password}"
    else:
        text = f"PGPASSWORD={password}"
    return SecretValue("url_password", text, password)


MAKERS: dict[str, Callable[[random.Random], SecretValue]] = {
    "email": make_email,
    "phone": make_phone,
    "payment_card": make_card,
    "us_ssn": make_ssn,
    "iban": make_iban,
    "ipv4": make_ipv4,
    "ipv6": make_ipv6,
    "jwt": make_jwt,
    "pem_private_key": make_pem,
    "aws_access_key": make_aws_key,
    "github_token": make_github_token,
    "slack_token": make_slack_token,
    "openai_key": make_openai_key,
    "bearer_token": make_bearer,
    "url_password": make_url_password,
}
assert set(MAKERS) == set(DETECTOR_NAMES)


def secret_values(kinds: Iterable[str] | None = None) -> st.SearchStrategy[SecretValue]:
    """A secret of one of `kinds` (default: every detector kind)."""
    names = sorted(kinds) if kinds is not None else list(DETECTOR_NAMES)
    return st.tuples(st.sampled_from(names), _seeds()).map(lambda ks: MAKERS[ks[0]](ks[1]))


# --------------------------------------------------------------------------------------------- events


def surround(rnd: random.Random, value: str) -> str:
    """`value` with random words around it, always separated from them by a boundary character."""
    before = " ".join(rnd.choices(FILLER_WORDS, k=rnd.randint(0, 4)))
    after = " ".join(rnd.choices(FILLER_WORDS, k=rnd.randint(0, 4)))
    left = rnd.choice(BOUNDARIES) if before or rnd.random() < 0.5 else ""
    right = rnd.choice(BOUNDARIES) if after or rnd.random() < 0.5 else ""
    return f"{before}{left}{value}{right}{after}"


_KEYS = ("id", "name", "note", "rows", "data", "items", "meta", "args", "body", "value", "text")
_SCALARS: tuple[Any, ...] = (0, 1, 42, 1000, 99999, -5, 3.25, 0.5, True, False, None, "ok", "pending", "", "v1.2.3",
                             "2024-05-01T12:30:45Z", "order", "none")  # fmt: skip


def _skeleton(rnd: random.Random, depth: int = 0) -> Any:
    """A small random JSON value: objects and lists of filler keys and scalars."""
    if depth >= 3 or rnd.random() < 0.3:
        return {rnd.choice(_KEYS): rnd.choice(_SCALARS) for _ in range(rnd.randint(0, 3))}
    if rnd.random() < 0.5:
        return [_skeleton(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]
    return {rnd.choice(_KEYS): _skeleton(rnd, depth + 1) for _ in range(rnd.randint(1, 3))}


def _containers(value: Any) -> list[Any]:
    found = []
    if isinstance(value, dict):
        found.append(value)
        for v in value.values():
            found.extend(_containers(v))
    elif isinstance(value, list):
        found.append(value)
        for v in value:
            found.extend(_containers(v))
    return found


def place_in_json(rnd: random.Random, doc: Any, secret: SecretValue) -> None:
    """Put `secret` into a random object or list inside `doc` (changed in place): as a string with text
    around it, sometimes as an object key, and a bare card number sometimes as a JSON number."""
    target = rnd.choice(_containers(doc))
    value: Any
    if secret.kind == "payment_card" and secret.text.isdigit() and rnd.random() < 0.5:
        value = int(secret.text)
    else:
        value = surround(rnd, secret.text)
    if isinstance(target, list):
        target.insert(rnd.randint(0, len(target)), value)
    elif isinstance(value, str) and rnd.random() < 0.15:
        target[value] = rnd.choice(_SCALARS)
    else:
        key = rnd.choice(_KEYS)
        while key in target:
            key += "_"
        target[key] = value


TEXT_SLOTS = ("prompt", "query", "error", "attribute")
JSON_SLOTS = ("parameters", "tool_arguments", "response")


def make_event(rnd: random.Random, secrets: Sequence[SecretValue]) -> dict[str, Any]:
    """A decoded AuditEvent datum with `secrets` placed at random (see the module docstring)."""
    docs: dict[str, Any] = {slot: {"kind": "request", "data": _skeleton(rnd)} for slot in JSON_SLOTS}
    texts: dict[str, list[str]] = {slot: [] for slot in (*TEXT_SLOTS, "response")}
    response_is_text = rnd.random() < 0.25  # payload.response is text or JSON
    for secret in secrets:
        slot = rnd.choice(TEXT_SLOTS + JSON_SLOTS)
        if slot in JSON_SLOTS and not (slot == "response" and response_is_text):
            place_in_json(rnd, docs[slot], secret)
        else:
            texts[slot].append(surround(rnd, secret.text))
    if response_is_text:
        response = "Here is what I found:\n" + "\n".join(texts["response"])
    else:
        response = json.dumps(docs["response"], ensure_ascii=False, indent=rnd.choice((None, 2)))
    attributes = {"langgraph.node": "lookup", "retries": "0"}
    attributes.update({f"note.{i}": text for i, text in enumerate(texts["attribute"])})
    return {
        "event_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
        "tenant": "acme",
        "occurred_at": datetime(2024, 5, 1, 12, 30, 45, tzinfo=UTC),
        "actor": {"subject": "agent-7", "issuer": None, "groups": ["support"], "kind": "agent"},
        "action": {"type": "tool.call", "name": "lookup_customer"},
        "target": {"kind": "tool", "name": "crm"},
        "payload": {
            "prompt": "\n".join(texts["prompt"]) or None,
            "parameters": json.dumps(docs["parameters"], ensure_ascii=False),
            "tool_arguments": json.dumps(docs["tool_arguments"], ensure_ascii=False, separators=(",", ":")),
            "query": " ; ".join(texts["query"]) or None,
            "response": response,
            "attributes": attributes,
        },
        "outcome": {"status": "failure" if texts["error"] else "success", "error": "\n".join(texts["error"]) or None},
        "source": {"service": "agent-runtime", "host": "worker-3", "ip": None},
        "correlation": {
            "session_id": "sess-1",
            "run_id": None,
            "parent_run_id": None,
            "graph_node": None,
            "trace_id": None,
        },
    }


def events_with_secrets(
    kinds: Iterable[str] | None = None, max_secrets: int = 5
) -> st.SearchStrategy[tuple[dict[str, Any], list[SecretValue]]]:
    """`(event, secrets)`: 1 to `max_secrets` secrets of `kinds` placed at random in an AuditEvent datum."""
    secret_lists = st.lists(secret_values(kinds), min_size=1, max_size=max_secrets)
    return st.tuples(secret_lists, _seeds()).map(lambda sr: (make_event(sr[1], sr[0]), sr[0]))


# --------------------------------------------------------------------------------------------- checking


def _strings(value: Any) -> Iterable[str]:
    """Every string in a value, with JSON text decoded (keys included)."""
    if isinstance(value, str):
        yield value
        if value.lstrip()[:1] in ("{", "["):
            try:
                decoded = json.loads(value)
            except ValueError:
                return
            yield from _strings(decoded)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def sensitive_leaks(masked_event: Any, secrets: Sequence[SecretValue]) -> list[SecretValue]:
    """The secrets whose sensitive part appears in the masked event (serialised, or in any string)."""
    serialised = json.dumps(masked_event, default=str, ensure_ascii=False)
    strings = list(_strings(masked_event))
    return [s for s in secrets if s.sensitive in serialised or any(s.sensitive in text for text in strings)]
