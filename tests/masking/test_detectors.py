"""Each content detector: what it finds (and which part is sensitive), and what it must leave alone."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings

from stream.masking.detectors import (
    DETECTORS,
    Finding,
    card_issuer,
    detect,
    iban_valid,
    luhn_valid,
    resolve,
    scanner,
)
from stream.masking.plan import DETECTOR_NAMES
from tests.masking.secret_values import secret_values


def found(text: str, kind: str | None = None) -> list[tuple[str, str]]:
    """(kind, sensitive text) for each finding, all detectors on; only `kind`'s if given."""
    return [(f.kind, text[f.start : f.end]) for f in detect(text) if kind is None or f.kind == kind]


def only(text: str, kind: str) -> list[str]:
    """The sensitive parts a single detector finds."""
    return [text[f.start : f.end] for f in detect(text, [kind])]


def test_every_detector_name_has_a_detector() -> None:
    assert set(DETECTORS) == set(DETECTOR_NAMES)
    with pytest.raises(ValueError, match="unknown detector"):
        scanner(["email", "passport"])


# --------------------------------------------------------------------------------------------- cards


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",  # Visa
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4222222222222",  # Visa, 13 digits
        "5555555555554444",  # Mastercard 51-55
        "2223003122003222",  # Mastercard 2221-2720
        "378282246310005",  # Amex
        "3782 822463 10005",
        "6011111111111117",  # Discover
        "6011 0009 9013 9424",
        "3530111333300000",  # JCB
        "30569309025904",  # Diners
        "6200000000000005",  # UnionPay
        "6759649826438453",  # Maestro
    ],
)
def test_cards_with_valid_luhn_and_issuer(card: str) -> None:
    assert only(f"card: {card}.", "payment_card") == [card]


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "4111 1111 1111 1112",
        "1234567812345670",  # Luhn ok, no issuer starts with 1
        "9111111111111111",
        "0000000000000000",
        "41111111111111111111",  # 20 digits
        "epoch ms 1715000000000 and ns 1715000000000000000",
        "pi is 3.14159265358979323846",
        "order 4111111111111111.5 is a decimal",
        "v-4111111111111111 with a leading minus",
        "id4111111111111111",  # glued to a word
        "4111 11 1111 1111 1111",  # a group of two is not card grouping
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "max int 9223372036854775807",
    ],
)
def test_not_cards(text: str) -> None:
    assert only(text, "payment_card") == []


def test_card_followed_by_another_number_keeps_only_the_card() -> None:
    assert only("paid with 4111 1111 1111 1111 2024 expiry", "payment_card") == ["4111 1111 1111 1111"]
    assert only("4111 1111 1111 1111 4012 8888 8888 1881", "payment_card") == [
        "4111 1111 1111 1111",
        "4012 8888 8888 1881",
    ]


def test_luhn_and_issuer_helpers() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert card_issuer("378282246310005") == "amex"
    assert card_issuer("37828224631000") is None  # Amex is 15 digits
    assert card_issuer("5555555555554444") == "mastercard"


# --------------------------------------------------------------------------------------------- IBAN


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "GB82 WEST 1234 5698 7654 32",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "NO9386011117947",
        "CH9300762011623852957",
    ],
)
def test_valid_ibans(iban: str) -> None:
    assert only(f"IBAN {iban};", "iban") == [iban]


@pytest.mark.parametrize(
    "text",
    [
        "DE89370400440532013001",  # mod-97 fails
        "DE88 3704 0044 0532 0130 00",
        "DE8937040044053201300",  # one short for Germany
        "XX89370400440532013000",  # no such country
        "SKU AB12CDEF3456GHIJ7890",
        "HTTP2 header frame AB12 CD34 EF56",
    ],
)
def test_not_ibans(text: str) -> None:
    assert only(text, "iban") == []


def test_iban_followed_by_a_word_of_four_letters() -> None:
    assert only("to DE89 3704 0044 0532 0130 00 ABCD please", "iban") == ["DE89 3704 0044 0532 0130 00"]
    assert iban_valid("GB82WEST12345698765432") and not iban_valid("GB82WEST12345698765433")


# --------------------------------------------------------------------------------------------- SSN


@pytest.mark.parametrize(
    ("text", "ssn"),
    [
        ("ssn 123-45-6789 on file", "123-45-6789"),
        ("078 05 1120", "078 05 1120"),
        ("SSN: 123456789", "123456789"),
        ("social security number 219099999", "219099999"),
        ('{"ssn": "123456789"}', "123456789"),
    ],
)
def test_ssns(text: str, ssn: str) -> None:
    assert only(text, "us_ssn") == [ssn]


@pytest.mark.parametrize(
    "text",
    [
        "000-12-3456",  # area 000
        "666-12-3456",  # area 666
        "900-12-3456",  # area 900-999
        "999-12-3456",
        "123-00-4567",  # group 00
        "123-45-0000",  # serial 0000
        "123-45 6789",  # mixed separators
        "order 123456789 shipped",  # bare 9 digits without a label
        "part 123-45-67890",
        "date 2024-05-01",
    ],
)
def test_not_ssns(text: str) -> None:
    assert only(text, "us_ssn") == []


# --------------------------------------------------------------------------------------------- email, phone


@pytest.mark.parametrize(
    "email",
    ["john.doe@example.com", "a+tag@mail.example.co.uk", "First_Last-2@corp-mail.io", "x9@b.de"],
)
def test_emails(email: str) -> None:
    assert only(f"mail <{email}>.", "email") == [email]


@pytest.mark.parametrize(
    "text",
    [
        "@app.route('/users')",
        "npm install @types/node",
        "icon@2x.png and logo@3x.webp",
        "user@localhost",
        "docker pull nginx@sha256:abcdef",
        "reach us at support at example dot com",
        "postgres://alice:secret@db.example.com/x",  # a URL's userinfo, not an address
    ],
)
def test_not_emails(text: str) -> None:
    assert only(text, "email") == []


@pytest.mark.parametrize(
    "phone",
    [
        "+14155552671",
        "+1 415 555 2671",
        "+44 20 7946 0958",
        "+49-30-1234567",
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "1-800-555-0199",
    ],
)
def test_phones(phone: str) -> None:
    assert only(f"call {phone} today", "phone") == [phone]


@pytest.mark.parametrize(
    "text",
    [
        "order 4155552671 shipped",  # bare digits
        "ts 1715000000 and id 20240501123045",
        "2024-05-01 12:30:45",
        "115-555-2671",  # area code cannot start with 1
        "415-155-2671",  # exchange cannot start with 1
        "x+1234567",  # too short, and glued
        "1e+10 is scientific notation",
        "2024-05-01T12:30:45+02:00",
        "version 415.555.2671.1",
        "SELECT 100 + 2000000 FROM t",
    ],
)
def test_not_phones(text: str) -> None:
    assert only(text, "phone") == []


# --------------------------------------------------------------------------------------------- IP


@pytest.mark.parametrize("ip", ["192.168.1.1", "10.0.0.7", "8.8.8.8", "255.255.255.255"])
def test_ipv4(ip: str) -> None:
    assert only(f"from {ip}:8080 (ok)", "ipv4") == [ip]


@pytest.mark.parametrize(
    "text",
    [
        "version 10.0.19041.1",  # Windows build: 5 parts
        "release 1.2.3.4.5",
        "256.1.1.1",
        "1.2.3",
        "v1.2.3.4",  # a version with a v
        "price 12.50 and 3.14",
        "1234.1.1.1",
    ],
)
def test_not_ipv4(text: str) -> None:
    assert only(text, "ipv4") == []


@pytest.mark.parametrize(
    "ip",
    [
        "2001:db8::1",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "fe80::1ff:fe23:4567:890a",
        "::ffff:192.0.2.1",
        "2001:DB8:85A3::8A2E:370:7334",
    ],
)
def test_ipv6(ip: str) -> None:
    assert only(f"peer [{ip}]:443", "ipv6") == [ip]
    assert only(f"addr:{ip}, next", "ipv6") == [ip]


@pytest.mark.parametrize(
    "text",
    [
        "at 12:30:45",
        "2024-05-01T12:30:45.123Z",
        "std::vector<int> v; a::b::c",
        "Foo::Bar::baz()",
        "x[::2] and ::",
        "a::b",
        "fe80::1",  # fewer than 3 groups: too likely to be code
        "de:ad:be:ef",
        "mac 00:1a:2b:3c:4d:5e",
    ],
)
def test_not_ipv6(text: str) -> None:
    assert only(text, "ipv6") == []


# --------------------------------------------------------------------------------------------- tokens

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"


def test_jwt() -> None:
    assert only(f"token={JWT}&x=1", "jwt") == [JWT]
    unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."
    assert only(f"alg none: {unsigned} end", "jwt") == [unsigned]
    assert only("eyJhbGciOiJIUzI1NiJ9 alone is just base64 of a header", "jwt") == []
    assert only("a.b.c and eyJ.eyJ.", "jwt") == []


def test_pem_private_key() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc+/=\n-----END RSA PRIVATE KEY-----"
    assert only(f"key:\n{block}\nthanks", "pem_private_key") == [block]
    cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA"
    assert only(f"here: {cut}", "pem_private_key") == [cut]  # unterminated: to the end
    public = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQY\n-----END PUBLIC KEY-----"
    assert only(public, "pem_private_key") == []
    assert only("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "pem_private_key") == []


def test_aws_keys() -> None:
    assert only("key AKIAIOSFODNN7EXAMPLE used", "aws_access_key") == ["AKIAIOSFODNN7EXAMPLE"]
    assert only("ASIAY34FZKBOKMUTVV7A,", "aws_access_key") == ["ASIAY34FZKBOKMUTVV7A"]
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert only(f"aws_secret_access_key = {secret}\n", "aws_access_key") == [secret]
    assert only(f'{{"AWS_SECRET_ACCESS_KEY": "{secret}"}}', "aws_access_key") == [secret]
    assert only(f"checksum {secret} unlabelled", "aws_access_key") == []
    assert only("XAKIAIOSFODNN7EXAMPLE and AKIAIOSFODNN7EXAMPL", "aws_access_key") == []


def test_github_slack_openai_tokens() -> None:
    gh = "ghp_" + "aB3" * 12
    assert only(f"token {gh}", "github_token") == [gh]
    pat = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW"
    assert only(pat, "github_token") == [pat]
    assert only("ghp_short and the ghost_of_a_chance", "github_token") == []
    slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
    assert only(f"SLACK_BOT_TOKEN={slack}", "slack_token") == [slack]
    hook = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
    assert only(hook, "slack_token") == ["T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"]
    key = "sk-proj-Ab3dEf6hIj9kLmNoPqRsTuVwXyZ012345"
    assert only(f"OPENAI_API_KEY={key}", "openai_key") == [key]
    ant = "sk-ant-api03-AbCdEf0123456789_abcdefGHIJ-klmnop"
    assert only(ant, "openai_key") == [ant]
    assert only("risk-assessment-framework-v2-2024 and sk-learn-compatible-estimators", "openai_key") == []


def test_bearer_and_basic() -> None:
    assert only("Authorization: Bearer abcDEF123456789xyz.-_~+/=", "bearer_token") == ["abcDEF123456789xyz.-_~+/="]
    assert only("authorization: bearer 0a1b2c3d4e5f6a7b8c9d", "bearer_token") == ["0a1b2c3d4e5f6a7b8c9d"]
    assert only("Authorization: Basic dXNlcjpwYXNzd29yZA==", "bearer_token") == ["dXNlcjpwYXNzd29yZA=="]
    for prose in (
        "The bearer of this note may collect the parcel.",
        "Bearer tokens are described in RFC 6750.",
        "Use Bearer authentication for the API",
        'headers = {"Authorization": f"Bearer {token}"}',
        "Authorization: Bearer <token>",
        "Basic authentication is disabled; basic setup instructions follow",
        "Bearer YOUR_API_KEY_HERE",
    ):
        assert only(prose, "bearer_token") == [], prose


def test_url_passwords() -> None:
    assert only("postgres://app:s3cr3t-P4ss@db.internal:5432/orders", "url_password") == ["s3cr3t-P4ss"]
    assert only("redis://:Very5ecretPass@cache:6379/0", "url_password") == ["Very5ecretPass"]
    odbc = "Server=db;Database=x;User Id=u;Password=Hunter2Hunter2;Encrypt=true"
    assert only(odbc, "url_password") == ["Hunter2Hunter2"]
    assert only("https://h/login?user=bob&password=Pa55w0rdX&next=/", "url_password") == ["Pa55w0rdX"]
    assert only("Uid=u;Pwd=abc123XYZ;", "url_password") == ["abc123XYZ"]
    assert only("PGPASSWORD=abc123XYZ psql", "url_password") == ["abc123XYZ"]
    for clean in (
        "https://example.com/path?q=1",
        "git@github.com:org/repo.git",
        "Reset your password from the account page.",
        "password = os.environ['DB_PASSWORD']",
        "postgres://app@db.internal/orders",
        "postgres://app:[REDACTED:url_password]@db.internal/orders",  # masked already
        "Password=[HASH:url_password:mk-1:0123456789abcdef01234567];",
    ):
        assert only(clean, "url_password") == [], clean


# --------------------------------------------------------------------------------------------- overlaps


def test_overlap_prefers_the_earlier_longer_more_specific_match() -> None:
    # The URL's password is also "an email" (pw@host.com): the URL match starts earlier and wins.
    text = "mysql://u:Secret99@db.example.com/x"
    assert found(text) == [("url_password", "Secret99")]
    # A JWT after Bearer: one finding covering the token.
    assert found(f"Authorization: Bearer {JWT}") == [("bearer_token", JWT)]
    # An IPv4 tail inside an IPv6 address is part of the IPv6 finding.
    assert found("::ffff:192.0.2.1") == [("ipv6", "::ffff:192.0.2.1")]


def test_resolve_unions_overlapping_sensitive_spans() -> None:
    a = Finding(0, 10, "email", 0, 10)
    b = Finding(5, 15, "phone", 5, 15)
    c = Finding(20, 25, "ipv4", 20, 25)
    merged = resolve([c, b, a])
    assert merged == [Finding(0, 15, "email", 0, 10), c]
    same_start = resolve([Finding(0, 5, "ipv4", 0, 5), Finding(0, 5, "iban", 0, 5)])
    assert [f.kind for f in same_start] == ["iban"]  # same span: the more specific detector


def test_markers_are_not_found_again() -> None:
    for marker in (
        "[REDACTED:email]",
        "[PARTIAL:payment_card:****1111]",
        "[HASH:phone:mk-1:0123456789abcdef01234567]",
        "[WITHHELD:max_field_bytes]",
    ):
        assert detect(f"value {marker} end") == []


@settings(max_examples=600, deadline=None)
@given(secret_values())
def test_every_generated_secret_is_found(secret) -> None:  # type: ignore[no-untyped-def]
    at = secret.text.index(secret.sensitive)
    spans = [(f.start, f.end) for f in detect(secret.text)]
    assert any(s <= at and at + len(secret.sensitive) <= e for s, e in spans), (secret, spans)


def test_longer_colon_sequences_are_not_ipv6() -> None:
    fingerprint = ":".join(["AB", "CD", "EF", "12"] * 8)
    assert only(f"SHA256 Fingerprint={fingerprint}", "ipv6") == []
    assert only("macs 00:1a:2b:3c:4d:5e:6f:70:81:92", "ipv6") == []
    assert only("sent the:7041:90de:7642:3234:3a81:17ca:3adf:ec62:done", "ipv6") == [
        "7041:90de:7642:3234:3a81:17ca:3adf:ec62"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "://a:b" * 50_000,  # URL userinfo candidates with no '@'
        "a:b:" * 50_000,  # one long run of hex and colons
        "@" * 200_000,
        "4" * 200_000,
        "1.2." * 50_000,
        "a@b." * 50_000,
        "1234 " * 40_000,
        "password=x" * 20_000,
        "-----BEGIN PRIVATE KEY-----" * 8_000,
    ],
)
def test_adversarial_inputs_scan_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    detect(text)
    assert time.perf_counter() - started < 2.0
