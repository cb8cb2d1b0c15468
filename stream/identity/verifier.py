"""Verify the OIDC ID token attached to an audit event and summarise the outcome as an IdentityVerdict.

Checks, in order (the first failure decides the reason):
    parse (malformed) -> alg allowed (alg_not_allowed; 'none' always) -> iss configured (unknown_issuer)
    -> issuer allowed for the tenant (issuer_not_for_tenant) -> key by kid, one rate-limited JWKS refresh
    on an unknown kid (unknown_key, key_mismatch, weak_key, jwks_unavailable) -> signature (bad_signature)
    -> exp, required, with leeway against the event time (expired) -> nbf (not_yet_valid)
    -> iat not after event time + leeway (issued_in_future) -> aud / azp (wrong_audience)
    -> sub present (missing_claim) -> claimed subject equals sub (subject_mismatch).
Any required claim absent gives missing_claim; a claim of the wrong JSON type gives malformed.

The verdict never holds the token: only its SHA-256 fingerprint. Claims (subject, email, groups, key id,
expiry) are reported only once the signature has verified. Reasons quote nothing from the token except
times, the issuer and audiences (an unverified issuer is shown truncated and escaped).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from stream.identity.config import IdentitySettings, IssuerConfig
from stream.identity.jwks import Jwk, JwksCache, JwksUnavailable
from stream.identity.jwt import (
    SUPPORTED_ALGORITHMS,
    JoseError,
    Jws,
    check_algorithm,
    key_fits,
    parse_compact,
    verify_signature,
)

Status = Literal["verified", "unverified", "absent"]

REASON_CODES: tuple[str, ...] = (
    "missing_token",
    "malformed",
    "alg_not_allowed",
    "missing_claim",
    "unknown_issuer",
    "issuer_not_for_tenant",
    "jwks_unavailable",
    "unknown_key",
    "key_mismatch",
    "weak_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "wrong_audience",
    "subject_mismatch",
)

_SHOWN_CHARS = 100


@dataclass(frozen=True)
class IdentityVerdict:
    """What the stream records about an event's token. `reason` is "" when verified or absent."""

    status: Status
    reason: str = ""
    reason_code: str = ""
    subject: str = ""
    issuer: str = ""
    email: str = ""
    groups: tuple[str, ...] = ()
    audience: str = ""
    key_id: str = ""
    algorithm: str = ""
    expires_at: datetime | None = None
    token_fingerprint: str = ""

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def token_fingerprint(token: str) -> str:
    """Hex SHA-256 of the token's bytes (ASCII for any well-formed token)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class _Reject(Exception):
    def __init__(self, code: str, explanation: str) -> None:
        super().__init__(code)
        self.code = code
        self.explanation = explanation


def _show(value: object) -> str:
    """A value from the token for a reason: repr, truncated."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _SHOWN_CHARS:
        return repr(text[:_SHOWN_CHARS]) + "..."
    return repr(text)


def _format_time(seconds: float) -> str:
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return f"NumericDate {seconds:g}"
    if moment.microsecond:
        return moment.isoformat().replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _format_seconds(seconds: float) -> str:
    if float(seconds).is_integer():
        return f"{int(seconds)} s"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + " s"


def _numeric_date(payload: dict[str, Any], name: str, required: bool) -> float | None:
    if name not in payload:
        if required:
            raise _Reject("missing_claim", f"token has no {name!r} claim")
        return None
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Reject("malformed", f"{name!r} claim is not a number of seconds")
    return float(value)


class TokenVerifier:
    """Checks tokens against the configured issuers. `verify` never raises for bad tokens.

    Raises ValueError at construction for settings that could never work safely (an algorithm that is
    not supported, such as 'none' or HS256; an issuer configured twice or without audiences; an issuer
    with both or neither of jwks_file / jwks_url, or a non-https jwks_url when the cache is built here).
    """

    def __init__(self, settings: IdentitySettings, jwks: JwksCache | None = None) -> None:
        unsupported = [alg for alg in settings.algorithms if alg not in SUPPORTED_ALGORITHMS]
        if unsupported:
            raise ValueError(
                f"identity settings allow unsupported algorithms {unsupported}; supported: {SUPPORTED_ALGORITHMS}"
            )
        self._issuers: dict[str, IssuerConfig] = {}
        for config in settings.issuers:
            if config.issuer in self._issuers:
                raise ValueError(f"issuer {config.issuer!r} configured twice")
            if not config.audiences:
                raise ValueError(f"issuer {config.issuer!r} has no audiences")
            self._issuers[config.issuer] = config
        self._settings = settings
        self._jwks = jwks if jwks is not None else JwksCache.from_settings(settings)

    @property
    def jwks(self) -> JwksCache:
        return self._jwks

    def verify(
        self, token: str | None, tenant: str, at: datetime, claimed_subject: str | None = None
    ) -> IdentityVerdict:
        """Verdict on `token` for an event of `tenant` that happened at `at` (timezone-aware)."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("event time must be timezone-aware")
        if token is None:
            if self._settings.require_token:
                return IdentityVerdict(
                    "unverified", "missing_token: event carries no identity token and one is required", "missing_token"
                )
            return IdentityVerdict("absent")
        if not isinstance(token, str):
            raise TypeError(f"token must be a str or None, not {type(token).__name__}")
        fingerprint = token_fingerprint(token)
        facts: dict[str, Any] = {}
        try:
            self._check(token, tenant, at, claimed_subject, facts)
        except _Reject as rejection:
            return IdentityVerdict(
                "unverified",
                f"{rejection.code}: {rejection.explanation}",
                rejection.code,
                token_fingerprint=fingerprint,
                **facts,
            )
        return IdentityVerdict("verified", token_fingerprint=fingerprint, **facts)

    # -- the checks ---------------------------------------------------------------------------------

    def _check(
        self, token: str, tenant: str, at: datetime, claimed_subject: str | None, facts: dict[str, Any]
    ) -> None:
        try:
            jws = parse_compact(token)
            alg = check_algorithm(jws.alg, self._settings.algorithms)
        except JoseError as exc:
            raise _Reject(exc.code, str(exc)) from None
        facts["algorithm"] = alg

        payload = jws.payload
        if "iss" not in payload:
            raise _Reject("missing_claim", "token has no 'iss' claim")
        issuer = payload["iss"]
        if not isinstance(issuer, str):
            raise _Reject("malformed", "'iss' claim is not a string")
        config = self._issuers.get(issuer)
        if config is None:
            raise _Reject("unknown_issuer", f"issuer {_show(issuer)} is not a configured issuer")
        if config.tenants and tenant not in config.tenants:
            raise _Reject("issuer_not_for_tenant", f"issuer {issuer!r} may not vouch for this event's tenant")

        key = self._verified_key(jws, alg, config)
        self._report_claims(jws, key, config, facts)

        at_s = at.timestamp()
        leeway = self._settings.leeway_s
        expires = _numeric_date(payload, "exp", required=True)
        assert expires is not None
        if at_s >= expires + leeway:
            raise _Reject(
                "expired",
                f"token expired at {_format_time(expires)}, {_format_seconds(at_s - expires)} before the event"
                f" (leeway {_format_seconds(leeway)})",
            )
        not_before = _numeric_date(payload, "nbf", required=False)
        if not_before is not None and at_s < not_before - leeway:
            raise _Reject(
                "not_yet_valid",
                f"token is not valid before {_format_time(not_before)}, {_format_seconds(not_before - at_s)} after"
                f" the event (leeway {_format_seconds(leeway)})",
            )
        issued = _numeric_date(payload, "iat", required=False)
        if issued is not None and issued > at_s + leeway:
            raise _Reject(
                "issued_in_future",
                f"token issued at {_format_time(issued)}, {_format_seconds(issued - at_s)} after the event"
                f" (leeway {_format_seconds(leeway)})",
            )

        facts["audience"] = self._matched_audience(payload, config)

        if "sub" not in payload:
            raise _Reject("missing_claim", "token has no 'sub' claim")
        if claimed_subject is not None and claimed_subject != facts["subject"]:
            raise _Reject("subject_mismatch", "the subject the event claims differs from the token's 'sub'")

    def _verified_key(self, jws: Jws, alg: str, config: IssuerConfig) -> Jwk:
        """The issuer key whose signature over the token checks; one rate-limited refresh if none is found."""
        issuer = config.issuer
        kid = jws.kid
        keys = self._keys(issuer)
        generation = self._jwks.generation(issuer)
        try:
            return self._try_keys(jws, alg, config, keys)
        except _Reject as first:
            # Refresh only when the key may simply be new: kid unknown, or no kid and nothing verified.
            if first.code != "unknown_key" and not (kid is None and first.code == "bad_signature"):
                raise
            if not self._jwks.refresh(issuer):
                if first.code != "unknown_key":
                    raise
                error = self._jwks.last_error(issuer)
                if error:
                    suffix = f" (and the key set could not be refreshed: {error})"
                else:
                    wait = round(self._jwks.seconds_until_refresh_allowed(issuer), 1)
                    suffix = f" (key set refreshed recently; next refresh allowed in {_format_seconds(wait)})"
                raise _Reject(first.code, first.explanation + suffix) from None
            if self._jwks.generation(issuer) == generation:
                raise
            return self._try_keys(jws, alg, config, self._keys(issuer))

    def _keys(self, issuer: str) -> tuple[Jwk, ...]:
        try:
            return self._jwks.keys(issuer).keys
        except JwksUnavailable as exc:
            raise _Reject("jwks_unavailable", f"keys of issuer {issuer!r} unavailable: {exc}") from None

    def _try_keys(self, jws: Jws, alg: str, config: IssuerConfig, keys: tuple[Jwk, ...]) -> Jwk:
        kid = jws.kid
        if kid is not None:
            candidates = [k for k in keys if k.kid == kid]
            if not candidates:
                raise _Reject("unknown_key", f"no key with the token's kid in the JWKS of issuer {config.issuer!r}")
        else:
            candidates = [k for k in keys if key_fits(alg, k.key)]
            if not candidates:
                raise _Reject(
                    "unknown_key", f"token has no kid and issuer {config.issuer!r} publishes no key usable with {alg}"
                )
        failure: JoseError | None = None
        for candidate in candidates:
            try:
                if candidate.alg is not None and candidate.alg != alg:
                    published = _show(candidate.alg)
                    raise _KeyAlgMismatch(f"cannot verify {alg} with a key the JWKS publishes for {published}")
                verify_signature(alg, jws.signing_input, jws.signature, candidate.key)
            except JoseError as exc:
                if failure is None or _precedence(exc) > _precedence(failure):
                    failure = exc
                continue
            return candidate
        assert failure is not None
        raise _Reject(failure.code, str(failure))

    def _report_claims(self, jws: Jws, key: Jwk, config: IssuerConfig, facts: dict[str, Any]) -> None:
        payload = jws.payload
        facts["issuer"] = config.issuer
        facts["key_id"] = key.kid or ""
        subject = payload.get("sub")
        if subject is not None and not isinstance(subject, str):
            raise _Reject("malformed", "'sub' claim is not a string")
        facts["subject"] = subject or ""
        email = payload.get(config.email_claim)
        facts["email"] = email if isinstance(email, str) else ""
        groups = payload.get(config.groups_claim)
        if isinstance(groups, str):
            facts["groups"] = (groups,)
        elif isinstance(groups, list) and all(isinstance(g, str) for g in groups):
            facts["groups"] = tuple(groups)
        expires = payload.get("exp")
        if isinstance(expires, int | float) and not isinstance(expires, bool):
            try:
                facts["expires_at"] = datetime.fromtimestamp(expires, UTC)
            except (OverflowError, OSError, ValueError):
                pass

    @staticmethod
    def _matched_audience(payload: dict[str, Any], config: IssuerConfig) -> str:
        if "aud" not in payload:
            raise _Reject("missing_claim", "token has no 'aud' claim")
        audience = payload["aud"]
        if isinstance(audience, str):
            audiences = [audience]
        elif isinstance(audience, list) and all(isinstance(a, str) for a in audience):
            audiences = audience
        else:
            raise _Reject("malformed", "'aud' claim is neither a string nor a list of strings")
        accepted = config.audiences
        matched = [a for a in audiences if a in accepted]
        if not matched:
            shown = _show(audience) if isinstance(audience, str) else "[" + ", ".join(_show(a) for a in audiences[:5])
            if isinstance(audience, list):
                shown += ", ...]" if len(audiences) > 5 else "]"
            raise _Reject("wrong_audience", f"token audience {shown} is not one of {list(accepted)}")
        if len(audiences) > 1 and "azp" in payload:
            party = payload["azp"]
            if not isinstance(party, str):
                raise _Reject("malformed", "'azp' claim is not a string")
            if party not in accepted:
                raise _Reject(
                    "wrong_audience",
                    f"token has several audiences and its authorized party (azp) is not one of {list(accepted)}",
                )
            if party in audiences:
                return party
        return matched[0]


class _KeyAlgMismatch(JoseError):
    code = "key_mismatch"


_PRECEDENCE = {"bad_signature": 3, "weak_key": 2, "key_mismatch": 1}


def _precedence(exc: JoseError) -> int:
    return _PRECEDENCE.get(exc.code, 0)


__all__ = ["REASON_CODES", "IdentityVerdict", "Status", "TokenVerifier", "token_fingerprint"]
