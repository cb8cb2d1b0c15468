"""Which token issuers the stream trusts, and how it checks their tokens (from the policy file)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IssuerConfig:
    """One trusted OIDC issuer. Exactly one of jwks_file / jwks_url is set.

    `tenants` empty means the issuer may vouch for any tenant; otherwise only for those listed.
    """

    issuer: str
    audiences: tuple[str, ...]
    jwks_file: str = ""
    jwks_url: str = ""
    tenants: tuple[str, ...] = ()
    groups_claim: str = "groups"
    email_claim: str = "email"


@dataclass(frozen=True)
class IdentitySettings:
    """`require_token`: an event without a token is recorded as unverified and alerted (else `absent`)."""

    issuers: tuple[IssuerConfig, ...] = ()
    leeway_s: int = 60
    require_token: bool = False
    jwks_refresh_min_interval_s: float = 5.0
    jwks_cache_ttl_s: float = 3600.0
    algorithms: tuple[str, ...] = ("RS256", "ES256")
