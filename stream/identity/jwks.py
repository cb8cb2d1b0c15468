"""Issuer signing keys: JWK (RFC 7517/7518/8037) to public keys, and a per-issuer JWKS cache.

Accepted keys: kty RSA (n, e), kty EC with crv P-256 / P-384 (x, y), kty OKP with crv Ed25519 (x).
A key whose `use` is not "sig", or whose `key_ops` lacks "verify", is ignored; a malformed key is
skipped with a note (see JwkSet.skipped) and does not spoil the rest of the set. RSA keys are kept
whatever their size so that a token signed by a small one gets a precise reason (weak_key).

JwksCache loads each issuer's set from a file or an https URL (plain http only to localhost), keeps
it for `cache_ttl_s`, and reloads earlier only when asked (`refresh`, used on an unknown kid) or, for
a file, when the file's mtime/size/inode changed. Either happens at most once per
`refresh_min_interval_s` per issuer, so a flood of tokens naming forged kids cannot hammer the
identity provider. If a reload fails, the keys already held stay in use until a reload succeeds.
Lookups may block on a fetch (timeout 5 s).
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from stream.identity.config import IdentitySettings, IssuerConfig
from stream.identity.jwt import JoseError, PublicKey, b64url_decode, key_type_name, parse_json_object

MAX_JWKS_BYTES = 1 << 20
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
FETCH_TIMEOUT_S = 5.0

FetchFn = Callable[[str, float], bytes]
"""fetch(url, timeout_s) -> response body; raises OSError (or any Exception) on failure."""

_EC_CURVES: dict[str, tuple[type[ec.EllipticCurve], int]] = {"P-256": (ec.SECP256R1, 32), "P-384": (ec.SECP384R1, 48)}


class JwkError(ValueError):
    """A JWK that cannot be turned into a usable verification key."""


class JwksUnavailable(Exception):
    """An issuer's key set could not be loaded and no earlier copy is held."""


@dataclass(frozen=True)
class Jwk:
    """One verification key from a JWKS. `alg` is the JWK's own `alg` member (None if absent)."""

    kid: str | None
    key: PublicKey
    alg: str | None = None

    @property
    def description(self) -> str:
        return key_type_name(self.key)


@dataclass(frozen=True)
class JwkSet:
    keys: tuple[Jwk, ...] = ()
    skipped: tuple[str, ...] = ()  # one note per key left out (index and why), for operators

    def with_kid(self, kid: str) -> tuple[Jwk, ...]:
        return tuple(k for k in self.keys if k.kid == kid)


def _b64_member(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise JwkError(f"member {name!r} missing or not a string")
    try:
        return b64url_decode(value, f"member {name!r}")
    except JoseError as exc:
        raise JwkError(str(exc)) from exc


def jwk_to_public_key(jwk: Mapping[str, Any]) -> PublicKey:
    """The public key a JWK describes. Raises JwkError for unsupported or malformed keys (private members ignored)."""
    if not isinstance(jwk, Mapping):
        raise JwkError("not a JSON object")
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            n = int.from_bytes(_b64_member(jwk, "n"), "big")
            e = int.from_bytes(_b64_member(jwk, "e"), "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == "EC":
            crv = jwk.get("crv")
            if crv not in _EC_CURVES:
                raise JwkError(f"EC curve {crv!r} not supported (P-256, P-384)" if isinstance(crv, str) else "bad crv")
            curve, size = _EC_CURVES[crv]
            x, y = _b64_member(jwk, "x"), _b64_member(jwk, "y")
            if len(x) != size or len(y) != size:
                raise JwkError(f"{crv} coordinates must be {size} octets")
            numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve())
            return numbers.public_key()
        if kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                raise JwkError("OKP curve not supported (Ed25519 only)")
            x = _b64_member(jwk, "x")
            if len(x) != 32:
                raise JwkError("Ed25519 key must be 32 octets")
            return Ed25519PublicKey.from_public_bytes(x)
    except JwkError:
        raise
    except (ValueError, TypeError) as exc:  # invalid RSA numbers, point not on the curve, ...
        raise JwkError(f"invalid {kty} key") from exc
    raise JwkError(f"key type {kty!r} not supported" if isinstance(kty, str) else "missing or bad kty")


def parse_jwk(jwk: Mapping[str, Any]) -> Jwk | None:
    """The Jwk, or None if the key is not meant for verifying signatures. Raises JwkError if malformed."""
    if not isinstance(jwk, Mapping):
        raise JwkError("not a JSON object")
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise JwkError("kid is not a string")
    alg = jwk.get("alg")
    if alg is not None and not isinstance(alg, str):
        raise JwkError("alg is not a string")
    return Jwk(kid=kid, key=jwk_to_public_key(jwk), alg=alg)


def parse_jwks(document: Mapping[str, Any] | bytes | str) -> JwkSet:
    """Parse a JWKS (`{"keys": [...]}`). Raises JwkError only if the document itself is not a key set."""
    if isinstance(document, str):
        document = document.encode("utf-8")
    if isinstance(document, bytes):
        try:
            document = parse_json_object(document, "JWKS")
        except JoseError as exc:
            raise JwkError(str(exc)) from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwkError("JWKS is not an object with a 'keys' array")
    keys: list[Jwk] = []
    skipped: list[str] = []
    for index, entry in enumerate(document["keys"]):
        label = f"key {index}"
        if isinstance(entry, Mapping) and isinstance(entry.get("kid"), str):
            label += f" (kid {entry['kid'][:64]!r})"
        try:
            jwk = parse_jwk(entry)
        except JwkError as exc:
            skipped.append(f"{label}: {exc}")
            continue
        if jwk is None:
            skipped.append(f"{label}: not a signature verification key")
        else:
            keys.append(jwk)
    return JwkSet(tuple(keys), tuple(skipped))


def transport_is_safe(url: str) -> bool:
    """https, or plain http to this machine only (127.0.0.1 / localhost / ::1, as the policy file allows)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme == "https":
        return bool(host)
    return parts.scheme == "http" and host in LOOPBACK_HOSTS


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not transport_is_safe(newurl):
            raise urllib.error.URLError("redirect to a plain http URL refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_url(url: str, timeout_s: float) -> bytes:
    """GET a JWKS URL with urllib (https, or http to loopback; redirects likewise), at most MAX_JWKS_BYTES."""
    if not transport_is_safe(url):
        raise ValueError(f"JWKS URL must be https: {url}")
    opener = urllib.request.build_opener(_SafeRedirects())
    request = urllib.request.Request(url, headers={"Accept": "application/json, application/jwk-set+json"})
    with opener.open(request, timeout=timeout_s) as response:
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
    return body


@dataclass
class _IssuerState:
    config: IssuerConfig
    keys: JwkSet | None = None
    loaded_at: float | None = None  # monotonic time of the last successful load
    last_attempt: float | None = None  # monotonic time of the last load attempt (any outcome)
    last_error: str = ""
    file_stamp: tuple[int, int, int] | None = None  # (mtime_ns, size, inode) of the file last read
    last_stat: float | None = None  # monotonic time the file's stamp was last compared
    generation: int = 0  # bumped on each successful load


class JwksCache:
    """Per-issuer verification keys, loaded lazily from each IssuerConfig's jwks_file or jwks_url.

    Thread-safe; a lookup may block on a fetch (up to `timeout_s`). `fetch` and `monotonic` are
    injectable for tests.
    """

    def __init__(
        self,
        issuers: Iterable[IssuerConfig],
        *,
        cache_ttl_s: float = 3600.0,
        refresh_min_interval_s: float = 5.0,
        fetch: FetchFn = fetch_url,
        monotonic: Callable[[], float] = time.monotonic,
        timeout_s: float = FETCH_TIMEOUT_S,
    ) -> None:
        self._states: dict[str, _IssuerState] = {}
        for config in issuers:
            if bool(config.jwks_file) == bool(config.jwks_url):
                raise ValueError(f"issuer {config.issuer!r}: exactly one of jwks_file / jwks_url must be set")
            if config.jwks_url and not transport_is_safe(config.jwks_url):
                raise ValueError(f"issuer {config.issuer!r}: jwks_url must be https (plain http only to localhost)")
            if config.issuer in self._states:
                raise ValueError(f"issuer {config.issuer!r} configured twice")
            self._states[config.issuer] = _IssuerState(config)
        self._ttl = cache_ttl_s
        self._min_interval = refresh_min_interval_s
        self._fetch = fetch
        self._monotonic = monotonic
        self._timeout = timeout_s
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: IdentitySettings,
        *,
        fetch: FetchFn = fetch_url,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> JwksCache:
        return cls(
            settings.issuers,
            cache_ttl_s=settings.jwks_cache_ttl_s,
            refresh_min_interval_s=settings.jwks_refresh_min_interval_s,
            fetch=fetch,
            monotonic=monotonic,
        )

    # -- public -------------------------------------------------------------------------------------

    def keys(self, issuer: str) -> JwkSet:
        """The issuer's current key set, loading it first if needed, when the TTL ran out, or (file
        source) when the file changed since it was read. Raises JwksUnavailable if no set was ever
        loaded; KeyError for an issuer that is not configured."""
        state = self._states[issuer]
        with self._lock:
            now = self._monotonic()
            expired = state.loaded_at is not None and now - state.loaded_at >= self._ttl
            if state.keys is None or expired:
                if self._may_attempt(state, now):
                    self._load(state, now)
            elif state.config.jwks_file and self._may_attempt(state, now) and self._stat_due(state, now):
                # A stat costs nothing at the IdP, so it does not use up the refresh allowance.
                state.last_stat = now
                if self._file_stamp(state.config.jwks_file) != state.file_stamp:
                    self._load(state, now)
            if state.keys is None:
                raise JwksUnavailable(state.last_error or "key set not loaded")
            return state.keys

    def refresh(self, issuer: str) -> bool:
        """Reload the issuer's key set now, unless one was attempted less than the minimum interval ago.
        Returns True if a reload succeeded. A file is re-read whether or not its stamp changed."""
        state = self._states[issuer]
        with self._lock:
            now = self._monotonic()
            if not self._may_attempt(state, now):
                return False
            return self._load(state, now)

    def generation(self, issuer: str) -> int:
        """Number of successful loads of the issuer's key set so far."""
        return self._states[issuer].generation

    def last_error(self, issuer: str) -> str:
        """Why the last load attempt failed ("" if it succeeded or none was made)."""
        return self._states[issuer].last_error

    def seconds_until_refresh_allowed(self, issuer: str) -> float:
        state = self._states[issuer]
        with self._lock:
            if state.last_attempt is None:
                return 0.0
            return max(0.0, state.last_attempt + self._min_interval - self._monotonic())

    def source(self, issuer: str) -> str:
        config = self._states[issuer].config
        return config.jwks_file or config.jwks_url

    # -- internals ----------------------------------------------------------------------------------

    def _may_attempt(self, state: _IssuerState, now: float) -> bool:
        return state.last_attempt is None or now - state.last_attempt >= self._min_interval

    def _stat_due(self, state: _IssuerState, now: float) -> bool:
        return state.last_stat is None or now - state.last_stat >= self._min_interval

    @staticmethod
    def _file_stamp(path: str) -> tuple[int, int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self, state: _IssuerState, now: float) -> bool:
        state.last_attempt = now
        config = state.config
        stamp = None
        try:
            if config.jwks_file:
                stamp = self._file_stamp(config.jwks_file)
                with open(config.jwks_file, "rb") as handle:
                    body = handle.read(MAX_JWKS_BYTES + 1)
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
            else:
                body = self._fetch(config.jwks_url, self._timeout)
            keys = parse_jwks(body)
        except Exception as exc:  # any failure of the source leaves the keys already held in use
            state.last_error = f"could not load the JWKS from {config.jwks_file or config.jwks_url}: {_failure(exc)}"
            return False
        state.keys = keys
        state.loaded_at = now
        state.file_stamp = stamp
        state.last_stat = now
        state.last_error = ""
        state.generation += 1
        return True


def _failure(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, ValueError):
        return str(exc) or type(exc).__name__
    return type(exc).__name__
