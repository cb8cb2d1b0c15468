"""Retention settings: environment scalars, the [retention] table of a TOML file, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditledger.config import ConfigError, load_settings, settings_environment


def test_file_table_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "auditledger.toml"
    config.write_text("[retention]\ndays = 500\nhot_days = 100\ntenants = {acme = 730, beta = 900}\n")
    settings = load_settings(config, environ={"AUDITLEDGER_RETENTION_HOT_DAYS": "120"}, home=tmp_path)
    policy = settings.retention
    assert (policy.default_days, policy.hot_days) == (500, 120)  # the environment beats the file
    assert dict(policy.tenant_days) == {"acme": 730, "beta": 900}


def test_environment_carries_everything_to_child_processes(tmp_path: Path) -> None:
    env = {"AUDITLEDGER_RETENTION_TENANTS": "ephemeral=0", "AUDITLEDGER_RETENTION_ALLOW_SHORT": "true"}
    settings = load_settings(environ=env, home=tmp_path)
    assert settings.retention.days_for("ephemeral") == 0
    again = load_settings(environ=settings_environment(settings), home=tmp_path)
    assert again.retention == settings.retention


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("retention = 5\n", r"\[retention\] must be a table"),
        ("[retention]\nweeks = 3\n", r"unknown \[retention\] keys \['weeks'\]"),
        ("[retention]\ntenants = {acme = '2y'}\n", "tenant = days"),
        ("[retention]\ntenants = {acme = 30}\n", "'acme': 30 days is under the default 400"),
        ("[retention]\ndays = 90\n", "retention_days 90 is under 365"),
        ("[retention]\nallow_short = 'perhaps'\n", "setting 'retention_allow_short'"),
    ],
)
def test_refused_file_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "auditledger.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={}, home=tmp_path)


def test_short_retention_from_the_environment_needs_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="retention_allow_short"):
        load_settings(environ={"AUDITLEDGER_RETENTION_TENANTS": "ephemeral=0"}, home=tmp_path)
