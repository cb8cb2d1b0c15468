"""The whole path over TLS + SASL/SCRAM-SHA-512 with ACLs, on a stack of its own.

The test makes a CA and a broker certificate (127.0.0.1, localhost), starts the broker with only a SASL_SSL client
listener (the KRaft controller listener stays PLAINTEXT on loopback) and StandardAuthorizer, SCRAM users `admin`
(the broker itself), `stream` (the stack's processes: stream worker, ledger/sink; super user here) and `emitter`
(ACLs: write audit.events and audit.approvals only). Then: emit -> stream (Faust + the ledger path) -> ledger ->
ClickHouse -> `auditledger verify` exit 0; a client with no credentials, a wrong password or no CA is refused;
the emitter's credentials cannot write audit.ledger. Bounded: the stack start (30-90 s), 60 events, and each
refusal waits at most 30 s.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auditledger import demo
from auditledger.config import Settings, settings_environment
from auditledger.kafka_security import librdkafka_security
from auditledger.stack.local_stack import LocalStack
from ledger.clickhouse_client import store_client
from producers.demo_session import demo_events
from producers.emitter import AuditEmitter
from tests.stack.conftest import wait_for

pytestmark = pytest.mark.stack
MECHANISM = "SCRAM-SHA-512"
N_EVENTS = 60


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path) -> tuple[Path, Path]:
    """A throwaway CA and a broker certificate signed by it; returns (ca.pem, broker.pem with key + cert)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("auditledger test CA")).issuer_name(_name("auditledger test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))  # fmt: skip
    ca_file, broker_file = folder / "ca.pem", folder / "broker.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    broker_file.touch(mode=0o600)
    broker_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
        + ca.public_bytes(serialization.Encoding.PEM)
    )
    return ca_file, broker_file


def broker_options(ca_file: Path, broker_file: Path, passwords: dict[str, str]) -> dict:
    jaas = (f'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" '
            f'password="{passwords["admin"]}";')  # fmt: skip
    return {
        "listener_protocol": "SASL_SSL",
        "overrides": {
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(broker_file),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(ca_file),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # ANONYMOUS: the broker half reaching its own controller over the loopback PLAINTEXT controller listener
            "super.users": "User:admin;User:stream;User:ANONYMOUS",
        },
        # argv of the short-lived format tool only (test passwords); clients never take a password by argv
        "scram_users": [f"{MECHANISM}=[name={user},password={pw}]" for user, pw in passwords.items()],
    }


def client_settings(base: Settings, user: str, password: str) -> Settings:
    return replace(base, kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism=MECHANISM,
                   kafka_sasl_username=user, kafka_sasl_password=password)  # fmt: skip


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, dict[str, str]]]:
    home = tmp_path_factory.mktemp("secured-stack")
    ca_file, broker_file = make_certificates(home)
    passwords = {user: secrets.token_hex(16) for user in ("admin", "stream", "emitter")}
    base = Settings(home=home, partitions=3, checkpoint_every_ms=500, kafka_ssl_ca_file=str(ca_file))
    local = LocalStack(client_settings(base, "stream", passwords["stream"]), log=lambda m: None,
                       broker_options=broker_options(ca_file, broker_file, passwords))  # fmt: skip
    try:
        status = local.up()
        local.settings = replace(local.settings, kafka_bootstrap=status["kafka_bootstrap"],
                                 clickhouse_url=status["clickhouse_url"])  # fmt: skip
        grant_emitter(local.settings, passwords["admin"])
        yield local, passwords
    finally:
        local.down()


def grant_emitter(settings: Settings, admin_password: str) -> None:
    """What the compose file's ACL job does for emitters: write audit.events and audit.approvals, nothing else."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap,
                         **librdkafka_security(client_settings(settings, "admin", admin_password))})  # fmt: skip
    bindings = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:emitter", "*",
                           AclOperation.WRITE, AclPermissionType.ALLOW)
                for topic in (settings.topics.events, settings.topics.approvals)]  # fmt: skip
    for future in admin.create_acls(bindings, request_timeout=30).values():
        future.result(timeout=30)


def emitter_config(settings: Settings, password: str) -> dict[str, str]:
    return librdkafka_security(client_settings(settings, "emitter", password))


def test_whole_path_over_sasl_ssl_verifies(secured):
    local, passwords = secured
    settings = local.settings
    assert local.status()["running"], local.status()
    events = list(demo_events(N_EVENTS, sessions=4, seed=8))
    with AuditEmitter(settings.kafka_bootstrap, topic=settings.topics.events,
                      extra_config=emitter_config(settings, passwords["emitter"])) as emitter:  # fmt: skip
        for event in events:
            emitter.emit(event)
        assert len(emitter.flush()) == N_EVENTS
    ch = store_client(settings)
    ids = [e["event_id"] for e in events]
    wait_for(lambda: demo.count_stored_ids(ch, ids) == N_EVENTS, 180, f"{N_EVENTS} events stored")
    assert demo.wait_anchored(ch, 60)
    env = {**os.environ, **settings_environment(settings)}  # the stream's credentials reach the CLI by environment
    proc = subprocess.run([sys.executable, "-m", "auditledger.cli", "--home", str(settings.home), "verify", "--json"],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)
    stream_log = (settings.home / "stream.log").read_text(errors="replace")
    assert passwords["stream"] not in stream_log and passwords["stream"] not in proc.stdout + proc.stderr


def refusal(config: dict[str, str], timeout_s: float = 30.0) -> list[KafkaError]:
    """Errors a client with `config` reports while trying to read metadata (bounded); empty if it got in."""
    errors: list[KafkaError] = []
    admin = AdminClient({**config, "error_cb": errors.append, "log_level": 0,
                         "socket.connection.setup.timeout.ms": 5000})  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=3)
            return []
        except KafkaException as exc:
            errors.append(exc.args[0])
        admin.poll(0.5)  # serves error_cb: the authentication or TLS error itself
        if any(e.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL) for e in errors):
            break
    return errors


@pytest.mark.parametrize("client", ["no-credentials", "wrong-password", "no-ca"])
def test_clients_without_valid_credentials_or_trust_are_refused(secured, client):
    local, passwords = secured
    settings = local.settings
    good = librdkafka_security(settings)
    bootstrap = {"bootstrap.servers": settings.kafka_bootstrap}
    config = {
        "no-credentials": {**bootstrap, "security.protocol": "SSL", "ssl.ca.location": good["ssl.ca.location"]},
        "wrong-password": {**bootstrap, **good, "sasl.password": passwords["stream"] + "x"},
        "no-ca": {**bootstrap, **{k: v for k, v in good.items() if k != "ssl.ca.location"}},
    }[client]
    assert refusal({**bootstrap, **good}) == []  # the same client with valid settings gets in
    errors = refusal(config)
    assert errors, f"{client}: the broker let the client in"
    text = " ".join(e.str() for e in errors)
    if client == "wrong-password":
        assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), text
        assert "invalid credentials" in text.lower() or "authentication failed" in text.lower(), text
    if client == "no-ca":
        assert any(e.code() == KafkaError._SSL for e in errors), text
        assert "certificate verify failed" in text.lower(), text
    assert passwords["stream"] not in text


def test_emitter_credentials_cannot_write_the_ledger(secured):
    local, passwords = secured
    settings = local.settings
    failures: list[KafkaError] = []
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap,
                         **emitter_config(settings, passwords["emitter"]),
                         "enable.idempotence": True, "acks": "all", "message.timeout.ms": 20000})  # fmt: skip

    def report(err: KafkaError | None, _msg) -> None:
        if err is not None:
            failures.append(err)

    producer.produce(settings.topics.ledger, value=b"forged entry", on_delivery=report)
    assert producer.flush(30) == 0
    assert [e.code() for e in failures] == [KafkaError.TOPIC_AUTHORIZATION_FAILED], failures
