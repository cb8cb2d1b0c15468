"""Kafka client security (TLS, SASL) from auditledger settings, in one place for every client.

`librdkafka_security(settings)` is the confluent-kafka config (emitter, delivery, approvals, ledger path, sink,
CLIs); `faust_credentials(settings)` is the same for Faust/aiokafka (`broker_credentials`). Both refuse an
incomplete or contradictory combination up front, naming the setting and never its value: a client that would
silently fall back to an unauthenticated or unverified connection is worse than one that does not start.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from auditledger.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
DEFAULT_MECHANISM = "SCRAM-SHA-512"


class KafkaSecurityError(ConfigError):
    """The Kafka security settings are incomplete or contradictory; the message names the setting, not a value."""


def _protocol(settings: Settings) -> str:
    protocol = (settings.kafka_security_protocol or "PLAINTEXT").strip().upper()
    if protocol not in PROTOCOLS:
        raise KafkaSecurityError(f"kafka_security_protocol: unknown protocol, want one of {', '.join(PROTOCOLS)}")
    return protocol


def _check(settings: Settings) -> tuple[str, str]:
    """The protocol and SASL mechanism (empty when not SASL), after refusing what cannot work."""
    protocol = _protocol(settings)
    uses_tls, uses_sasl = protocol.endswith("SSL"), protocol.startswith("SASL")
    tls_files = {name: getattr(settings, name) for name in ("kafka_ssl_ca_file", "kafka_ssl_cert_file",
                                                             "kafka_ssl_key_file")}  # fmt: skip
    if not uses_tls and any(tls_files.values()):
        given = ", ".join(name for name, value in tls_files.items() if value)
        raise KafkaSecurityError(f"{given} set, but kafka_security_protocol {protocol} does not use TLS")
    if bool(settings.kafka_ssl_cert_file) != bool(settings.kafka_ssl_key_file):
        missing = "kafka_ssl_key_file" if settings.kafka_ssl_cert_file else "kafka_ssl_cert_file"
        raise KafkaSecurityError(f"client certificate (mTLS) needs both files: {missing} is not set")
    sasl = {"kafka_sasl_mechanism": settings.kafka_sasl_mechanism, "kafka_sasl_username": settings.kafka_sasl_username,
            "kafka_sasl_password": settings.kafka_sasl_password}  # fmt: skip
    if not uses_sasl:
        if any(sasl.values()):
            given = ", ".join(name for name, value in sasl.items() if value)
            raise KafkaSecurityError(f"{given} set, but kafka_security_protocol {protocol} does not use SASL")
        return protocol, ""
    mechanism = (settings.kafka_sasl_mechanism or DEFAULT_MECHANISM).strip().upper()
    if mechanism not in MECHANISMS:
        raise KafkaSecurityError(f"kafka_sasl_mechanism: unsupported mechanism, want one of {', '.join(MECHANISMS)}")
    missing = [name for name in ("kafka_sasl_username", "kafka_sasl_password") if not sasl[name]]
    if missing:
        raise KafkaSecurityError(f"kafka_security_protocol {protocol} needs {' and '.join(missing)}")
    return protocol, mechanism


def librdkafka_security(settings: Settings) -> dict[str, str]:
    """The librdkafka (confluent-kafka) properties for these settings; `{}` for PLAINTEXT, so that merging it
    into a client's config changes nothing in the default."""
    protocol, mechanism = _check(settings)
    if protocol == "PLAINTEXT":
        return {}
    config = {"security.protocol": protocol}
    if mechanism:
        config.update({"sasl.mechanisms": mechanism, "sasl.username": settings.kafka_sasl_username,
                       "sasl.password": settings.kafka_sasl_password})  # fmt: skip
    if settings.kafka_ssl_ca_file:
        config["ssl.ca.location"] = settings.kafka_ssl_ca_file
    if settings.kafka_ssl_cert_file:
        config.update({"ssl.certificate.location": settings.kafka_ssl_cert_file,
                       "ssl.key.location": settings.kafka_ssl_key_file})  # fmt: skip
    return config


def client_security(settings: Settings | None = None) -> dict[str, str]:
    """`librdkafka_security` of `settings`, or of the configured settings (config file, AUDITLEDGER_* environment)
    for library clients that are handed only a bootstrap address. Callers merge their own overrides after it."""
    return librdkafka_security(settings if settings is not None else load_settings())


def tls_context(settings: Settings) -> ssl.SSLContext:
    """A verifying client TLS context: the configured CA (else the system's), and the client certificate if set."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.kafka_ssl_ca_file or None)
    if settings.kafka_ssl_cert_file:
        context.load_cert_chain(settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file)
    return context


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's `broker_credentials` for these settings (None for PLAINTEXT); aiokafka gets them from Faust."""
    from faust.auth import SASLCredentials, SSLCredentials

    protocol, mechanism = _check(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return SSLCredentials(tls_context(settings))
    # SASLCredentials means SASL_SSL exactly when it is given a TLS context.
    context = tls_context(settings) if protocol == "SASL_SSL" else None
    return SASLCredentials(username=settings.kafka_sasl_username, password=settings.kafka_sasl_password,
                           ssl_context=context, mechanism=mechanism)  # fmt: skip
