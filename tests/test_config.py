"""Settings: file, environment and local-stack state, in that order of precedence under flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditledger.config import ConfigError, load_settings, settings_environment


def test_file_then_environment_then_stack_state(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "stack.json").write_text(json.dumps({"kafka_bootstrap": "127.0.0.1:1", "clickhouse_url": "http://x:2"}))
    config = tmp_path / "auditledger.toml"
    config.write_text(f'home = "{home}"\npartitions = 4\nlog_origin = "file.example/log"\n[topics]\nevents = "e"\n')
    env = {"AUDITLEDGER_LOG_ORIGIN": "env.example/log", "AUDITLEDGER_CLICKHOUSE_URL": "http://ch:8123"}
    settings = load_settings(config, environ=env)
    assert settings.partitions == 4 and settings.topics.events == "e" and settings.topics.ledger == "audit.ledger"
    assert settings.log_origin == "env.example/log"  # environment beats the file
    assert settings.clickhouse_url == "http://ch:8123"  # explicit beats the stack state
    assert settings.kafka_bootstrap == "127.0.0.1:1"  # unset elsewhere: the running stack's


def test_home_flag_beats_everything(tmp_path: Path) -> None:
    settings = load_settings(environ={"AUDITLEDGER_HOME": str(tmp_path / "a")}, home=tmp_path / "b")
    assert settings.home == (tmp_path / "b").resolve()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("partitons = 3\n", "unknown setting 'partitons'"),
        ('partitions = "many"\n', "setting 'partitions'"),
        ("[topics]\nledgr = 'x'\n", "unknown topic keys"),
        ("partitions = \n", "auditledger.toml"),
    ],
)
def test_bad_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "auditledger.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={})


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_child_environment_round_trips(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"AUDITLEDGER_PARTITIONS": "9", "AUDITLEDGER_KAFKA_BOOTSTRAP": "h:1"}, home=tmp_path
    )
    again = load_settings(environ=settings_environment(settings))
    assert (again.partitions, again.kafka_bootstrap, again.home) == (9, "h:1", settings.home)
