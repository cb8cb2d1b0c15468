"""Test helper: issuer signing keys, JWKS documents and ID tokens, good and bad.

Signs with `cryptography` directly (independently of stream.identity.jwt, so the verifier is checked
against a separate implementation of RFC 7515/7518).

    factory = TokenFactory()                    # keys factory.rsa (RS256, kid 'rsa-1'), factory.ec (ES256, 'ec-1')
    path = factory.write_jwks(tmp_path / "jwks.json")
    settings = IdentitySettings(issuers=(factory.issuer_config(jwks_file=str(path)),))
    token = factory.mint(now)                   # RS256, sub 'alice', aud AUDIENCE, valid 600 s from `now`
    token = factory.mint(now, key=factory.ec, subject="bob", claims={"groups": ["ops"], "email": None})
    for name, bad in factory.bad_variants(now).items():
        ...                                     # BAD_VARIANT_CODES[name] is the reason code to expect

`now` is the event time the token is meant for (a timezone-aware datetime; None = current time).
In `claims=` / `header=` overrides, a value of None removes that member.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from stream.identity.config import IssuerConfig

ISSUER = "https://idp.test.example"
AUDIENCE = "auditledger-stream"
SUBJECT = "alice"

# The reason code the verifier gives each of TokenFactory.bad_variants().
BAD_VARIANT_CODES: dict[str, str] = {
    "expired": "expired",
    "wrong_audience": "wrong_audience",
    "tampered": "bad_signature",
    "unknown_key": "unknown_key",
    "alg_none": "alg_not_allowed",
    "wrong_issuer": "unknown_issuer",
}

_HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, length: int | None = None) -> str:
    return b64url(value.to_bytes(length or max(1, (value.bit_length() + 7) // 8), "big"))


@dataclass(frozen=True)
class SigningKey:
    """A private key with the kid and JWS alg it signs under."""

    kid: str
    alg: str
    private_key: Any

    def public_jwk(self) -> dict[str, str]:
        """The JWK of the public half (with kid, use 'sig' and alg)."""
        public = self.private_key.public_key()
        jwk: dict[str, str]
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            jwk = {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e)}
        elif isinstance(public, ec.EllipticCurvePublicKey):
            size = (public.curve.key_size + 7) // 8
            numbers = public.public_numbers()
            crv = {"secp256r1": "P-256", "secp384r1": "P-384"}[public.curve.name]
            jwk = {"kty": "EC", "crv": crv, "x": _uint(numbers.x, size), "y": _uint(numbers.y, size)}
        else:
            raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
            jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def sign(self, signing_input: bytes, alg: str | None = None) -> bytes:
        """JWS signature over `signing_input` with `alg` (default: the key's own)."""
        alg = alg or self.alg
        key = self.private_key
        if alg.startswith("RS"):
            return key.sign(signing_input, padding.PKCS1v15(), _HASH[alg[2:]]())
        if alg.startswith("PS"):
            digest = _HASH[alg[2:]]()
            return key.sign(signing_input, padding.PSS(padding.MGF1(digest), digest.digest_size), digest)
        if alg.startswith("ES"):
            r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(_HASH[alg[2:]]())))
            size = (key.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if alg == "EdDSA":
            return key.sign(signing_input)
        raise ValueError(f"cannot sign with {alg}")


def rsa_key(kid: str = "rsa-1", alg: str = "RS256", bits: int = 2048) -> SigningKey:
    """RSA key (RS256/384/512 or PS256/384/512)."""
    return SigningKey(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=bits))


def ec_key(kid: str = "ec-1", alg: str = "ES256") -> SigningKey:
    """P-256 key for ES256, P-384 for ES384."""
    curve = ec.SECP384R1() if alg == "ES384" else ec.SECP256R1()
    return SigningKey(kid, alg, ec.generate_private_key(curve))


def ed25519_key(kid: str = "ed-1") -> SigningKey:
    return SigningKey(kid, "EdDSA", Ed25519PrivateKey.generate())


def jwks_document(*keys: SigningKey) -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.public_jwk() for key in keys]}


def write_jwks(path: str | Path, *keys: SigningKey) -> Path:
    """Write the JWKS of `keys` to `path` (replacing it) and return the path."""
    path = Path(path)
    path.write_text(json.dumps(jwks_document(*keys), indent=2))
    return path


def encode_token(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes = b"") -> str:
    """`header.payload.signature` from JSON objects and raw signature bytes (no signing)."""
    head = b64url(json.dumps(dict(header), separators=(",", ":")).encode())
    body = b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    return f"{head}.{body}.{b64url(signature)}"


def sign_token(key: SigningKey, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
    """Sign `claims`; the header is {alg, typ: JWT, kid} updated by `header` (None values remove members)."""
    merged = _merge({"alg": key.alg, "typ": "JWT", "kid": key.kid}, header)
    unsigned = encode_token(merged, claims)[:-1]  # drop the trailing '.' of the empty signature
    return f"{unsigned}.{b64url(key.sign(unsigned.encode('ascii'), merged.get('alg')))}"


def _merge(base: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(base)
    for name, value in (overrides or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _epoch(now: datetime | None) -> int:
    return int((now or datetime.now(UTC)).timestamp())


class TokenFactory:
    """An issuer with published keys (`rsa`, `ec`, plus any `extra_keys`) and an unpublished `stranger` key."""

    def __init__(
        self, issuer: str = ISSUER, audience: str = AUDIENCE, extra_keys: tuple[SigningKey, ...] = ()
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.rsa = rsa_key("rsa-1", "RS256")
        self.ec = ec_key("ec-1", "ES256")
        self.keys: list[SigningKey] = [self.rsa, self.ec, *extra_keys]
        self.stranger = rsa_key("rsa-stranger", "RS256")  # never in the JWKS

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return jwks_document(*self.keys)

    def write_jwks(self, path: str | Path) -> Path:
        return write_jwks(path, *self.keys)

    def issuer_config(self, jwks_file: str = "", jwks_url: str = "", **options: Any) -> IssuerConfig:
        """IssuerConfig trusting this factory's issuer and audience (`options`: tenants, groups_claim, ...)."""
        return IssuerConfig(
            issuer=self.issuer, audiences=(self.audience,), jwks_file=jwks_file, jwks_url=jwks_url, **options
        )

    def claims(self, now: datetime | None = None, *, subject: str = SUBJECT, lifetime_s: int = 600) -> dict[str, Any]:
        """Standard ID-token claims: iss, sub, aud, iat = nbf = now, exp = now + lifetime_s, email."""
        issued = _epoch(now)
        return {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime_s,
            "email": f"{subject}@corp.test.example",
        }

    def mint(
        self,
        now: datetime | None = None,
        *,
        key: SigningKey | None = None,
        subject: str = SUBJECT,
        lifetime_s: int = 600,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed token (default key: the RSA one) with the standard claims updated by `claims`."""
        body = _merge(self.claims(now, subject=subject, lifetime_s=lifetime_s), claims)
        return sign_token(key or self.rsa, body, header)

    # -- bad variants ---------------------------------------------------------------------------------

    def expired(self, now: datetime | None = None) -> str:
        """Expired an hour before `now` (well beyond any leeway)."""
        issued = _epoch(now) - 7200
        return self.mint(now, claims={"iat": issued, "nbf": issued, "exp": issued + 3600})

    def wrong_audience(self, now: datetime | None = None) -> str:
        return self.mint(now, claims={"aud": "some-other-client"})

    def tampered(self, now: datetime | None = None) -> str:
        """A valid token whose payload had one byte flipped (inside the subject) after signing."""
        head, body, signature = self.mint(now).split(".")
        raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        marker = b'"sub":"'
        position = bytes(raw).index(marker) + len(marker)
        raw[position] ^= 0x01  # 'a' -> '`': still valid JSON, so only the signature can catch it
        return f"{head}.{b64url(bytes(raw))}.{signature}"

    def unknown_key(self, now: datetime | None = None) -> str:
        """Signed by `stranger`, whose kid is not in the JWKS."""
        return self.mint(now, key=self.stranger)

    def alg_none(self, now: datetime | None = None) -> str:
        """Unsigned: header alg 'none', empty signature."""
        return encode_token({"alg": "none", "typ": "JWT"}, self.claims(now))

    def wrong_issuer(self, now: datetime | None = None) -> str:
        """Signed by a published key but naming an issuer that is not configured."""
        return self.mint(now, claims={"iss": "https://other-idp.test.example"})

    def bad_variants(self, now: datetime | None = None) -> dict[str, str]:
        """Every bad variant by name (see BAD_VARIANT_CODES for the reason code each must get)."""
        return {name: getattr(self, name)(now) for name in BAD_VARIANT_CODES}
