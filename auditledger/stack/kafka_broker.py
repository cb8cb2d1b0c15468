"""One Apache Kafka broker in KRaft mode on 127.0.0.1, its jars resolved from Maven Central and cached."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from confluent_kafka.admin import AdminClient

from auditledger.stack.processes import pid_alive, read_pid, stop_pid_file, tail

KAFKA_VERSION = "4.1.0"
HEAP = "-Xmx512m"

_LOG4J = """\
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=OUT
appender.out.type=Console
appender.out.name=OUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
"""


class BrokerError(RuntimeError):
    """The broker could not be installed, formatted or started; the message says which step."""


def cache_dir() -> Path:
    return Path(os.environ.get("AUDITLEDGER_CACHE", Path.home() / ".cache" / "auditledger")).expanduser()


def install_kafka(version: str = KAFKA_VERSION, log=print) -> Path:
    """Return the folder of the broker's jars, resolving them with Maven the first time only."""
    libs = cache_dir() / f"kafka-{version}" / "libs"
    if (libs / ".complete").exists():
        return libs
    log(f"resolving Apache Kafka {version} from Maven Central (first run only)")
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=libs.parent) as work:
        pom = Path(work) / "pom.xml"
        template = resources.files("auditledger.stack").joinpath("kafka-pom.xml").read_text()
        pom.write_text(template.replace("@KAFKA_VERSION@", version))
        out = Path(work) / "libs"
        proc = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={out}"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise BrokerError(f"mvn could not resolve Kafka {version}: {(proc.stdout + proc.stderr)[-2000:]}")
        (out / ".complete").write_text(version)
        if libs.exists():
            shutil.rmtree(libs)
        out.rename(libs)
    return libs


def new_cluster_id() -> str:
    """A random KRaft cluster id (22 characters of URL-safe base64) that does not start with "-": the storage
    tool would read it as an option, and one stack start in 64 failed with "expected one argument"."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class KafkaBroker:
    """A single-node KRaft broker whose files live under `data_dir`.

    The default is one PLAINTEXT client listener. A secured broker names its client listener's protocol
    (`listener_protocol`, e.g. SASL_SSL; it is also the inter-broker listener), adds the TLS/SASL/authorizer
    properties in `overrides`, SCRAM users to create when the storage is formatted (`scram_users`, the values
    of `kafka-storage format --add-scram`), and the client config its readiness check connects with."""

    def __init__(self, data_dir: Path, port: int, controller_port: int, libs: Path, *,
                 listener_protocol: str = "PLAINTEXT", overrides: Mapping[str, str] | None = None,
                 scram_users: Sequence[str] = (), client_config: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.data_dir = data_dir
        self.port = port
        self.controller_port = controller_port
        self.libs = libs
        self.listener_protocol = listener_protocol
        self.overrides = dict(overrides or {})
        self.scram_users = tuple(scram_users)
        self.client_config = dict(client_config or {})
        self.pid_file = data_dir / "kafka.pid"
        self.log_file = data_dir / "kafka.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"{self.listener_protocol}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"{self.listener_protocol}://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": f"{self.listener_protocol}:{self.listener_protocol},CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": self.listener_protocol,
            "log.dirs": str(self.data_dir / "logs"),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "message.max.bytes": str(16 * 1024 * 1024),
            **self.overrides,
        }
        config = self.data_dir / "server.properties"
        config.touch(mode=0o600)  # a secured broker's file holds its own SASL password
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J)
        return config

    def _java(self, main: str, *args: str) -> list[str]:
        return [
            "java",
            HEAP,
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def format_storage(self) -> None:
        """Format KRaft storage once; later starts reuse it (and its topics)."""
        config = self._write_config()
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        cid = new_cluster_id()
        proc = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cid, "-c", str(config),
                       *(arg for user in self.scram_users for arg in ("--add-scram", user))),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise BrokerError(f"kafka storage format failed: {(proc.stdout + proc.stderr)[-2000:]}")

    def start(self) -> int:
        """Start the broker in its own session so that a stop reaches it and nothing else."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.format_storage()
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(self.data_dir / "server.properties")),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until a metadata request succeeds and the broker lists itself."""
        deadline = time.monotonic() + timeout_s
        admin = AdminClient(
            {"bootstrap.servers": self.bootstrap, **self.client_config, "log_level": 0,
             "socket.connection.setup.timeout.ms": 2000}
        )
        last = ""
        while time.monotonic() < deadline:
            pid = read_pid(self.pid_file)
            if pid is None or not pid_alive(pid):
                raise BrokerError(f"kafka exited during start; see {self.log_file}:\n{tail(self.log_file)}")
            try:
                meta = admin.list_topics(timeout=2)
                if meta.brokers:
                    return
            except Exception as exc:  # not up yet
                last = str(exc)
            time.sleep(0.3)
        raise BrokerError(f"kafka not ready after {timeout_s:.0f}s ({last}); see {self.log_file}")

    def stop(self, timeout_s: float = 30.0) -> bool:
        return stop_pid_file(self.pid_file, timeout_s)
