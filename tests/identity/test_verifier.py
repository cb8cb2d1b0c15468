"""stream.identity.verifier: every reason code, every algorithm, key rotation, forged-kid floods, and no
trace of the token in any verdict."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stream.identity.config import IdentitySettings, IssuerConfig
from stream.identity.jwks import JwksCache
from stream.identity.jwt import SUPPORTED_ALGORITHMS
from stream.identity.verifier import REASON_CODES, IdentityVerdict, TokenVerifier
from tests.identity.token_factory import (
    AUDIENCE,
    BAD_VARIANT_CODES,
    ISSUER,
    SigningKey,
    TokenFactory,
    b64url,
    ec_key,
    ed25519_key,
    encode_token,
    jwks_document,
    rsa_key,
    sign_token,
    write_jwks,
)

AT = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
TENANT = "acme"
SECRETS = ("alice", "alice@corp.test.example")  # claim values that must never appear in a reason


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class Fetcher:
    def __init__(self, document: dict) -> None:
        self.document = document
        self.calls = 0

    def __call__(self, url: str, timeout: float) -> bytes:
        self.calls += 1
        return json.dumps(self.document).encode()


@pytest.fixture(scope="module")
def factory() -> TokenFactory:
    extra = (
        SigningKey("rsa-384", "RS384", rsa_key().private_key),
        SigningKey("rsa-512", "RS512", rsa_key().private_key),
        rsa_key("ps-256", "PS256"),
        rsa_key("ps-384", "PS384"),
        rsa_key("ps-512", "PS512"),
        ec_key("ec-384", "ES384"),
        ed25519_key("ed-1"),
    )
    return TokenFactory(extra_keys=extra)


@pytest.fixture
def jwks_path(tmp_path: Path, factory: TokenFactory) -> Path:
    return factory.write_jwks(tmp_path / "jwks.json")


def make_verifier(
    factory: TokenFactory, jwks_path: Path, clock: Clock | None = None, **settings_options
) -> TokenVerifier:
    config_options = settings_options.pop("config", {})
    settings = IdentitySettings(
        issuers=(factory.issuer_config(jwks_file=str(jwks_path), **config_options),), **settings_options
    )
    return TokenVerifier(settings, JwksCache.from_settings(settings, monotonic=clock or Clock()))


@pytest.fixture
def verifier(factory: TokenFactory, jwks_path: Path) -> TokenVerifier:
    return make_verifier(factory, jwks_path, algorithms=SUPPORTED_ALGORITHMS)


def assert_no_token_trace(verdict: IdentityVerdict, token: str) -> None:
    """Neither a segment (8+ chars) of the token nor any 16-character stretch of it appears in the verdict."""
    text = repr(verdict)
    for part in token.split("."):
        if len(part) >= 8:
            assert part not in text
    for start in range(0, max(0, len(token) - 15)):
        assert token[start : start + 16] not in text
    for secret in SECRETS:
        assert secret not in verdict.reason


def rejected(verdict: IdentityVerdict, code: str) -> IdentityVerdict:
    assert verdict.status == "unverified", verdict
    assert verdict.reason_code == code, verdict.reason
    assert verdict.reason.startswith(f"{code}: ") and len(verdict.reason) > len(code) + 2
    return verdict


# -- good tokens ----------------------------------------------------------------------------------------


def test_rs256_verified_with_every_field(factory: TokenFactory, verifier: TokenVerifier) -> None:
    token = factory.mint(AT, claims={"groups": ["ops", "audit"]})
    verdict = verifier.verify(token, TENANT, AT, claimed_subject="alice")
    assert verdict == IdentityVerdict(
        status="verified",
        reason="",
        reason_code="",
        subject="alice",
        issuer=ISSUER,
        email="alice@corp.test.example",
        groups=("ops", "audit"),
        audience=AUDIENCE,
        key_id="rsa-1",
        algorithm="RS256",
        expires_at=AT + timedelta(seconds=600),
        token_fingerprint=hashlib.sha256(token.encode("ascii")).hexdigest(),
    )
    assert verdict.verified


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1", "rsa-384", "rsa-512", "ps-256", "ps-384", "ps-512", "ec-384", "ed-1"])
def test_every_supported_algorithm_verified(factory: TokenFactory, verifier: TokenVerifier, kid: str) -> None:
    key = next(k for k in factory.keys if k.kid == kid)
    verdict = verifier.verify(factory.mint(AT, key=key), TENANT, AT)
    assert verdict.status == "verified", verdict.reason
    assert (verdict.algorithm, verdict.key_id) == (key.alg, kid)


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1", "ed-1"])
def test_token_without_kid_tried_against_keys_of_its_type(
    factory: TokenFactory, verifier: TokenVerifier, kid: str
) -> None:
    key = next(k for k in factory.keys if k.kid == kid)
    verdict = verifier.verify(factory.mint(AT, key=key, header={"kid": None}), TENANT, AT)
    assert verdict.status == "verified", verdict.reason
    assert verdict.key_id == kid


def test_groups_claim_forms(factory: TokenFactory, jwks_path: Path) -> None:
    verifier = make_verifier(factory, jwks_path, config={"groups_claim": "roles", "email_claim": "upn"})
    single = verifier.verify(factory.mint(AT, claims={"roles": "admin", "upn": "a@b.example"}), TENANT, AT)
    assert (single.groups, single.email) == (("admin",), "a@b.example")
    mixed = verifier.verify(factory.mint(AT, claims={"roles": ["a", 3]}), TENANT, AT)
    assert mixed.verified and mixed.groups == () and mixed.email == ""  # ill-formed claim ignored, not trusted


def test_times_within_leeway_are_accepted(factory: TokenFactory, verifier: TokenVerifier) -> None:
    issued = int(AT.timestamp())
    token = factory.mint(AT, claims={"iat": issued + 60, "nbf": issued + 60, "exp": issued - 59})
    assert verifier.verify(token, TENANT, AT).verified


def test_absent_token(factory: TokenFactory, verifier: TokenVerifier, jwks_path: Path) -> None:
    assert verifier.verify(None, TENANT, AT) == IdentityVerdict(status="absent")
    strict = make_verifier(factory, jwks_path, require_token=True)
    verdict = rejected(strict.verify(None, TENANT, AT), "missing_token")
    assert verdict.token_fingerprint == ""


def test_issuer_for_listed_tenant(factory: TokenFactory, jwks_path: Path) -> None:
    verifier = make_verifier(factory, jwks_path, config={"tenants": ("acme", "globex")})
    assert verifier.verify(factory.mint(AT), "globex", AT).verified


def test_multiple_audiences_with_authorized_party(factory: TokenFactory, jwks_path: Path) -> None:
    verifier = make_verifier(factory, jwks_path)
    token = factory.mint(AT, claims={"aud": ["other-api", AUDIENCE], "azp": AUDIENCE})
    verdict = verifier.verify(token, TENANT, AT)
    assert verdict.verified and verdict.audience == AUDIENCE
    no_azp = verifier.verify(factory.mint(AT, claims={"aud": ["other-api", AUDIENCE]}), TENANT, AT)
    assert no_azp.verified and no_azp.audience == AUDIENCE


# -- every reason code ----------------------------------------------------------------------------------


def test_bad_variants_from_the_factory(factory: TokenFactory, verifier: TokenVerifier) -> None:
    for name, token in factory.bad_variants(AT).items():
        verdict = rejected(verifier.verify(token, TENANT, AT), BAD_VARIANT_CODES[name])
        assert verdict.token_fingerprint == hashlib.sha256(token.encode("ascii")).hexdigest()
        assert_no_token_trace(verdict, token)


def test_expired_reason_text(factory: TokenFactory, verifier: TokenVerifier) -> None:
    exp = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    token = factory.mint(exp, lifetime_s=0)
    verdict = rejected(verifier.verify(token, TENANT, exp + timedelta(seconds=75)), "expired")
    assert verdict.reason == "expired: token expired at 2026-11-24T10:00:00Z, 75 s before the event (leeway 60 s)"
    # the signature verified, so the claims are reported although the token is not accepted
    assert (verdict.subject, verdict.issuer, verdict.key_id, verdict.expires_at) == ("alice", ISSUER, "rsa-1", exp)


def test_not_yet_valid(factory: TokenFactory, verifier: TokenVerifier) -> None:
    later = int(AT.timestamp()) + 120
    verdict = rejected(verifier.verify(factory.mint(AT, claims={"nbf": later}), TENANT, AT), "not_yet_valid")
    assert verdict.reason == (
        "not_yet_valid: token is not valid before 2026-11-24T10:02:00Z, 120 s after the event (leeway 60 s)"
    )


def test_issued_in_future(factory: TokenFactory, verifier: TokenVerifier) -> None:
    later = int(AT.timestamp()) + 61
    verdict = rejected(
        verifier.verify(factory.mint(AT, claims={"iat": later, "nbf": None}), TENANT, AT), "issued_in_future"
    )
    assert "2026-11-24T10:01:01Z, 61 s after the event" in verdict.reason


def test_wrong_audience_forms(factory: TokenFactory, verifier: TokenVerifier) -> None:
    for audience in ("someone-else", ["a", "b"], []):
        verdict = rejected(verifier.verify(factory.mint(AT, claims={"aud": audience}), TENANT, AT), "wrong_audience")
        assert verdict.audience == "" and AUDIENCE in verdict.reason
    token = factory.mint(AT, claims={"aud": ["other-api", AUDIENCE], "azp": "other-api"})
    verdict = rejected(verifier.verify(token, TENANT, AT), "wrong_audience")
    assert "azp" in verdict.reason


def test_subject_mismatch_still_reports_claims(factory: TokenFactory, verifier: TokenVerifier) -> None:
    token = factory.mint(AT, claims={"groups": ["ops"]})
    verdict = rejected(verifier.verify(token, TENANT, AT, claimed_subject="mallory"), "subject_mismatch")
    assert (verdict.subject, verdict.email, verdict.groups) == ("alice", "alice@corp.test.example", ("ops",))
    assert "mallory" not in verdict.reason and "alice" not in verdict.reason


@pytest.mark.parametrize("claim", ["iss", "exp", "aud", "sub"])
def test_missing_claim(factory: TokenFactory, verifier: TokenVerifier, claim: str) -> None:
    token = factory.mint(AT, claims={claim: None})
    verdict = rejected(verifier.verify(token, TENANT, AT), "missing_claim")
    assert repr(claim) in verdict.reason
    assert_no_token_trace(verdict, token)


@pytest.mark.parametrize(
    "claims",
    [{"exp": "tomorrow"}, {"exp": True}, {"nbf": [1]}, {"iss": 7}, {"aud": [AUDIENCE, 3]}, {"sub": 42}, {"azp": 1}],
)
def test_claims_of_the_wrong_type_are_malformed(factory: TokenFactory, verifier: TokenVerifier, claims: dict) -> None:
    if "azp" in claims:
        claims = {**claims, "aud": [AUDIENCE, "other"]}
    token = factory.mint(AT, claims=claims)
    assert_no_token_trace(rejected(verifier.verify(token, TENANT, AT), "malformed"), token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage-token-value",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl.ZXh0cmE",
        "header-part.payload-part.signature-part",
        "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
        "ééééééééé.ééééééééé.ééééééééé",
        "x" * 100_000,
    ],
)
def test_malformed(verifier: TokenVerifier, token: str) -> None:
    verdict = rejected(verifier.verify(token, TENANT, AT), "malformed")
    assert verdict.token_fingerprint == hashlib.sha256(token.encode()).hexdigest()
    assert_no_token_trace(verdict, token)


def test_crit_header_is_malformed(factory: TokenFactory, verifier: TokenVerifier) -> None:
    token = factory.mint(AT, header={"crit": ["exp"], "exp": 1})
    assert_no_token_trace(rejected(verifier.verify(token, TENANT, AT), "malformed"), token)


def test_alg_none_and_unsupported_algorithms(factory: TokenFactory, verifier: TokenVerifier) -> None:
    claims = factory.claims(AT)
    for alg in ("none", "None", "HS256", "ES512"):
        token = encode_token({"alg": alg, "kid": "rsa-1"}, claims, b"\x00" * 32)
        verdict = rejected(verifier.verify(token, TENANT, AT), "alg_not_allowed")
        assert verdict.algorithm == "" and verdict.subject == ""


def test_hmac_signed_with_the_rsa_public_key_refused(factory: TokenFactory, verifier: TokenVerifier) -> None:
    import hmac

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    secret = factory.rsa.private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    unsigned = encode_token({"alg": "HS256", "kid": "rsa-1"}, factory.claims(AT))[:-1]
    token = unsigned + "." + b64url(hmac.new(secret, unsigned.encode(), "sha256").digest())
    rejected(verifier.verify(token, TENANT, AT), "alg_not_allowed")


def test_alg_not_in_allowed_list_rejected_before_any_key_lookup(factory: TokenFactory) -> None:
    fetcher = Fetcher(factory.jwks())
    settings = IdentitySettings(issuers=(factory.issuer_config(jwks_url="https://idp.test.example/jwks"),))
    verifier = TokenVerifier(settings, JwksCache.from_settings(settings, fetch=fetcher, monotonic=Clock()))
    ps_key = next(k for k in factory.keys if k.alg == "PS256")
    verdict = rejected(verifier.verify(factory.mint(AT, key=ps_key), TENANT, AT), "alg_not_allowed")
    assert "RS256, ES256" in verdict.reason
    rejected(verifier.verify(factory.alg_none(AT), TENANT, AT), "alg_not_allowed")
    assert fetcher.calls == 0
    assert verifier.verify(factory.mint(AT), TENANT, AT).verified
    assert fetcher.calls == 1


def test_unknown_issuer_is_checked_before_keys(factory: TokenFactory, verifier: TokenVerifier) -> None:
    token = factory.mint(AT, key=factory.stranger, claims={"iss": "https://other.example"})
    verdict = rejected(verifier.verify(token, TENANT, AT), "unknown_issuer")
    assert "'https://other.example'" in verdict.reason
    assert verdict.issuer == "" and verdict.subject == ""


def test_issuer_not_for_tenant(factory: TokenFactory, jwks_path: Path) -> None:
    verifier = make_verifier(factory, jwks_path, config={"tenants": ("globex",)})
    verdict = rejected(verifier.verify(factory.mint(AT), TENANT, AT), "issuer_not_for_tenant")
    assert verdict.subject == ""


def test_unknown_key_reports_no_claims(factory: TokenFactory, verifier: TokenVerifier) -> None:
    verdict = rejected(verifier.verify(factory.unknown_key(AT), TENANT, AT), "unknown_key")
    reported = (verdict.subject, verdict.email, verdict.groups, verdict.key_id, verdict.expires_at)
    assert reported == ("", "", (), "", None)
    assert "rsa-stranger" not in verdict.reason  # the kid is attacker-chosen text


def test_no_kid_and_no_key_of_that_type(factory: TokenFactory, tmp_path: Path) -> None:
    path = write_jwks(tmp_path / "rsa-only.json", factory.rsa)
    verifier = make_verifier(factory, path)
    token = factory.mint(AT, key=factory.ec, header={"kid": None})
    rejected(verifier.verify(token, TENANT, AT), "unknown_key")


def test_bad_signature_reports_no_claims(factory: TokenFactory, verifier: TokenVerifier) -> None:
    token = factory.tampered(AT)
    verdict = rejected(verifier.verify(token, TENANT, AT), "bad_signature")
    assert (verdict.subject, verdict.issuer, verdict.email, verdict.expires_at) == ("", "", "", None)
    assert verdict.algorithm == "RS256"


def test_no_kid_signed_by_an_unpublished_key(factory: TokenFactory, verifier: TokenVerifier) -> None:
    token = factory.mint(AT, key=factory.stranger, header={"kid": None})
    rejected(verifier.verify(token, TENANT, AT), "bad_signature")


def test_key_type_confusion(factory: TokenFactory, verifier: TokenVerifier) -> None:
    # RS256 token naming the EC key's kid, and ES256 naming the RSA key's kid
    rsa_as_ec = sign_token(factory.rsa, factory.claims(AT), header={"kid": "ec-1"})
    rejected(verifier.verify(rsa_as_ec, TENANT, AT), "key_mismatch")
    ec_as_rsa = sign_token(factory.ec, factory.claims(AT), header={"kid": "rsa-1"})
    rejected(verifier.verify(ec_as_rsa, TENANT, AT), "key_mismatch")
    # ES384 key named by an ES256 token: curve does not match the alg
    p384 = next(k for k in factory.keys if k.kid == "ec-384")
    wrong_curve = sign_token(p384, factory.claims(AT), header={"alg": "ES384", "kid": "ec-1"})
    rejected(verifier.verify(wrong_curve, TENANT, AT), "key_mismatch")


def test_jwk_alg_member_binds_the_key_to_one_algorithm(factory: TokenFactory, verifier: TokenVerifier) -> None:
    # rsa-1 is published with alg RS256: a PS256 signature by the same key is refused
    token = sign_token(factory.rsa, factory.claims(AT), header={"alg": "PS256"})
    verdict = rejected(verifier.verify(token, TENANT, AT), "key_mismatch")
    assert "RS256" in verdict.reason


def test_weak_rsa_key(factory: TokenFactory, tmp_path: Path) -> None:
    small = rsa_key("small", bits=1024)
    path = write_jwks(tmp_path / "weak.json", factory.rsa, small)
    verdict = rejected(make_verifier(factory, path).verify(factory.mint(AT, key=small), TENANT, AT), "weak_key")
    assert "1024" in verdict.reason


def test_jwks_unavailable(factory: TokenFactory, tmp_path: Path) -> None:
    verifier = make_verifier(factory, tmp_path / "missing.json")
    verdict = rejected(verifier.verify(factory.mint(AT), TENANT, AT), "jwks_unavailable")
    assert "missing.json" in verdict.reason and verdict.subject == ""


def test_every_reason_code_is_covered() -> None:
    tested = {
        "missing_token", "malformed", "alg_not_allowed", "missing_claim", "unknown_issuer", "issuer_not_for_tenant",
        "jwks_unavailable", "unknown_key", "key_mismatch", "weak_key", "bad_signature", "expired", "not_yet_valid",
        "issued_in_future", "wrong_audience", "subject_mismatch",
    }  # fmt: skip
    assert tested == set(REASON_CODES)


# -- order of checks ------------------------------------------------------------------------------------


def test_first_failing_check_decides(factory: TokenFactory, verifier: TokenVerifier) -> None:
    cases = [
        # alg before issuer
        (encode_token({"alg": "none"}, {**factory.claims(AT), "iss": "https://x.example"}), "alg_not_allowed"),
        # issuer before key
        (factory.mint(AT, key=factory.stranger, claims={"iss": "https://x.example"}), "unknown_issuer"),
        # key before signature and claims
        (factory.mint(AT - timedelta(days=1), key=factory.stranger, claims={"aud": "x"}), "unknown_key"),
        # signature before times
        (factory.tampered(AT - timedelta(days=1)), "bad_signature"),
        # exp before nbf/iat/aud
        (factory.mint(AT, claims={"exp": 1, "aud": "x", "iat": 4_000_000_000}), "expired"),
        # nbf before iat
        (factory.mint(AT, claims={"nbf": 4_000_000_000, "iat": 4_000_000_000, "exp": 4_000_000_600}), "not_yet_valid"),
        # times before audience
        (factory.mint(AT, claims={"iat": 4_000_000_000, "nbf": None, "aud": "x"}), "issued_in_future"),
        # audience before subject
        (factory.mint(AT, claims={"aud": "x"}), "wrong_audience"),
    ]
    for token, code in cases:
        rejected(verifier.verify(token, TENANT, AT, claimed_subject="mallory"), code)


# -- never a trace of the token -------------------------------------------------------------------------


def test_no_failed_verdict_holds_any_part_of_the_token(factory: TokenFactory, verifier: TokenVerifier) -> None:
    small = rsa_key("small", bits=1024)
    tokens = [
        *factory.bad_variants(AT).values(),
        factory.mint(AT, claims={"aud": ["x", "y"], "azp": "x"}),
        factory.mint(AT, claims={"nbf": 4_000_000_000}),
        factory.mint(AT, claims={"iat": 4_000_000_000}),
        factory.mint(AT, claims={"exp": None}),
        factory.mint(AT, key=small),
        sign_token(factory.rsa, factory.claims(AT), header={"kid": "ec-1"}),
    ]
    for token in tokens:
        for claimed in (None, "mallory"):
            verdict = verifier.verify(token, TENANT, AT, claimed_subject=claimed)
            assert verdict.status == "unverified"
            assert_no_token_trace(verdict, token)
            for field in dataclasses.fields(verdict):
                value = getattr(verdict, field.name)
                if isinstance(value, str) and len(value) >= 8 and field.name != "token_fingerprint":
                    assert value not in token


def test_fingerprint_is_sha256_of_the_token(factory: TokenFactory, verifier: TokenVerifier) -> None:
    for token in (factory.mint(AT), factory.tampered(AT), "not a token"):
        assert verifier.verify(token, TENANT, AT).token_fingerprint == hashlib.sha256(token.encode()).hexdigest()


# -- key rotation and refresh limits --------------------------------------------------------------------


def test_rotation_picked_up_from_the_file_after_the_min_interval(factory: TokenFactory, tmp_path: Path) -> None:
    path = write_jwks(tmp_path / "jwks.json", factory.rsa)
    clock = Clock()
    verifier = make_verifier(factory, path, clock, jwks_refresh_min_interval_s=5)
    assert verifier.verify(factory.mint(AT), TENANT, AT).verified  # initial load
    rotated = rsa_key("rsa-2")
    write_jwks(path, factory.rsa, rotated)  # the IdP publishes a new key
    token = factory.mint(AT, key=rotated)
    clock.now += 2
    verdict = rejected(verifier.verify(token, TENANT, AT), "unknown_key")
    assert "next refresh allowed in 3 s" in verdict.reason
    clock.now += 3
    verdict = verifier.verify(token, TENANT, AT)  # unknown kid: one refresh, now allowed, finds it
    assert verdict.verified and verdict.key_id == "rsa-2"
    assert verifier.jwks.generation(ISSUER) == 2
    write_jwks(path, rotated)  # old key withdrawn
    clock.now += 5
    rejected(verifier.verify(factory.mint(AT), TENANT, AT), "unknown_key")


def test_forged_kid_flood_refreshes_at_most_once_per_interval(factory: TokenFactory) -> None:
    fetcher, clock = Fetcher(factory.jwks()), Clock()
    settings = IdentitySettings(
        issuers=(factory.issuer_config(jwks_url="https://idp.test.example/jwks"),), jwks_refresh_min_interval_s=5
    )
    verifier = TokenVerifier(settings, JwksCache.from_settings(settings, fetch=fetcher, monotonic=clock))
    forged = [factory.mint(AT, key=factory.stranger, header={"kid": f"forged-{i}"}) for i in range(40)]
    for _ in range(20):
        for token in forged:
            rejected(verifier.verify(token, TENANT, AT), "unknown_key")
        clock.now += 1
    # 20 s of flood at a 5 s minimum interval: the initial load plus at most one refresh per 5 s
    assert fetcher.calls <= 1 + 20 // 5
    assert verifier.verify(factory.mint(AT), TENANT, AT).verified


def test_no_kid_bad_signature_flood_is_rate_limited_too(factory: TokenFactory) -> None:
    fetcher, clock = Fetcher(factory.jwks()), Clock()
    settings = IdentitySettings(issuers=(factory.issuer_config(jwks_url="https://idp.test.example/jwks"),))
    verifier = TokenVerifier(settings, JwksCache.from_settings(settings, fetch=fetcher, monotonic=clock))
    token = factory.mint(AT, key=factory.stranger, header={"kid": None})
    for _ in range(200):
        rejected(verifier.verify(token, TENANT, AT), "bad_signature")
    assert fetcher.calls == 1


def test_new_key_without_kid_found_by_a_refresh(factory: TokenFactory) -> None:
    fetcher, clock = Fetcher(jwks_document(factory.rsa)), Clock()
    settings = IdentitySettings(issuers=(factory.issuer_config(jwks_url="https://idp.test.example/jwks"),))
    verifier = TokenVerifier(settings, JwksCache.from_settings(settings, fetch=fetcher, monotonic=clock))
    assert verifier.verify(factory.mint(AT), TENANT, AT).verified
    rotated = rsa_key("rsa-2")
    fetcher.document = jwks_document(rotated)
    clock.now += 5
    verdict = verifier.verify(factory.mint(AT, key=rotated, header={"kid": None}), TENANT, AT)
    assert verdict.verified and verdict.key_id == "rsa-2"


# -- programming errors ---------------------------------------------------------------------------------


def test_naive_event_time_is_a_programming_error(factory: TokenFactory, verifier: TokenVerifier) -> None:
    with pytest.raises(ValueError):
        verifier.verify(factory.mint(AT), TENANT, datetime(2026, 11, 24, 10, 0))


@pytest.mark.parametrize(
    "settings",
    [
        IdentitySettings(algorithms=("RS256", "none")),
        IdentitySettings(algorithms=("HS256",)),
        IdentitySettings(issuers=(IssuerConfig(ISSUER, (), jwks_file="/x"),)),
        IdentitySettings(issuers=(IssuerConfig(ISSUER, ("a",), jwks_file="/x"),) * 2),
        IdentitySettings(issuers=(IssuerConfig(ISSUER, ("a",)),)),
    ],
)
def test_unsafe_settings_refused_at_construction(settings: IdentitySettings) -> None:
    with pytest.raises(ValueError):
        TokenVerifier(settings)


def test_default_settings_work() -> None:
    verifier = TokenVerifier(IdentitySettings())
    assert verifier.verify(None, TENANT, AT).status == "absent"
    rejected(verifier.verify(TokenFactory().mint(AT), TENANT, AT), "unknown_issuer")
