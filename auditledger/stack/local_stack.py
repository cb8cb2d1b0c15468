"""`auditledger stack up|down|status`: Kafka, the ledger process and the stream worker on 127.0.0.1.

Everything lives under one home folder: PID files, logs, Kafka's data, the ClickHouse store, and
stack.json, which tells every client where the servers are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from auditledger.config import Settings, settings_environment
from auditledger.kafka_security import client_security
from auditledger.stack.kafka_broker import KafkaBroker, install_kafka
from auditledger.stack.prerequisites import ensure_java_and_maven
from auditledger.stack.processes import free_port, pid_alive, port_free, read_pid, stop_pid_file, tail
from auditledger.topics import ensure_topics
from ledger.access import ensure_admin
from ledger.keyring import ensure_signing_key
from stream.admission_config import ensure_local_secrets
from stream.ledger_writer import GROUP_ID as STREAM_GROUP

WORKER_ID_ENV = "AUDITLEDGER_STREAM_WORKER_ID"


class StackError(RuntimeError):
    """A part of the local stack did not start; the message names it and its log."""


class LocalStack:
    def __init__(self, settings: Settings, log: Callable[[str], None] = print,
                 broker_options: dict[str, Any] | None = None) -> None:  # fmt: skip
        """`broker_options`: KafkaBroker's listener_protocol/overrides/scram_users (a secured broker); none: the
        default PLAINTEXT one. Every client of the stack connects with the settings' Kafka security."""
        self.broker_options = {"client_config": client_security(settings), **(broker_options or {})}
        self.settings = settings
        self.home = settings.home
        self.log = log

    # -- state ---------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.settings.stack_state_path.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict[str, Any]) -> None:
        """Atomically, mode 0600: it holds the store's admin password for local tools."""
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.settings.stack_state_path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(json.dumps(state, indent=2))
        tmp.rename(self.settings.stack_state_path)

    def _port(self, state: dict[str, Any], name: str) -> int:
        port = state.get(name)
        return port if isinstance(port, int) and port_free(port) else free_port()

    def pid_file(self, name: str) -> Path:
        return self.home / f"{name}.pid"

    def _alive(self, name: str) -> bool:
        pid = read_pid(self.pid_file(name))
        return pid is not None and pid_alive(pid)

    # -- up --------------------------------------------------------------------------------------
    def up(self, workers: int = 1) -> dict[str, Any]:
        """Start what is not running; `workers` stream workers (ids 0..workers-1) share the partitions."""
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        state = self._state()
        ensure_java_and_maven(self.log)
        libs = install_kafka(log=self.log)
        broker = self._broker(state, libs)
        if not self._alive("kafka"):
            if state.get("kafka_port") is not None and broker.port != state["kafka_port"]:
                self.log(f"kafka port {state['kafka_port']} is taken; using {broker.port}")
            broker.start()
        broker.wait_ready()
        state.update(kafka_port=broker.port, controller_port=broker.controller_port,
                     kafka_bootstrap=broker.bootstrap, partitions=self.settings.partitions)  # fmt: skip
        settings = replace(self.settings, kafka_bootstrap=broker.bootstrap)
        created = ensure_topics(broker.bootstrap, settings)
        if created:
            self.log(f"created topics: {', '.join(created)}")
        admin = ensure_admin(settings.users_file_path, state.get("clickhouse_admin"))
        if admin != state.get("clickhouse_admin"):
            state["clickhouse_admin"] = admin
            self._save_state(state)  # before the ledger starts: the password must not exist only in memory
            self.log(f"store admin {admin['user']!r} set in {settings.users_file_path} (password in stack.json)")
        state["clickhouse_url"] = self._start_ledger(settings, state)
        settings = replace(settings, clickhouse_url=state["clickhouse_url"])
        self._save_state(state)
        if ensure_signing_key(settings.signing_keys_dir, settings.log_origin, datetime.now(UTC)):
            self.log(f"generated the checkpoint-signing key in {settings.signing_keys_dir} "
                     "(auditors get its public half from `auditledger keys public`)")  # fmt: skip
        for created in ensure_local_secrets(settings):
            self.log(f"generated the {created} under {self.home}")
        for worker_id in range(max(1, workers)):
            self.start_stream_worker(settings, worker_id=str(worker_id))
        state["running"] = True
        state["home"] = str(self.home)
        self._save_state(state)
        self.log(f"stack up in {time.monotonic() - started:.1f}s: kafka {broker.bootstrap}, "
                 f"clickhouse {state['clickhouse_url']}, home {self.home}")  # fmt: skip
        return self.status()

    def _broker(self, state: dict[str, Any], libs: Path) -> KafkaBroker:
        if self._alive("kafka"):
            port, controller = state["kafka_port"], state["controller_port"]
        else:
            port, controller = self._port(state, "kafka_port"), self._port(state, "controller_port")
        broker = KafkaBroker(self.home / "kafka", port, controller, libs, **self.broker_options)
        broker.pid_file = self.pid_file("kafka")
        broker.log_file = self.home / "kafka.log"
        return broker

    def _spawn(self, name: str, args: list[str], settings: Settings, extra_env: dict[str, str] | None = None) -> int:
        env = dict(os.environ, **settings_environment(settings), **(extra_env or {}))
        with open(self.home / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "auditledger.cli", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.pid_file(name).write_text(str(proc.pid))
        return proc.pid

    def _start_ledger(self, settings: Settings, state: dict[str, Any]) -> str:
        if self._alive("ledger") and state.get("clickhouse_url") and _ping(state["clickhouse_url"]):
            return state["clickhouse_url"]
        port = self._port(state, "clickhouse_port")
        ready = self.home / "ledger.ready"
        ready.unlink(missing_ok=True)
        self._spawn("ledger", ["ledger", "serve", "--port", str(port), "--ready-file", str(ready)], settings)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if not self._alive("ledger"):
                raise StackError(f"ledger process exited; see {self.home / 'ledger.log'}:\n"
                                 f"{tail(self.home / 'ledger.log')}")  # fmt: skip
            if ready.exists():
                url = json.loads(ready.read_text())["clickhouse_url"]
                state["clickhouse_port"] = port
                return url
            time.sleep(0.2)
        raise StackError(f"ledger process not ready after 90s; see {self.home / 'ledger.log'}")

    def start_stream_worker(self, settings: Settings | None = None, timeout_s: float = 90.0,
                            worker_id: str = "0") -> int:  # fmt: skip
        """Start stream worker `worker_id` (if not running) and wait until the group is stable with it as a member.

        Each worker has its own PID file and log (`stream_name`), and its id gives it its own static group
        member and transactional id (stream/ledger_writer.py); Faust's memory store and disabled web server
        leave nothing else to collide."""
        settings = settings or self._client_settings()
        name = stream_name(worker_id)
        if self._alive(name):
            return read_pid(self.pid_file(name)) or 0
        pid = self._spawn(name, ["stream", "run"], settings, {WORKER_ID_ENV: worker_id})
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, **client_security(settings),
                             "log_level": 3})  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                raise StackError(f"stream worker {worker_id} exited; see {self.home / f'{name}.log'}:\n"
                                 f"{tail(self.home / f'{name}.log')}")  # fmt: skip
            if _group_stable(admin, STREAM_GROUP, f"{STREAM_GROUP}-{worker_id}"):
                return pid
            time.sleep(0.3)
        raise StackError(f"stream worker {worker_id} did not join its group in {timeout_s:.0f}s; "
                         f"see {self.home / f'{name}.log'}")  # fmt: skip

    def stream_workers(self) -> list[str]:
        """Ids of the stream workers that have a PID file in the home folder (running or not)."""
        ids = ["0" if p.stem == "stream" else p.stem.removeprefix("stream-") for p in self.home.glob("stream*.pid")]
        return sorted(ids, key=lambda i: (len(i), i))

    def _client_settings(self) -> Settings:
        state = self._state()
        return replace(self.settings, kafka_bootstrap=state.get("kafka_bootstrap", ""),
                       clickhouse_url=state.get("clickhouse_url", ""))  # fmt: skip

    def restart_ledger(self) -> str:
        """Stop the ledger process and start it again on the same port (the sink resumes from Kafka)."""
        self.stop_ledger()
        return self.start_ledger()

    def stop_ledger(self) -> bool:
        """Stop the ledger process only (store, sink, query interface); Kafka and the stream keep running."""
        return stop_pid_file(self.pid_file("ledger"))

    def start_ledger(self) -> str:
        """Start the ledger process (if not running) on its port if still free; returns its ClickHouse URL."""
        state = self._state()
        settings = self._client_settings()
        url = self._start_ledger(settings, state)
        state["clickhouse_url"] = url
        self._save_state(state)
        return url

    def stop_broker(self) -> bool:
        """Stop the Kafka broker only (the ledger process and stream worker keep running and must reconnect)."""
        return stop_pid_file(self.pid_file("kafka"))

    def start_broker(self, timeout_s: float = 60.0) -> str:
        """Start the broker again on its port and data directory; returns its bootstrap address."""
        state = self._state()
        if self._alive("kafka"):
            return state["kafka_bootstrap"]
        port, controller = state["kafka_port"], state["controller_port"]
        if not (port_free(port) and port_free(controller)):
            raise StackError(f"kafka ports {port}/{controller} are taken; the broker cannot come back on them")
        broker = KafkaBroker(self.home / "kafka", port, controller, install_kafka(log=self.log), **self.broker_options)
        broker.pid_file = self.pid_file("kafka")
        broker.log_file = self.home / "kafka.log"
        broker.start()
        broker.wait_ready(timeout_s)
        return broker.bootstrap

    # -- down / status -----------------------------------------------------------------------------
    def stop_stream_worker(self, worker_id: str = "0") -> bool:
        return stop_pid_file(self.pid_file(stream_name(worker_id)))

    def down(self) -> list[str]:
        """Stop what `up` started, newest first, by PID; data stays for the next `up`."""
        workers = [stream_name(i) for i in reversed(self.stream_workers())]
        stopped = [name for name in (*workers, "ledger", "kafka") if stop_pid_file(self.pid_file(name))]
        state = self._state()
        if state:
            state["running"] = False
            self._save_state(state)
        return stopped

    def status(self) -> dict[str, Any]:
        state = self._state()
        workers = [stream_name(i) for i in self.stream_workers()] or ["stream"]
        processes = {name: self._alive(name) for name in ("kafka", "ledger", *workers)}
        return {
            "kafka_bootstrap": state.get("kafka_bootstrap", ""),
            "clickhouse_url": state.get("clickhouse_url", ""),
            "running": all(processes.values()),
            "processes": {
                name: {"running": alive, "pid": read_pid(self.pid_file(name)), "log": str(self.home / f"{name}.log")}
                for name, alive in processes.items()
            },
            "home": str(self.home),
            "partitions": state.get("partitions", self.settings.partitions),
        }


def _ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def stream_name(worker_id: str) -> str:
    """PID file and log name of a stream worker: `stream` for worker 0 (as with one worker), else `stream-<id>`."""
    return "stream" if worker_id == "0" else f"stream-{worker_id}"


def _group_stable(admin: AdminClient, group: str, instance_id: str | None = None) -> bool:
    """The group is stable with members, one of them the static member `instance_id` if given."""
    try:
        futures = admin.describe_consumer_groups([group], request_timeout=5)
        description = futures[group].result(timeout=5)
    except Exception:
        return False
    members = {m.group_instance_id for m in description.members}
    wanted = instance_id is None or instance_id in members
    return str(description.state).endswith("STABLE") and len(members) > 0 and wanted
