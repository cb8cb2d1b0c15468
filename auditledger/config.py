"""Settings shared by every auditledger process.

Precedence, highest first: command-line flags, environment (AUDITLEDGER_*), a TOML file
(--config or AUDITLEDGER_CONFIG), the running local stack's state file, then defaults.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ledger.retention import RetentionPolicy, RetentionPolicyError, format_tenant_days, parse_tenant_days

ENV_PREFIX = "AUDITLEDGER_"
STACK_STATE_FILE = "stack.json"


class ConfigError(ValueError):
    """A configuration file or value is unusable; the message says which and why."""


@dataclass(frozen=True)
class TopicNames:
    events: str = "audit.events"
    approvals: str = "audit.approvals"
    approvals_state: str = "audit.approvals.state"
    ledger: str = "audit.ledger"
    checkpoints: str = "audit.checkpoints"
    deadletter: str = "audit.deadletter"
    alerts: str = "audit.alerts"
    siem: str = "audit.siem"
    spool_cursors: str = "audit.spool.cursors"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(".stack").resolve())
    kafka_bootstrap: str = ""
    kafka_security_protocol: str = "PLAINTEXT"  # SSL, SASL_PLAINTEXT, SASL_SSL (auditledger/kafka_security.py)
    kafka_sasl_mechanism: str = ""  # SCRAM-SHA-512 (default for SASL), SCRAM-SHA-256, PLAIN
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = field(default="", repr=False)  # never in a repr or a log line; children get it by env
    kafka_ssl_ca_file: str = ""
    kafka_ssl_cert_file: str = ""  # with kafka_ssl_key_file: a client certificate (mTLS)
    kafka_ssl_key_file: str = ""
    clickhouse_url: str = ""
    clickhouse_database: str = "default"
    clickhouse_user: str = ""
    clickhouse_password: str = field(default="", repr=False)  # never in a repr, a log line or a child's env
    clickhouse_users_file: str = ""
    partitions: int = 6
    events_retention_hours: int = 24
    log_origin: str = "auditledger.local/ledger"
    checkpoint_every_records: int = 1000
    checkpoint_every_ms: int = 1000
    stream_batch_size: int = 1000
    stream_batch_within_s: float = 0.2
    sink_batch_size: int = 5000
    keys_dir: str = ""
    policy_file: str = ""
    masking_keys_dir: str = ""
    deadletter_public_key: str = ""
    retention_days: int = 400
    retention_hot_days: int = 92
    retention_tenants: str = ""  # tenant=days,...; in a file: [retention] tenants = {acme = 730}
    retention_allow_short: bool = False
    clickhouse_cold_volume: str = ""
    topics: TopicNames = field(default_factory=TopicNames)

    def with_overrides(self, **values: Any) -> Settings:
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    @property
    def retention(self) -> RetentionPolicy:
        """The retention policy these settings give; raises RetentionPolicyError if it is refused."""
        return RetentionPolicy.build(default_days=self.retention_days, hot_days=self.retention_hot_days,
                                     tenants=parse_tenant_days(self.retention_tenants),
                                     allow_short=self.retention_allow_short,
                                     cold_volume=self.clickhouse_cold_volume)  # fmt: skip

    @property
    def stack_state_path(self) -> Path:
        return self.home / STACK_STATE_FILE

    @property
    def users_file_path(self) -> Path:
        """Who may query the embedded store: clickhouse_users_file if set, else <home>/clickhouse-users.toml."""
        if self.clickhouse_users_file:
            return Path(self.clickhouse_users_file).expanduser().resolve()
        return self.home / "clickhouse-users.toml"

    @property
    def signing_keys_dir(self) -> Path:
        """Where the checkpoint-signing keyring lives: keys_dir if set, else <home>/keys."""
        return Path(self.keys_dir).expanduser().resolve() if self.keys_dir else self.home / "keys"

    @property
    def masking_keys_path(self) -> Path:
        """Where the masking (HMAC) keys live: masking_keys_dir if set, else <home>/masking-keys."""
        if self.masking_keys_dir:
            return Path(self.masking_keys_dir).expanduser().resolve()
        return self.home / "masking-keys"

    @property
    def deadletter_public_key_path(self) -> Path:
        """The key dead letters are sealed to: deadletter_public_key if set, else <home>/deadletter/recipient.pub."""
        if self.deadletter_public_key:
            return Path(self.deadletter_public_key).expanduser().resolve()
        return self.home / "deadletter" / "recipient.pub"

    @property
    def deadletter_private_key_path(self) -> Path:
        """Where the local stack keeps the matching private key (production keeps it off the stream's host)."""
        return self.deadletter_public_key_path.with_suffix(".key")


_SCALAR_TYPES = {f.name: f.type for f in fields(Settings) if f.name != "topics"}


def _coerce(name: str, raw: Any) -> Any:
    kind = _SCALAR_TYPES[name]
    try:
        if kind == "Path":
            return Path(str(raw)).expanduser().resolve()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return _boolean(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot use {raw!r} as {kind}") from exc


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


_RETENTION_KEYS = {"days": "retention_days", "hot_days": "retention_hot_days", "tenants": "retention_tenants",
                   "allow_short": "retention_allow_short", "cold_volume": "clickhouse_cold_volume"}  # fmt: skip


def _retention_table(raw: Any, source: str) -> dict[str, Any]:
    """`[retention]`: days, hot_days, allow_short, cold_volume, and tenants = {name = days, ...}."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [retention] must be a table")
    unknown = set(raw) - set(_RETENTION_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown [retention] keys {sorted(unknown)}; known: {sorted(_RETENTION_KEYS)}")
    values = {_RETENTION_KEYS[k]: _coerce(_RETENTION_KEYS[k], v) for k, v in raw.items() if k != "tenants"}
    if "tenants" in raw:
        tenants = raw["tenants"]
        if not isinstance(tenants, dict) or not all(type(d) is int for d in tenants.values()):
            raise ConfigError(f"{source}: [retention] tenants must be a table of tenant = days (whole days)")
        values["retention_tenants"] = format_tenant_days(tenants)
    return values


def _from_mapping(data: dict[str, Any], source: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key == "topics":
            if not isinstance(raw, dict):
                raise ConfigError(f"{source}: [topics] must be a table")
            known = {f.name for f in fields(TopicNames)}
            unknown = set(raw) - known
            if unknown:
                raise ConfigError(f"{source}: unknown topic keys {sorted(unknown)}; known: {sorted(known)}")
            values["topics"] = TopicNames(**{k: str(v) for k, v in raw.items()})
        elif key == "retention":
            values.update(_retention_table(raw, source))
        elif key in _SCALAR_TYPES:
            values[key] = _coerce(key, raw)
        else:
            raise ConfigError(f"{source}: unknown setting {key!r}; known: {sorted(_SCALAR_TYPES)}")
    return values


def load_settings(
    config_file: str | Path | None = None, environ: dict[str, str] | None = None, home: Path | None = None
) -> Settings:
    """Build Settings from file, environment and, when up, the local stack's state."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = config_file or env.get(f"{ENV_PREFIX}CONFIG")
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
            values.update(_from_mapping(tomllib.loads(text), str(path)))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
    for name in _SCALAR_TYPES:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw:
            values[name] = _coerce(name, raw)
    if home is not None:
        values["home"] = Path(home).expanduser().resolve()
    settings = Settings(**values)
    try:
        settings.retention  # noqa: B018 -- refuse a policy under the minimum before anything runs
    except RetentionPolicyError as exc:
        raise ConfigError(str(exc)) from exc
    return _fill_from_stack_state(settings)


def _stack_state(settings: Settings) -> dict[str, Any]:
    try:
        state = json.loads(settings.stack_state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _fill_from_stack_state(settings: Settings) -> Settings:
    """Point clients at the local stack when nothing else says where the servers are."""
    state = _stack_state(settings)
    if not state:
        return settings
    if not (settings.kafka_bootstrap and settings.clickhouse_url):
        settings = replace(
            settings,
            kafka_bootstrap=settings.kafka_bootstrap or state.get("kafka_bootstrap", ""),
            clickhouse_url=settings.clickhouse_url or state.get("clickhouse_url", ""),
            partitions=int(state.get("partitions", settings.partitions)),
        )
    return with_stack_credentials(settings, state)


def with_stack_credentials(settings: Settings, state: dict[str, Any] | None = None) -> Settings:
    """The local stack's admin credentials (stack.json), when these settings talk to the stack's store and
    name no ClickHouse user of their own (environment and config file win)."""
    if settings.clickhouse_user:
        return settings
    state = _stack_state(settings) if state is None else state
    admin = state.get("clickhouse_admin")
    if not isinstance(admin, dict) or not settings.clickhouse_url or settings.clickhouse_url != state.get(
        "clickhouse_url"
    ):
        return settings
    user, password = str(admin.get("user", "")), str(admin.get("password", ""))
    return replace(settings, clickhouse_user=user, clickhouse_password=password)


# Not handed to child processes: none of them needs it (the ledger owns the store in-process), and a
# child's environment is easy to leak into a log or a crash report.
# kafka_sasl_password is handed on: the stream worker and the ledger's sink need it to reach the broker
# (by environment, never on a command line).
_SECRETS = frozenset({"clickhouse_password"})


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment that hands these settings to a child process (secrets excepted)."""
    env = {ENV_PREFIX + name.upper(): str(getattr(settings, name)) for name in _SCALAR_TYPES if name not in _SECRETS}
    return {k: v for k, v in env.items() if v != ""}
