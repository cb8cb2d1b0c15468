"""JWS compact serialization (RFC 7515) for signed ID tokens: strict parsing and signature checks.

Only asymmetric algorithms are supported (RFC 7518 section 3, RFC 8037):
    RS256/RS384/RS512  RSASSA-PKCS1-v1_5 with SHA-2, RSA key of at least 2048 bits
    PS256/PS384/PS512  RSASSA-PSS with SHA-2, MGF1 with the same hash, salt length = digest length
    ES256/ES384        ECDSA on P-256/P-384, signature is JOSE raw r || s (32 + 32 / 48 + 48 octets)
    EdDSA              Ed25519

`none`, HMAC (HS*) and anything else are never accepted, whatever a caller's allowed list says. Keys
embedded in or referenced by the header (`jwk`, `jku`, `x5u`, `x5c`) are ignored: keys only ever
come from the issuer's configured JWKS. A header with `crit` is rejected (no extension is understood).

Error messages never quote the token or any part of it; they are safe to record and alert on.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | Ed25519PublicKey

SUPPORTED_ALGORITHMS: tuple[str, ...] = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
)
MIN_RSA_BITS = 2048
MAX_TOKEN_CHARS = 65536

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
# alg -> (curve class, octets per coordinate of r and s)
_EC_CURVES: dict[str, tuple[type[ec.EllipticCurve], int]] = {"ES256": (ec.SECP256R1, 32), "ES384": (ec.SECP384R1, 48)}
# Well-known JOSE algorithm names: the only header `alg` values a message will quote (anything else is
# attacker-chosen text and is described, not shown).
_KNOWN_ALG_NAMES = frozenset(
    SUPPORTED_ALGORITHMS
    + ("none", "HS256", "HS384", "HS512", "ES512", "ES256K", "Ed25519", "Ed448", "RSA1_5", "RSA-OAEP", "dir")
)
_B64URL_CHARS = re.compile(r"[A-Za-z0-9_-]*")


class JoseError(ValueError):
    """A token or key that cannot be accepted. `code` is a short stable reason code."""

    code = "malformed"


class MalformedToken(JoseError):
    code = "malformed"


class AlgorithmNotAllowed(JoseError):
    code = "alg_not_allowed"


class KeyMismatch(JoseError):
    """The key cannot be used with the token's algorithm (wrong type, wrong curve, or its JWK `alg` differs)."""

    code = "key_mismatch"


class WeakKey(JoseError):
    code = "weak_key"


class BadSignature(JoseError):
    code = "bad_signature"


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str = "value") -> bytes:
    """Strict unpadded base64url: only [A-Za-z0-9_-], no '=' padding, no whitespace, canonical trailing bits."""
    if not isinstance(text, str) or not _B64URL_CHARS.fullmatch(text):
        raise MalformedToken(f"{what} is not unpadded base64url")
    if len(text) % 4 == 1:
        raise MalformedToken(f"{what} has an impossible base64url length")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken(f"{what} is not unpadded base64url") from exc
    if b64url_encode(raw) != text:
        raise MalformedToken(f"{what} is not canonical base64url")
    return raw


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("non-finite number")
    return value


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member name")
        result[key] = value
    return result


def parse_json_object(raw: bytes, what: str) -> dict[str, Any]:
    """UTF-8 JSON object; duplicate member names, NaN/Infinity and overflowing numbers are rejected."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedToken(f"{what} is not UTF-8") from exc
    try:
        value = json.loads(
            text, object_pairs_hook=_unique_object, parse_constant=_reject_constant, parse_float=_finite_float
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError; messages are not reused
        raise MalformedToken(f"{what} is not valid JSON (or has duplicate members or non-finite numbers)") from exc
    if not isinstance(value, dict):
        raise MalformedToken(f"{what} is not a JSON object")
    return value


def describe_algorithm(alg: object) -> str:
    """The header `alg` as it may appear in a message: quoted only when it is a well-known name."""
    if isinstance(alg, str) and alg in _KNOWN_ALG_NAMES:
        return repr(alg)
    return "an unrecognised algorithm"


@dataclass(frozen=True)
class Jws:
    """A parsed, not yet verified, JWS compact token."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return self.header["alg"]

    @property
    def kid(self) -> str | None:
        return self.header.get("kid")


def parse_compact(token: str) -> Jws:
    """Split and decode `header.payload.signature`. Raises MalformedToken; never checks the signature."""
    if not isinstance(token, str):
        raise MalformedToken("token is not a string")
    if not token:
        raise MalformedToken("token is empty")
    if len(token) > MAX_TOKEN_CHARS:
        raise MalformedToken(f"token is longer than {MAX_TOKEN_CHARS} characters")
    if token[:7].lower() == "bearer ":
        raise MalformedToken("token carries an HTTP 'Bearer ' prefix; pass the bare token")
    parts = token.split(".")
    if len(parts) == 5:
        raise MalformedToken("token is a JWE (encrypted); only signed JWS tokens are accepted")
    if len(parts) != 3:
        raise MalformedToken(f"token has {len(parts)} dot-separated parts, JWS compact form has 3")
    header_b64, payload_b64, signature_b64 = parts
    if not header_b64 or not payload_b64:
        raise MalformedToken("token header or payload is empty")
    header = parse_json_object(b64url_decode(header_b64, "header"), "header")
    if "crit" in header:
        raise MalformedToken("header has 'crit' extensions, none of which are supported")
    if "alg" not in header:
        raise MalformedToken("header has no 'alg'")
    if not isinstance(header["alg"], str):
        raise MalformedToken("header 'alg' is not a string")
    if "kid" in header and not isinstance(header["kid"], str):
        raise MalformedToken("header 'kid' is not a string")
    if header.get("b64") is False:  # RFC 7797 unencoded payload (only valid with crit, rejected above anyway)
        raise MalformedToken("header asks for an unencoded payload (b64: false)")
    payload = parse_json_object(b64url_decode(payload_b64, "payload"), "payload")
    signature = b64url_decode(signature_b64, "signature")
    return Jws(header, payload, f"{header_b64}.{payload_b64}".encode("ascii"), signature)


def check_algorithm(alg: object, allowed: Iterable[str]) -> str:
    """The algorithm if it is supported and in `allowed`; raises AlgorithmNotAllowed (always for 'none')."""
    allowed = tuple(allowed)
    shown = describe_algorithm(alg)
    if not isinstance(alg, str):
        raise AlgorithmNotAllowed("header 'alg' is not a string")
    if alg.lower() == "none":
        raise AlgorithmNotAllowed("unsigned tokens (alg 'none') are never accepted")
    if alg not in SUPPORTED_ALGORITHMS:
        raise AlgorithmNotAllowed(f"algorithm {shown} is not supported (supported: {', '.join(SUPPORTED_ALGORITHMS)})")
    if alg not in allowed:
        raise AlgorithmNotAllowed(f"algorithm {shown} is not in the allowed list ({', '.join(allowed) or 'empty'})")
    return alg


def key_type_name(key: object) -> str:
    """Short human description of a public key ('RSA-2048', 'EC P-256', 'Ed25519')."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "EC P-256", "secp384r1": "EC P-384", "secp521r1": "EC P-521"}.get(
            key.curve.name, f"EC {key.curve.name}"
        )
    if isinstance(key, Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__


def key_fits(alg: str, key: object) -> bool:
    """Whether `key` is of the type (and curve) `alg` needs; the RSA size is checked by check_key."""
    if alg[:2] in ("RS", "PS"):
        return isinstance(key, rsa.RSAPublicKey)
    if alg in _EC_CURVES:
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _EC_CURVES[alg][0])
    if alg == "EdDSA":
        return isinstance(key, Ed25519PublicKey)
    return False


def check_key(alg: str, key: object) -> None:
    """Raise KeyMismatch if `key` cannot serve `alg`, WeakKey if it is an RSA key below 2048 bits."""
    if alg not in SUPPORTED_ALGORITHMS:
        raise AlgorithmNotAllowed(f"algorithm {describe_algorithm(alg)} is not supported")
    if not key_fits(alg, key):
        raise KeyMismatch(f"cannot verify {alg} with the {key_type_name(key)} key")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise WeakKey(f"RSA key has {key.key_size} bits, at least {MIN_RSA_BITS} are required")


def verify_signature(alg: str, signing_input: bytes, signature: bytes, key: PublicKey) -> None:
    """Check a JWS signature made with `alg` by `key`. Raises KeyMismatch, WeakKey or BadSignature."""
    check_key(alg, key)
    try:
        if alg[:2] == "RS":
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, signing_input, padding.PKCS1v15(), _HASHES[alg[2:]]())
        elif alg[:2] == "PS":
            assert isinstance(key, rsa.RSAPublicKey)
            digest = _HASHES[alg[2:]]()
            key.verify(signature, signing_input, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
        elif alg in _EC_CURVES:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            size = _EC_CURVES[alg][1]
            if len(signature) != 2 * size:
                raise BadSignature(f"{alg} signature is {len(signature)} octets, expected {2 * size} (raw r || s)")
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(_HASHES[alg[2:]]()))
        else:  # EdDSA
            assert isinstance(key, Ed25519PublicKey)
            key.verify(signature, signing_input)
    except InvalidSignature as exc:
        raise BadSignature(f"{alg} signature does not verify with the {key_type_name(key)} key") from exc
    except ValueError as exc:  # e.g. r or s out of range; not an InvalidSignature in every backend path
        if isinstance(exc, JoseError):
            raise
        raise BadSignature(f"{alg} signature is not well formed") from exc
