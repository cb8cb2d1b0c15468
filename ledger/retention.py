"""How long the ledger keeps a tenant's records, and the ClickHouse TTL and Kafka retention that enforce it.

Pure: no I/O. The rule (PCI DSS 10.5.1): at least 12 months of history, the last 3 immediately available.
So a retention under 365 days, or a hot (immediately queryable) period under 92 days, is refused unless
`allow_short` is set (tests and development only), and a tenant may only be given more than the default.

A record expires at `floor_to_second(sequenced_at) + days(tenant)`: exactly when ClickHouse's row TTL
`toDateTime(sequenced_at) + toIntervalDay(...)` lets a merge delete it. `sequenced_at` (the stream's clock,
monotone within a shard) is used rather than `occurred_at` (the emitter's claim). Leaves are never expired:
`ledger_leaves` keeps every leaf hash, so the records that remain still verify and can still be proven.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

MIN_RETENTION_DAYS = 365  # 12 months of history
MIN_HOT_DAYS = 92  # the most recent 3 months immediately available
DEFAULT_RETENTION_DAYS = 400
DEFAULT_HOT_DAYS = 92
MS_PER_DAY = 24 * 3600 * 1000
_TENANT_ITEM = re.compile(r"\s*([^=,\s]+)\s*=\s*(-?\d+)\s*")


class RetentionPolicyError(ValueError):
    """A retention setting is refused; the message names the setting and the rule it breaks."""


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each tenant's records are kept (a default and per-tenant overrides), and the hot period."""

    default_days: int = DEFAULT_RETENTION_DAYS
    hot_days: int = DEFAULT_HOT_DAYS
    tenant_days: tuple[tuple[str, int], ...] = ()
    allow_short: bool = False
    cold_volume: str = ""
    _by_tenant: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_tenant", dict(self.tenant_days))
        self._validate()

    @classmethod
    def build(
        cls,
        *,
        default_days: int = DEFAULT_RETENTION_DAYS,
        hot_days: int = DEFAULT_HOT_DAYS,
        tenants: Mapping[str, int] | None = None,
        allow_short: bool = False,
        cold_volume: str = "",
    ) -> RetentionPolicy:
        """The policy, validated; tenants are kept sorted so equal policies give equal TTL text."""
        return cls(default_days, hot_days, tuple(sorted((tenants or {}).items())), allow_short, cold_volume)

    def _validate(self) -> None:
        short = " (set retention_allow_short only for tests and development)"
        if self.default_days < 0 or self.hot_days < 0:
            raise RetentionPolicyError(f"retention days must not be negative, got {self.default_days}/{self.hot_days}")
        if self.default_days < MIN_RETENTION_DAYS and not self.allow_short:
            raise RetentionPolicyError(f"retention_days {self.default_days} is under {MIN_RETENTION_DAYS} "
                                       f"(12 months of history are required){short}")  # fmt: skip
        if self.hot_days < MIN_HOT_DAYS and not self.allow_short:
            raise RetentionPolicyError(f"retention_hot_days {self.hot_days} is under {MIN_HOT_DAYS} "
                                       f"(the last 3 months must stay immediately queryable){short}")  # fmt: skip
        for tenant, days in self.tenant_days:
            if not tenant or "'" in tenant or "\\" in tenant:
                raise RetentionPolicyError(f"retention tenant {tenant!r}: not a usable tenant name")
            if days < 0:
                raise RetentionPolicyError(f"retention for tenant {tenant!r}: {days} days is negative")
            if days < self.default_days and not self.allow_short:
                raise RetentionPolicyError(f"retention for tenant {tenant!r}: {days} days is under the default "
                                           f"{self.default_days}; a tenant may only be kept longer{short}")  # fmt: skip
        if self.cold_volume and not re.fullmatch(r"[A-Za-z0-9_.-]+", self.cold_volume):
            raise RetentionPolicyError(f"clickhouse_cold_volume {self.cold_volume!r}: not a volume name")

    # -- what is kept ---------------------------------------------------------------------------------------

    def days_for(self, tenant: str) -> int:
        return self._by_tenant.get(tenant, self.default_days)

    @property
    def longest_days(self) -> int:
        return max([self.default_days, *self._by_tenant.values()])

    def expires_at(self, tenant: str, sequenced_at: datetime) -> datetime:
        """When the row TTL lets ClickHouse delete this tenant's record (toDateTime truncates to the second)."""
        moment = sequenced_at if sequenced_at.tzinfo is not None else sequenced_at.replace(tzinfo=UTC)
        return moment.replace(microsecond=0) + timedelta(days=self.days_for(tenant))

    def expired(self, tenant: str, sequenced_us: int, now: datetime) -> bool:
        """Whether a record sequenced at `sequenced_us` (µs since the epoch) may be gone at `now`."""
        whole_seconds = sequenced_us // 1_000_000
        return whole_seconds + self.days_for(tenant) * 86400 <= now.timestamp()

    # -- how it is enforced ---------------------------------------------------------------------------------

    def ttl_expression(self) -> str:
        """The row TTL of ledger_records, in the form ClickHouse prints it back (so a change is detectable)."""
        if not self.tenant_days:
            days = str(self.default_days)
        else:
            branches = ", ".join(f"tenant = '{tenant}', {days}" for tenant, days in self.tenant_days)
            days = f"multiIf({branches}, {self.default_days})"
        return f"toDateTime(sequenced_at) + toIntervalDay({days})"

    def ttl_clause(self) -> str:
        """Every TTL rule of ledger_records: the delete, and with a cold volume the move after the hot period."""
        rules = []
        if self.cold_volume:
            rules.append(f"toDateTime(sequenced_at) + toIntervalDay({self.hot_days}) TO VOLUME '{self.cold_volume}'")
        rules.append(self.ttl_expression())
        return ", ".join(rules)

    def topic_retention_ms(self) -> str:
        """Retention of the shared ledger topics: the longest any tenant is kept (Kafka cannot tell tenants apart)."""
        return str(self.longest_days * MS_PER_DAY)

    def describe(self) -> dict[str, object]:
        return {
            "default_days": self.default_days,
            "hot_days": self.hot_days,
            "tenants": dict(self.tenant_days),
            "allow_short": self.allow_short,
            "cold_volume": self.cold_volume or None,
            "ttl": self.ttl_clause(),
        }


def parse_tenant_days(text: str) -> dict[str, int]:
    """`acme=730,ephemeral=0` (the environment form of `[retention] tenants = {acme = 730}`)."""
    result: dict[str, int] = {}
    for item in (part for part in text.split(",") if part.strip()):
        match = _TENANT_ITEM.fullmatch(item)
        if match is None:
            raise RetentionPolicyError(f"retention_tenants: {item.strip()!r} is not tenant=days")
        tenant, days = match.group(1), int(match.group(2))
        if tenant in result:
            raise RetentionPolicyError(f"retention_tenants: tenant {tenant!r} is given twice")
        result[tenant] = days
    return result


def format_tenant_days(tenants: Mapping[str, int]) -> str:
    return ",".join(f"{tenant}={days}" for tenant, days in sorted(tenants.items()))
