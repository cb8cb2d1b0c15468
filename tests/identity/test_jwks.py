"""stream.identity.jwks: JWK to public keys, and the per-issuer JWKS cache (file and URL sources)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from stream.identity.config import IdentitySettings, IssuerConfig
from stream.identity.jwks import (
    JwkError,
    JwksCache,
    JwksUnavailable,
    _SafeRedirects,
    fetch_url,
    jwk_to_public_key,
    parse_jwk,
    parse_jwks,
    transport_is_safe,
)
from tests.identity.token_factory import SigningKey, b64url, ec_key, ed25519_key, jwks_document, rsa_key, write_jwks

ISSUER = "https://idp.test.example"
URL = "https://idp.test.example/.well-known/jwks.json"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fetcher:
    """Serves a JWKS document (or raises) and counts calls."""

    def __init__(self, document: dict | None = None) -> None:
        self.document = document
        self.error: Exception | None = None
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, timeout: float) -> bytes:
        self.calls.append((url, timeout))
        if self.error is not None:
            raise self.error
        return json.dumps(self.document).encode()


@pytest.fixture(scope="module")
def rsa1() -> SigningKey:
    return rsa_key("rsa-1")


@pytest.fixture(scope="module")
def ec1() -> SigningKey:
    return ec_key("ec-1")


@pytest.fixture(scope="module")
def ec384() -> SigningKey:
    return ec_key("ec-384", "ES384")


@pytest.fixture(scope="module")
def ed1() -> SigningKey:
    return ed25519_key("ed-1")


# -- JWK -> key -----------------------------------------------------------------------------------------


def test_rsa_jwk(rsa1: SigningKey) -> None:
    key = jwk_to_public_key(rsa1.public_jwk())
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.public_numbers() == rsa1.private_key.public_key().public_numbers()


@pytest.mark.parametrize("name", ["ec1", "ec384"])
def test_ec_jwk(name: str, request: pytest.FixtureRequest) -> None:
    signing: SigningKey = request.getfixturevalue(name)
    key = jwk_to_public_key(signing.public_jwk())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.public_numbers() == signing.private_key.public_key().public_numbers()


def test_ed25519_jwk(ed1: SigningKey) -> None:
    key = jwk_to_public_key(ed1.public_jwk())
    assert isinstance(key, Ed25519PublicKey)
    raw = ed1.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert key.public_bytes(Encoding.Raw, PublicFormat.Raw) == raw


def _bad_jwks(rsa1: SigningKey, ec1: SigningKey, ed1: SigningKey) -> list[dict]:
    ec_jwk = ec1.public_jwk()
    return [
        {**rsa1.public_jwk(), "n": rsa1.public_jwk()["n"] + "="},  # padded base64url
        {**rsa1.public_jwk(), "e": "AAE"},  # e = 1
        {k: v for k, v in rsa1.public_jwk().items() if k != "n"},
        {**ec_jwk, "y": ec_jwk["x"]},  # point not on the curve
        {**ec_jwk, "x": b64url(b"\x01" * 31)},  # short coordinate
        {**ec_jwk, "crv": "P-521"},
        {**ed1.public_jwk(), "crv": "Ed448"},
        {**ed1.public_jwk(), "x": b64url(b"\x01" * 31)},
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kid": "no-kty"},
        {**rsa1.public_jwk(), "kid": 5},
        "not an object",
    ]


def test_malformed_jwks_raise(rsa1: SigningKey, ec1: SigningKey, ed1: SigningKey) -> None:
    for bad in _bad_jwks(rsa1, ec1, ed1):
        with pytest.raises(JwkError):
            parse_jwk(bad)


def test_set_skips_malformed_and_non_signing_keys(rsa1: SigningKey, ec1: SigningKey, ed1: SigningKey) -> None:
    bad = _bad_jwks(rsa1, ec1, ed1)
    enc = {**rsa_key("enc").public_jwk(), "use": "enc"}
    wrap = {**ec_key("wrap").public_jwk(), "key_ops": ["wrapKey"]}
    no_use = {k: v for k, v in ec1.public_jwk().items() if k != "use"}
    document = {"keys": [*bad, rsa1.public_jwk(), enc, wrap, no_use, ed1.public_jwk()]}
    keyset = parse_jwks(json.dumps(document).encode())
    assert [k.kid for k in keyset.keys] == ["rsa-1", "ec-1", "ed-1"]
    assert [k.alg for k in keyset.keys] == ["RS256", "ES256", "EdDSA"]
    assert len(keyset.skipped) == len(bad) + 2
    assert keyset.with_kid("ec-1")[0].description == "EC P-256"


@pytest.mark.parametrize("document", [b"[]", b"{}", b'{"keys": {}}', b"not json", b'{"keys": [], "keys": []}'])
def test_not_a_key_set(document: bytes) -> None:
    with pytest.raises(JwkError):
        parse_jwks(document)


def test_empty_key_set_is_a_key_set() -> None:
    assert parse_jwks(b'{"keys": []}').keys == ()


# -- configuration --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        IssuerConfig(ISSUER, ("a",)),
        IssuerConfig(ISSUER, ("a",), jwks_file="/x", jwks_url=URL),
        IssuerConfig(ISSUER, ("a",), jwks_url="http://idp.test.example/jwks"),
    ],
)
def test_bad_source_configuration(config: IssuerConfig) -> None:
    with pytest.raises(ValueError):
        JwksCache([config])


def test_issuer_configured_twice() -> None:
    config = IssuerConfig(ISSUER, ("a",), jwks_url=URL)
    with pytest.raises(ValueError):
        JwksCache([config, config])


def test_from_settings_uses_ttl_and_interval(ec1: SigningKey) -> None:
    fetcher, clock = Fetcher(jwks_document(ec1)), Clock()
    settings = IdentitySettings(
        issuers=(IssuerConfig(ISSUER, ("a",), jwks_url=URL),), jwks_cache_ttl_s=100, jwks_refresh_min_interval_s=10
    )
    cache = JwksCache.from_settings(settings, fetch=fetcher, monotonic=clock)
    cache.keys(ISSUER)
    assert fetcher.calls == [(URL, 5.0)]
    clock.now += 9
    assert not cache.refresh(ISSUER)
    clock.now += 1
    assert cache.refresh(ISSUER)
    clock.now += 99
    cache.keys(ISSUER)
    assert len(fetcher.calls) == 2
    clock.now += 1
    cache.keys(ISSUER)  # TTL ran out
    assert len(fetcher.calls) == 3


def test_fetch_url_refuses_plain_http() -> None:
    with pytest.raises(ValueError):
        fetch_url("http://idp.test.example/jwks", 1.0)


def test_plain_http_only_to_loopback() -> None:
    assert transport_is_safe("https://idp.test.example/jwks")
    assert transport_is_safe("http://127.0.0.1:8080/jwks") and transport_is_safe("http://localhost/jwks")
    assert not transport_is_safe("http://idp.test.example/jwks")
    assert not transport_is_safe("file:///etc/passwd") and not transport_is_safe("https:///nohost")
    JwksCache([IssuerConfig(ISSUER, ("a",), jwks_url="http://localhost:9999/jwks")])  # accepted


def test_redirect_to_http_refused() -> None:
    handler = _SafeRedirects()
    with pytest.raises(OSError):
        handler.redirect_request(None, None, 302, "Found", {}, "http://idp.test.example/jwks")


# -- URL source -----------------------------------------------------------------------------------------


def url_cache(fetcher: Fetcher, clock: Clock, ttl: float = 3600, interval: float = 5) -> JwksCache:
    return JwksCache(
        [IssuerConfig(ISSUER, ("a",), jwks_url=URL)],
        cache_ttl_s=ttl,
        refresh_min_interval_s=interval,
        fetch=fetcher,
        monotonic=clock,
    )


def test_url_loaded_lazily_and_cached(rsa1: SigningKey) -> None:
    fetcher, clock = Fetcher(jwks_document(rsa1)), Clock()
    cache = url_cache(fetcher, clock)
    assert fetcher.calls == []
    for _ in range(100):
        assert cache.keys(ISSUER).with_kid("rsa-1")
        clock.now += 10
    assert len(fetcher.calls) == 1
    assert cache.generation(ISSUER) == 1


def test_refresh_at_most_once_per_interval(rsa1: SigningKey) -> None:
    fetcher, clock = Fetcher(jwks_document(rsa1)), Clock()
    cache = url_cache(fetcher, clock, interval=5)
    cache.keys(ISSUER)
    assert [cache.refresh(ISSUER) for _ in range(1000)].count(True) == 0  # the initial load was just now
    clock.now += 5
    assert [cache.refresh(ISSUER) for _ in range(1000)].count(True) == 1
    assert len(fetcher.calls) == 2
    assert cache.seconds_until_refresh_allowed(ISSUER) == 5
    clock.now += 4.5
    assert cache.seconds_until_refresh_allowed(ISSUER) == pytest.approx(0.5)


def test_unavailable_until_first_success_and_retries_throttled(rsa1: SigningKey) -> None:
    fetcher, clock = Fetcher(jwks_document(rsa1)), Clock()
    fetcher.error = TimeoutError("timed out")
    cache = url_cache(fetcher, clock)
    for _ in range(50):
        with pytest.raises(JwksUnavailable, match="timed out"):
            cache.keys(ISSUER)
    assert len(fetcher.calls) == 1
    assert "timed out" in cache.last_error(ISSUER)
    clock.now += 5
    fetcher.error = None
    assert cache.keys(ISSUER).with_kid("rsa-1")
    assert cache.last_error(ISSUER) == ""
    assert len(fetcher.calls) == 2


def test_failed_reload_keeps_the_held_keys(rsa1: SigningKey) -> None:
    fetcher, clock = Fetcher(jwks_document(rsa1)), Clock()
    cache = url_cache(fetcher, clock, ttl=60)
    cache.keys(ISSUER)
    fetcher.error = OSError(111, "Connection refused")
    clock.now += 61
    assert cache.keys(ISSUER).with_kid("rsa-1")  # stale but still served
    assert "Connection refused" in cache.last_error(ISSUER)
    fetcher.document, fetcher.error = {"keys": "garbage"}, None
    clock.now += 5
    assert cache.keys(ISSUER).with_kid("rsa-1")  # a broken document does not wipe the keys either
    assert "not an object with a 'keys' array" in cache.last_error(ISSUER)


# -- file source ----------------------------------------------------------------------------------------


def file_cache(path: Path, clock: Clock, interval: float = 5) -> JwksCache:
    return JwksCache(
        [IssuerConfig(ISSUER, ("a",), jwks_file=str(path))], refresh_min_interval_s=interval, monotonic=clock
    )


def test_file_rotation_picked_up_after_min_interval(tmp_path: Path, rsa1: SigningKey, ec1: SigningKey) -> None:
    path = write_jwks(tmp_path / "jwks.json", rsa1)
    clock = Clock()
    cache = file_cache(path, clock)
    assert not cache.keys(ISSUER).with_kid("ec-1")
    write_jwks(path, rsa1, ec1)  # rotation: a new kid appears
    clock.now += 1
    assert not cache.refresh(ISSUER)
    assert not cache.keys(ISSUER).with_kid("ec-1")
    clock.now += 4
    assert cache.refresh(ISSUER)
    assert cache.keys(ISSUER).with_kid("ec-1")


def test_changed_file_reread_without_being_asked(tmp_path: Path, rsa1: SigningKey, ec1: SigningKey) -> None:
    path = write_jwks(tmp_path / "jwks.json", rsa1)
    clock = Clock()
    cache = file_cache(path, clock)
    cache.keys(ISSUER)
    clock.now += 5
    cache.keys(ISSUER)  # unchanged file: stat only
    assert cache.generation(ISSUER) == 1
    write_jwks(path, ec1)  # old key withdrawn, new one published
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    clock.now += 4
    assert cache.keys(ISSUER).with_kid("rsa-1")  # not yet: checks are at most once per interval
    clock.now += 1
    keys = cache.keys(ISSUER)
    assert keys.with_kid("ec-1") and not keys.with_kid("rsa-1")
    assert cache.generation(ISSUER) == 2


def test_refresh_rereads_a_file_whose_stamp_did_not_change(tmp_path: Path) -> None:
    # Rewritten in place with the same size and (as on a coarse-timestamp file system) the same mtime:
    # only the stamp check is fooled; an unknown kid's refresh still re-reads the file.
    first, second = rsa_key("kid-aaaa"), rsa_key("kid-bbbb")
    path = write_jwks(tmp_path / "jwks.json", first)
    before = os.stat(path)
    clock = Clock()
    cache = file_cache(path, clock)
    cache.keys(ISSUER)
    write_jwks(path, second)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (before.st_mtime_ns, before.st_size, before.st_ino)
    clock.now += 5
    assert cache.keys(ISSUER).with_kid("kid-aaaa")  # stamp unchanged: not re-read ...
    assert cache.refresh(ISSUER)  # ... and that check did not use up the refresh allowance
    assert cache.keys(ISSUER).with_kid("kid-bbbb")


def test_missing_file_is_unavailable(tmp_path: Path) -> None:
    cache = file_cache(tmp_path / "absent.json", Clock())
    with pytest.raises(JwksUnavailable, match="absent.json"):
        cache.keys(ISSUER)


def test_unknown_issuer_is_a_programming_error(tmp_path: Path) -> None:
    cache = file_cache(tmp_path / "absent.json", Clock())
    with pytest.raises(KeyError):
        cache.keys("https://elsewhere.example")
