"""Kafka security settings -> librdkafka config and Faust credentials: every protocol and mechanism, and the
refusals for incomplete or contradictory settings (naming the setting, never printing a secret)."""

from __future__ import annotations

import ssl
from dataclasses import replace

import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import AuthProtocol

from auditledger.config import Settings, load_settings, settings_environment
from auditledger.kafka_security import (
    MECHANISMS,
    KafkaSecurityError,
    client_security,
    faust_credentials,
    librdkafka_security,
)

SECRET = "s3cret-Zq9-do-not-print"


def sasl(protocol: str, mechanism: str = "", **more: str) -> Settings:
    return Settings(kafka_security_protocol=protocol, kafka_sasl_mechanism=mechanism, kafka_sasl_username="emitter",
                    kafka_sasl_password=SECRET, **more)  # fmt: skip


def test_plaintext_default_adds_nothing_to_a_client_config():
    assert librdkafka_security(Settings()) == {}
    assert faust_credentials(Settings()) is None


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_protocols_and_mechanisms(protocol, mechanism, tmp_path):
    ca = _ca_file(tmp_path) if protocol == "SASL_SSL" else ""
    settings = sasl(protocol.lower(), mechanism.lower(), kafka_ssl_ca_file=ca)  # case is not significant
    config = librdkafka_security(settings)
    assert config["security.protocol"] == protocol
    assert config["sasl.mechanisms"] == mechanism
    assert (config["sasl.username"], config["sasl.password"]) == ("emitter", SECRET)
    assert config.get("ssl.ca.location", "") == ca
    creds = faust_credentials(settings)
    assert isinstance(creds, SASLCredentials)
    assert creds.protocol == AuthProtocol(protocol)
    assert (creds.mechanism.value, creds.username, creds.password) == (mechanism, "emitter", SECRET)
    assert (creds.ssl_context is not None) == (protocol == "SASL_SSL")
    assert SECRET not in repr(creds)


def test_sasl_mechanism_defaults_to_scram_sha_512():
    assert librdkafka_security(sasl("SASL_SSL"))["sasl.mechanisms"] == "SCRAM-SHA-512"


def test_ssl_with_ca_and_client_certificate(tmp_path):
    ca = _ca_file(tmp_path)
    settings = Settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=ca, kafka_ssl_cert_file="/c.pem",
                        kafka_ssl_key_file="/k.pem")  # fmt: skip
    assert librdkafka_security(settings) == {"security.protocol": "SSL", "ssl.ca.location": ca,
                                             "ssl.certificate.location": "/c.pem", "ssl.key.location": "/k.pem"}
    creds = faust_credentials(replace(settings, kafka_ssl_cert_file="", kafka_ssl_key_file=""))
    assert isinstance(creds, SSLCredentials)
    assert creds.context.verify_mode == ssl.CERT_REQUIRED and creds.context.check_hostname


def test_ssl_without_ca_uses_the_system_trust_store():
    assert librdkafka_security(Settings(kafka_security_protocol="SSL")) == {"security.protocol": "SSL"}


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        (Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u"), ["kafka_sasl_password"]),
        (Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_password=SECRET), ["kafka_sasl_username"]),
        (Settings(kafka_security_protocol="SASL_SSL"), ["kafka_sasl_username", "kafka_sasl_password"]),
        (sasl("SASL_SSL", "GSSAPI"), ["kafka_sasl_mechanism"]),
        (sasl("TLS"), ["kafka_security_protocol"]),
        (sasl("PLAINTEXT"), ["kafka_sasl_username", "kafka_sasl_password", "does not use SASL"]),
        (sasl("SASL_PLAINTEXT", kafka_ssl_ca_file="/ca.pem"), ["kafka_ssl_ca_file", "does not use TLS"]),
        (Settings(kafka_security_protocol="SSL", kafka_ssl_cert_file="/c.pem"), ["kafka_ssl_key_file"]),
        (Settings(kafka_security_protocol="SSL", kafka_ssl_key_file="/k.pem"), ["kafka_ssl_cert_file"]),
    ],
    ids=["sasl-no-password", "sasl-no-username", "sasl-no-credentials", "unsupported-mechanism",
         "unknown-protocol", "sasl-settings-on-plaintext", "tls-file-without-tls", "cert-without-key",
         "key-without-cert"],
)  # fmt: skip
def test_incomplete_or_contradictory_settings_are_refused_by_name(settings, names):
    for convert in (librdkafka_security, faust_credentials):
        with pytest.raises(KafkaSecurityError) as refused:
            convert(settings)
        message = str(refused.value)
        assert all(name in message for name in names), message
        assert SECRET not in message


def test_password_never_in_repr_but_reaches_children_by_environment():
    settings = sasl("SASL_SSL")
    assert SECRET not in repr(settings)
    env = settings_environment(settings)
    assert env["AUDITLEDGER_KAFKA_SASL_PASSWORD"] == SECRET
    assert env["AUDITLEDGER_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


def test_library_clients_take_the_environment_when_given_only_a_bootstrap(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stack.json around
    for name, value in {"SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SASL_USERNAME": "sink",
                        "SASL_PASSWORD": SECRET}.items():  # fmt: skip
        monkeypatch.setenv(f"AUDITLEDGER_KAFKA_{name}", value)
    assert load_settings().kafka_sasl_username == "sink"
    assert client_security()["sasl.username"] == "sink"
    assert client_security(Settings()) == {}  # explicit settings win over the environment


def _ca_file(tmp_path) -> str:
    """A real PEM CA, since ssl contexts load the file."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit-test CA")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    path = tmp_path / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)
