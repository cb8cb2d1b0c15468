"""The retention policy: what it refuses (PCI DSS 10.5.1's minimums), when a record expires, the TTL it gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.retention import RetentionPolicy, RetentionPolicyError, format_tenant_days, parse_tenant_days

T0 = datetime(2026, 1, 1, 12, 0, 0, 750_000, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000 + 750_000


def test_default_keeps_400_days_and_92_hot() -> None:
    policy = RetentionPolicy()
    assert (policy.default_days, policy.hot_days, policy.days_for("anyone")) == (400, 92, 400)
    assert policy.ttl_clause() == "toDateTime(sequenced_at) + toIntervalDay(400)"
    assert policy.topic_retention_ms() == str(400 * 86_400_000)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"default_days": 364}, "retention_days 364 is under 365"),
        ({"hot_days": 91}, "retention_hot_days 91 is under 92"),
        ({"tenants": {"acme": 399}}, "tenant 'acme': 399 days is under the default 400"),
        ({"tenants": {"acme": -1}, "allow_short": True}, "negative"),
        ({"tenants": {"o'brien": 500}}, "not a usable tenant name"),
        ({"cold_volume": "cold; DROP"}, "not a volume name"),
    ],
)
def test_refused(options: dict, message: str) -> None:
    with pytest.raises(RetentionPolicyError, match=message):
        RetentionPolicy.build(**options)


def test_short_retention_only_when_explicitly_allowed() -> None:
    policy = RetentionPolicy.build(default_days=30, hot_days=7, tenants={"ephemeral": 0}, allow_short=True)
    assert policy.days_for("ephemeral") == 0 and policy.days_for("acme") == 30


def test_tenant_overrides_are_longer_and_in_one_ttl_expression() -> None:
    policy = RetentionPolicy.build(tenants={"zeta": 730, "acme": 1095})
    assert policy.days_for("acme") == 1095 and policy.days_for("other") == 400 and policy.longest_days == 1095
    # sorted by tenant, so the same policy always prints the same TTL (ensure_schema compares the text)
    assert policy.ttl_expression() == (
        "toDateTime(sequenced_at) + toIntervalDay(multiIf(tenant = 'acme', 1095, tenant = 'zeta', 730, 400))"
    )
    assert policy.topic_retention_ms() == str(1095 * 86_400_000)


def test_cold_volume_moves_after_the_hot_period_then_deletes() -> None:
    policy = RetentionPolicy.build(hot_days=92, cold_volume="cold")
    assert policy.ttl_clause() == ("toDateTime(sequenced_at) + toIntervalDay(92) TO VOLUME 'cold', "
                                   "toDateTime(sequenced_at) + toIntervalDay(400)")  # fmt: skip


def test_expiry_is_the_ttl_instant_truncated_to_the_second() -> None:
    policy = RetentionPolicy.build(tenants={"acme": 730})
    expires = T0.replace(microsecond=0) + timedelta(days=730)
    assert policy.expires_at("acme", T0) == expires
    assert not policy.expired("acme", T0_US, expires - timedelta(microseconds=1))
    assert policy.expired("acme", T0_US, expires)  # ClickHouse may delete at this very second
    assert not policy.expired("other", T0_US, expires - timedelta(days=330, microseconds=1))


def test_tenant_days_text_round_trips_and_rejects_nonsense() -> None:
    assert parse_tenant_days(" acme = 730, ephemeral=0 ,") == {"acme": 730, "ephemeral": 0}
    assert format_tenant_days({"zeta": 1, "acme": 2}) == "acme=2,zeta=1"
    with pytest.raises(RetentionPolicyError, match="'acme' is not tenant=days"):
        parse_tenant_days("acme")
    with pytest.raises(RetentionPolicyError, match="given twice"):
        parse_tenant_days("acme=500,acme=600")
