"""stream.identity.jwt: strict JWS compact parsing and signature checks for each supported algorithm."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from stream.identity.jwt import (
    SUPPORTED_ALGORITHMS,
    AlgorithmNotAllowed,
    BadSignature,
    KeyMismatch,
    MalformedToken,
    WeakKey,
    b64url_decode,
    b64url_encode,
    check_algorithm,
    check_key,
    parse_compact,
    verify_signature,
)
from tests.identity.token_factory import SigningKey, b64url, ec_key, ed25519_key, encode_token, rsa_key, sign_token

CLAIMS = {"iss": "https://idp.test.example", "sub": "alice", "aud": "x", "exp": 2_000_000_000}


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    rsa = rsa_key("r")
    rsa_algs = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
    return {
        **{alg: SigningKey("r", alg, rsa.private_key) for alg in rsa_algs},
        "ES256": ec_key("e256", "ES256"),
        "ES384": ec_key("e384", "ES384"),
        "EdDSA": ed25519_key("ed"),
    }


def segment(obj: object) -> str:
    return b64url(json.dumps(obj).encode())


# -- base64url ------------------------------------------------------------------------------------------


def test_b64url_round_trip() -> None:
    for data in (b"", b"a", b"ab", b"abc", bytes(range(256))):
        assert b64url_decode(b64url_encode(data)) == data


@pytest.mark.parametrize("text", ["QQ==", "QQ=", "Q+", "Q/", "QQ QQ", "QQ\n", "Q", "QUJDR", "QR", "é"])
def test_b64url_strict(text: str) -> None:
    # padding, standard-alphabet chars, whitespace, impossible length, non-canonical trailing bits, non-ASCII
    with pytest.raises(MalformedToken):
        b64url_decode(text)


# -- parsing --------------------------------------------------------------------------------------------


def test_parse_good_token(keys: dict[str, SigningKey]) -> None:
    token = sign_token(keys["RS256"], CLAIMS)
    jws = parse_compact(token)
    assert jws.alg == "RS256" and jws.kid == "r"
    assert jws.payload == CLAIMS
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()


HEADER = segment({"alg": "RS256"})
PAYLOAD = segment(CLAIMS)
NOT_UTF8 = b64url(b"\xff\xfe")
DUPLICATE_ALG = b64url(b'{"alg":"RS256","alg":"none"}')
NAN_EXP = b64url(b'{"exp":NaN}')
HUGE_EXP = b64url(b'{"exp":1e400}')
DEEP = b64url(b'{"a":' + b"[" * 20000 + b"]" * 20000 + b"}")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        f"{HEADER}.{PAYLOAD}",
        f"{HEADER}.{PAYLOAD}.AAAA.BBBB",
        f"{HEADER}.{PAYLOAD}.AAAA.BBBB.CCCC",  # JWE shape
        f".{PAYLOAD}.AAAA",
        f"{HEADER}..AAAA",
        f"{HEADER}=.{PAYLOAD}.AAAA",
        f"{HEADER}.{PAYLOAD}.AAAA=",
        f"{segment(['RS256'])}.{PAYLOAD}.AAAA",  # header not an object
        f"{b64url(b'{not json')}.{PAYLOAD}.AAAA",
        f"{NOT_UTF8}.{PAYLOAD}.AAAA",  # not UTF-8
        f"{segment({'typ': 'JWT'})}.{PAYLOAD}.AAAA",  # no alg
        f"{segment({'alg': 256})}.{PAYLOAD}.AAAA",
        f"{segment({'alg': 'RS256', 'crit': ['exp']})}.{PAYLOAD}.AAAA",
        f"{segment({'alg': 'RS256', 'kid': 7})}.{PAYLOAD}.AAAA",
        f"{DUPLICATE_ALG}.{PAYLOAD}.AAAA",  # duplicate member
        f"{HEADER}.{segment([1, 2])}.AAAA",  # payload not an object
        f"{HEADER}.{NAN_EXP}.AAAA",
        f"{HEADER}.{HUGE_EXP}.AAAA",
        f"{HEADER}.{DEEP}.AAAA",  # nesting deep enough to exhaust the recursion limit
        f"Bearer {HEADER}.{PAYLOAD}.AAAA",
        f" {HEADER}.{PAYLOAD}.AAAA",
        f"{HEADER}.{PAYLOAD}.AAAA\n",
        f"{HEADER}.{segment({'pad': 'x' * 70000})}.AAAA",  # too long
    ],
)
def test_parse_rejects(token: str) -> None:
    with pytest.raises(MalformedToken) as info:
        parse_compact(token)
    message = str(info.value)
    for part in token.split("."):
        if len(part) >= 4:
            assert part not in message


def test_parse_allows_empty_signature_for_the_alg_check() -> None:
    jws = parse_compact(encode_token({"alg": "none"}, CLAIMS))
    assert jws.signature == b"" and jws.alg == "none"


# -- algorithm policy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_none_never_allowed(alg: str) -> None:
    with pytest.raises(AlgorithmNotAllowed):
        check_algorithm(alg, [alg, *SUPPORTED_ALGORITHMS])


@pytest.mark.parametrize("alg", ["HS256", "HS512", "ES512", "RSA-OAEP", "x" * 500])
def test_unsupported_never_allowed(alg: str) -> None:
    with pytest.raises(AlgorithmNotAllowed) as info:
        check_algorithm(alg, [alg])
    assert "x" * 50 not in str(info.value)  # attacker-chosen alg text is not echoed


def test_algorithm_must_be_in_allowed_list() -> None:
    assert check_algorithm("ES256", ["RS256", "ES256"]) == "ES256"
    with pytest.raises(AlgorithmNotAllowed):
        check_algorithm("PS256", ["RS256", "ES256"])


# -- signatures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", SUPPORTED_ALGORITHMS)
def test_each_algorithm_verifies(keys: dict[str, SigningKey], alg: str) -> None:
    key = keys[alg]
    jws = parse_compact(sign_token(key, CLAIMS))
    public = key.private_key.public_key()
    verify_signature(alg, jws.signing_input, jws.signature, public)
    with pytest.raises(BadSignature):
        verify_signature(alg, jws.signing_input + b"x", jws.signature, public)
    with pytest.raises(BadSignature):
        verify_signature(alg, jws.signing_input, bytes([jws.signature[0] ^ 1]) + jws.signature[1:], public)


def test_pkcs1_and_pss_are_not_interchangeable(keys: dict[str, SigningKey]) -> None:
    jws = parse_compact(sign_token(keys["RS256"], CLAIMS))
    public = keys["RS256"].private_key.public_key()
    with pytest.raises(BadSignature):
        verify_signature("PS256", jws.signing_input, jws.signature, public)
    with pytest.raises(BadSignature):
        verify_signature("RS384", jws.signing_input, jws.signature, public)


@pytest.mark.parametrize("alg,size", [("ES256", 64), ("ES384", 96)])
def test_ecdsa_signature_must_be_raw_r_s_of_exact_length(keys: dict[str, SigningKey], alg: str, size: int) -> None:
    key = keys[alg]
    jws = parse_compact(sign_token(key, CLAIMS))
    public = key.private_key.public_key()
    assert len(jws.signature) == size
    der = key.private_key.sign(jws.signing_input, ec.ECDSA(hashes.SHA256() if alg == "ES256" else hashes.SHA384()))
    for bad in (der, jws.signature[:-1], jws.signature + b"\x00", b"\x00" + jws.signature, b""):
        with pytest.raises(BadSignature):
            verify_signature(alg, jws.signing_input, bad, public)


@pytest.mark.parametrize(
    "alg,key_name",
    [
        ("RS256", "ES256"),  # RS with an EC key
        ("PS256", "EdDSA"),
        ("ES256", "RS256"),  # ES with an RSA key
        ("ES256", "ES384"),  # curve does not match the alg
        ("ES384", "ES256"),
        ("EdDSA", "ES256"),
        ("EdDSA", "RS256"),
    ],
)
def test_key_type_confusion(keys: dict[str, SigningKey], alg: str, key_name: str) -> None:
    public = keys[key_name].private_key.public_key()
    with pytest.raises(KeyMismatch):
        check_key(alg, public)
    with pytest.raises(KeyMismatch):
        verify_signature(alg, b"a.b", b"\x00" * 64, public)


def test_hmac_with_an_rsa_public_key_is_refused(keys: dict[str, SigningKey]) -> None:
    # The classic confusion: HS256 "signed" with the RSA public key as the HMAC secret.
    public = keys["RS256"].private_key.public_key()
    with pytest.raises(AlgorithmNotAllowed):
        check_key("HS256", public)
    with pytest.raises(AlgorithmNotAllowed):
        check_algorithm("HS256", ["HS256", "RS256"])


def test_small_rsa_key_rejected() -> None:
    small = rsa_key("small", bits=1024)
    jws = parse_compact(sign_token(small, CLAIMS))
    with pytest.raises(WeakKey):
        verify_signature("RS256", jws.signing_input, jws.signature, small.private_key.public_key())
