"""Just-in-time approval for agent actions: ask on audit.approvals, wait for the stream's verdict, then act.

The gate never decides anything itself. It publishes the request (with the fingerprint of exactly the
arguments it will run with), then reads the state the stream folds from the approvers' steps
(audit.approvals.state) and only trusts that: an approval counts there only when the approver's token
verified, they are not the requester and they are in the rule's groups. No answer in time is a refusal,
and the gate records it (an `expired` step), so the ledger shows every request's end.

    gate = ApprovalGate(settings, "acme", {"subject": "agent-7", "kind": "agent"}, "support-copilot",
                        id_token=lambda: Path("token").read_text())
    delete_user = gated(delete_user, gate, risk="high", emitter=emitter)
    delete_user(user_id="u-17")      # runs only once approved; raises ApprovalDenied otherwise

The Kafka parts are two small adapters (`KafkaStepPublisher`, `KafkaApprovalStates`) behind the
`StepPublisher` and `ApprovalStates` protocols, so tests can drive the gate without a broker.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, KafkaError, Producer, TopicPartition

from auditledger.config import Settings, TopicNames
from auditledger.kafka_security import client_security
from producers.emitter import AuditEmitter, DeliveryError
from producers.event_json import ACTOR_KINDS, EventFormatError
from schemas import SchemaStore
from schemas.action_fingerprint import REQUEST_ATTRIBUTE, action_fingerprint
from stream.approval_changelog import load_approval_book
from stream.approvals.rules import RISK_LEVELS
from stream.approvals.state import expired_at, tally
from stream.partition_reader import PartitionReadError, tail_consumer

OUTCOME_STATUSES = ("approved", "rejected", "revoked", "expired", "timeout")
_APPROVED_STATES = frozenset({"approved", "executed"})
_CLOSED_STATES = frozenset({"rejected", "revoked", "expired"})


@dataclass(frozen=True)
class ApprovalOutcome:
    """How a request ended for the gate. `approvers`: the subjects whose approvals counted."""

    request_id: str
    status: str  # approved | rejected | revoked | expired | timeout
    approvers: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return self.status == "approved"


class ApprovalDenied(Exception):
    """The action was not approved; never names its arguments (they may be secret)."""

    def __init__(self, outcome: ApprovalOutcome) -> None:
        self.outcome = outcome
        super().__init__(f"approval {outcome.status} for request {outcome.request_id}")


class ApprovalStates(Protocol):
    """Where the gate reads the stream's verdict from."""

    def latest(self, request_id: str) -> Mapping[str, Any] | None:
        """The newest ApprovalState datum seen for the request (after taking in what has arrived), or None.

        May block briefly (a poll) so that a caller looping on it does not spin."""
        ...


class StepPublisher(Protocol):
    """Where the gate's steps go: audit.approvals, keyed by request id."""

    def publish(self, key: str, value: bytes) -> None:
        """Send one message and return once the broker confirmed it; raise DeliveryError otherwise."""
        ...


def arguments_json(arguments: str | Mapping[str, Any] | None) -> str | None:
    """The arguments as the JSON text that is both fingerprinted and shown: text as given, a mapping with sorted
    keys. The executed action must carry this same text, so it is computed once, here."""
    if arguments is None or isinstance(arguments, str):
        return arguments
    if not isinstance(arguments, Mapping):
        raise TypeError(f"arguments: want a JSON string or a mapping, got {type(arguments).__name__}")
    return json.dumps(arguments, sort_keys=True)


def actor_datum(actor: Mapping[str, Any]) -> dict[str, Any]:
    """An Actor datum from a mapping {subject, issuer?, groups?, kind?}; raises EventFormatError on a bad one."""
    subject = actor.get("subject")
    if not isinstance(subject, str) or not subject:
        raise EventFormatError("actor.subject: want a non-empty string")
    issuer = actor.get("issuer")
    if issuer is not None and not isinstance(issuer, str):
        raise EventFormatError("actor.issuer: want a string")
    groups = list(actor.get("groups") or [])
    if not all(isinstance(g, str) for g in groups):
        raise EventFormatError("actor.groups: want a list of strings")
    kind = actor.get("kind") or "user"
    if kind not in ACTOR_KINDS:
        raise EventFormatError(f"actor.kind: {kind!r} is not one of {', '.join(ACTOR_KINDS)}")
    return {"subject": subject, "issuer": issuer, "groups": groups, "kind": kind}


def outcome_of(request_id: str, state: Mapping[str, Any] | None, now: datetime) -> ApprovalOutcome | None:
    """The gate's reading of a state, or None while it is still open. An approval that arrives after the
    request's expiry covers nothing (the stream would judge the action `expired`), so it reads as expired."""
    if state is None or state["request"] is None:
        return None
    counted = tuple(tally(state)[0])
    status = state["status"]
    if status in _APPROVED_STATES:
        return ApprovalOutcome(request_id, "expired" if expired_at(state, now) else "approved", counted)
    if status in _CLOSED_STATES:
        return ApprovalOutcome(request_id, status, counted)
    return None


class ApprovalGate:
    """Asks for approval of one action at a time and waits for the stream's verdict (see the module doc).

    `actor` is the requester as claimed ({subject, issuer, groups, kind}); `id_token` returns its current
    OIDC ID token, attached to every step (the stream verifies it; without one the requester is unverified).
    `publisher` / `states` replace the Kafka adapters (tests, or a caller sharing one consumer).
    """

    def __init__(
        self,
        settings_or_bootstrap: Settings | str,
        tenant: str,
        actor: Mapping[str, Any],
        source_service: str,
        id_token: Callable[[], str | None] | None = None,
        topics: TopicNames | None = None,
        *,
        publisher: StepPublisher | None = None,
        states: ApprovalStates | None = None,
        store: SchemaStore | None = None,
        poll_interval_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if isinstance(settings_or_bootstrap, Settings):
            self._bootstrap = settings_or_bootstrap.kafka_bootstrap
            self.topics = topics or settings_or_bootstrap.topics
        else:
            self._bootstrap = settings_or_bootstrap
            self.topics = topics or TopicNames()
        if not tenant:
            raise ValueError("tenant: must not be empty")
        if not source_service:
            raise ValueError("source_service: must not be empty")
        self.tenant = tenant
        self.actor = actor_datum(actor)
        self.source = {"service": source_service, "host": socket.gethostname(), "ip": None}
        self._id_token = id_token
        self._store = store or SchemaStore()
        self._publisher = publisher
        self._states = states
        self._made: list[Any] = []  # adapters this gate opened, and so closes
        self._adapter_lock = threading.Lock()
        self.poll_interval_s = poll_interval_s
        self.clock = clock  # monotonic seconds, for timeouts
        self.now = now  # wall clock, for timestamps and the request's expiry

    # -- adapters, made on first use so a gate that only asks never opens a consumer

    def _publisher_or_default(self) -> StepPublisher:
        with self._adapter_lock:
            if self._publisher is None:
                self._publisher = KafkaStepPublisher(self._need_bootstrap(), self.topics.approvals)
                self._made.append(self._publisher)
            return self._publisher

    def _states_or_default(self) -> ApprovalStates:
        with self._adapter_lock:
            if self._states is None:
                self._states = KafkaApprovalStates(self._need_bootstrap(), self.topics.approvals_state, self._store)
                self._made.append(self._states)
            return self._states

    def _need_bootstrap(self) -> str:
        if not self._bootstrap:
            raise ValueError("no Kafka bootstrap servers: pass them, or Settings with kafka_bootstrap")
        return self._bootstrap

    def close(self) -> None:
        """Close the Kafka adapters this gate opened (ones it was given belong to the caller)."""
        with self._adapter_lock:
            made, self._made = self._made, []
            for adapter in made:
                adapter.close()
            if self._publisher in made:
                self._publisher = None
            if self._states in made:
                self._states = None

    def __enter__(self) -> ApprovalGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- steps

    def credential(self) -> dict[str, str] | None:
        token = self._id_token() if self._id_token is not None else None
        return {"kind": "oidc_id_token", "token": token} if token else None

    def _publish(self, request_id: str, kind: str, request: Mapping[str, Any] | None = None) -> str:
        event_id = str(uuid.uuid4())
        datum = {
            "event_id": event_id,
            "request_id": request_id,
            "tenant": self.tenant,
            "kind": kind,
            "occurred_at": self.now(),
            "actor": self.actor,
            "request": request,
            "comment": None,
            "source": self.source,
            "credential": self.credential(),
        }
        self._publisher_or_default().publish(request_id, self._store.encode("ApprovalEvent", datum))
        return event_id

    def request(
        self,
        action_type: str,
        action_name: str | None,
        arguments: str | Mapping[str, Any] | None = None,
        query: str | None = None,
        resource: str | None = None,
        risk: str | None = None,
        reason: str | None = None,
        session_id: str | None = None,
        ttl_s: float = 900,
    ) -> str:
        """Publish a `requested` step (confirmed by the broker) and return its request id.

        The fingerprint is over exactly the arguments text sent; run the action with `arguments_json(arguments)`
        as its tool_arguments or it will not match."""
        if risk is not None and risk not in RISK_LEVELS:
            raise ValueError(f"risk: {risk!r} is not one of {', '.join(RISK_LEVELS)}")
        if ttl_s <= 0:
            raise ValueError("ttl_s: must be positive")
        arguments_text = arguments_json(arguments)
        request_id = str(uuid.uuid4())
        request = {
            "action_type": action_type,
            "action_name": action_name,
            "fingerprint": action_fingerprint(action_type, action_name, arguments_text, query),
            "arguments": arguments_text,
            "query": query,
            "resource": resource,
            "risk": risk,
            "reason": reason,
            "expires_at": self.now() + timedelta(seconds=ttl_s),
            "session_id": session_id,
        }
        self._publish(request_id, "requested", request)
        return request_id

    def record_executed(self, request_id: str) -> None:
        """Publish `executed`: the requester used the approval (whatever the action's own outcome)."""
        self._publish(request_id, "executed")

    def record_expired(self, request_id: str) -> None:
        """Publish `expired`: the requester stopped waiting; a later approval no longer counts."""
        self._publish(request_id, "expired")

    # -- waiting

    def check(self, request_id: str) -> ApprovalOutcome | None:
        """One look at the stream's state: the outcome if the request is decided, else None. A request still
        pending past its own expiry can no longer be approved: the gate gives up on it (publishing `expired`)."""
        state = self._states_or_default().latest(request_id)
        if state is not None and state["tenant"] != self.tenant:
            state = None  # another tenant's state cannot decide this tenant's request
        outcome = outcome_of(request_id, state, self.now())
        if outcome is None and state is not None and expired_at(state, self.now()):
            return self._give_up(request_id, "expired", state)
        return outcome

    def _give_up(self, request_id: str, status: str, state: Mapping[str, Any] | None) -> ApprovalOutcome:
        self.record_expired(request_id)
        counted = tuple(tally(state)[0]) if state is not None and state["request"] is not None else ()
        return ApprovalOutcome(request_id, status, counted)

    def wait(self, request_id: str, timeout_s: float) -> ApprovalOutcome:
        """Block until the request is decided or `timeout_s` passes; a timeout is a refusal, recorded as
        `expired` on audit.approvals, with status "timeout"."""
        deadline = self.clock() + timeout_s
        while True:
            outcome = self.check(request_id)
            if outcome is not None:
                return outcome
            if self.clock() >= deadline:
                break
            time.sleep(min(self.poll_interval_s, max(0.0, deadline - self.clock())))
        return self._give_up(request_id, "timeout", self._states_or_default().latest(request_id))

    async def await_outcome(self, request_id: str, timeout_s: float) -> ApprovalOutcome:
        """`wait` without blocking the event loop: each look runs in the default executor."""
        loop = asyncio.get_running_loop()
        deadline = self.clock() + timeout_s
        while True:
            outcome = await loop.run_in_executor(None, self.check, request_id)
            if outcome is not None:
                return outcome
            if self.clock() >= deadline:
                break
            await asyncio.sleep(min(self.poll_interval_s, max(0.0, deadline - self.clock())))
        state = await loop.run_in_executor(None, self._states_or_default().latest, request_id)
        return await loop.run_in_executor(None, self._give_up, request_id, "timeout", state)

    def request_approval(
        self,
        action_type: str,
        action_name: str | None,
        arguments: str | Mapping[str, Any] | None = None,
        query: str | None = None,
        resource: str | None = None,
        risk: str | None = None,
        reason: str | None = None,
        session_id: str | None = None,
        ttl_s: float = 900,
        timeout_s: float = 300,
    ) -> ApprovalOutcome:
        """request + wait: blocks up to `timeout_s`."""
        request_id = self.request(action_type, action_name, arguments, query, resource, risk, reason, session_id,
                                  ttl_s)  # fmt: skip
        return self.wait(request_id, timeout_s)

    async def arequest_approval(
        self,
        action_type: str,
        action_name: str | None,
        arguments: str | Mapping[str, Any] | None = None,
        query: str | None = None,
        resource: str | None = None,
        risk: str | None = None,
        reason: str | None = None,
        session_id: str | None = None,
        ttl_s: float = 900,
        timeout_s: float = 300,
    ) -> ApprovalOutcome:
        """request_approval for coroutines: publishing and polling run in the executor, waiting on asyncio."""
        loop = asyncio.get_running_loop()
        ask = functools.partial(self.request, action_type, action_name, arguments, query, resource, risk, reason,
                                session_id, ttl_s)  # fmt: skip
        request_id = await loop.run_in_executor(None, ask)
        return await self.await_outcome(request_id, timeout_s)


# -- gated functions


@dataclass(frozen=True)
class _GateTerms:
    gate: ApprovalGate
    action_type: str
    action_name: str
    risk: str | None
    resource: str | None
    reason: str | None
    timeout_s: float
    emitter: AuditEmitter | None
    session_id: str | None

    def ask(self, arguments: str | None) -> dict[str, Any]:
        return {"action_type": self.action_type, "action_name": self.action_name, "arguments": arguments,
                "resource": self.resource, "risk": self.risk, "reason": self.reason,
                "session_id": self.session_id, "timeout_s": self.timeout_s}  # fmt: skip

    def emit(self, request_id: str, arguments: str | None, status: str, error: str | None) -> None:
        """The action's own AuditEvent, naming its request so the stream joins it to the approval."""
        if self.emitter is None:
            return
        gate = self.gate
        datum = {
            "event_id": str(uuid.uuid4()),
            "tenant": gate.tenant,
            "occurred_at": gate.now(),
            "actor": gate.actor,
            "action": {"type": self.action_type, "name": self.action_name},
            "target": {"kind": None, "name": self.resource},
            "payload": {"prompt": None, "query": None, "parameters": None, "tool_arguments": arguments,
                        "response": None, "attributes": {REQUEST_ATTRIBUTE: request_id}},  # fmt: skip
            "outcome": {"status": status, "error": error},
            "source": gate.source,
            "correlation": {"session_id": self.session_id or request_id, "run_id": None, "parent_run_id": None,
                            "graph_node": None, "trace_id": None},  # fmt: skip
            "credential": gate.credential(),  # None lets the emitter attach its own token
        }
        self.emitter.emit_datum(datum)

    def refuse(self, outcome: ApprovalOutcome, arguments: str | None) -> ApprovalDenied:
        self.emit(outcome.request_id, arguments, "blocked", f"approval {outcome.status}")
        return ApprovalDenied(outcome)


def _keyword_arguments(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    if args:
        raise TypeError(f"{name}: a gated call takes keyword arguments only (they are what the approver sees)")
    return arguments_json(dict(kwargs))


def gated(
    fn: Callable[..., Any],
    gate: ApprovalGate,
    *,
    action_type: str = "tool.call",
    name: str | None = None,
    risk: str | None = None,
    resource: str | None = None,
    reason: str | None = None,
    timeout_s: float = 300,
    emitter: AuditEmitter | None = None,
    session_id: str | None = None,
) -> Callable[..., Any]:
    """`fn` behind an approval: each call (keyword arguments only) asks for approval of exactly its arguments,
    runs `fn` only once approved, then records `executed`; otherwise raises ApprovalDenied without running it.

    With `emitter`, the action is also emitted as an AuditEvent (tool_arguments = the approved JSON text,
    attribute approval_request_id) with outcome success, failure (the exception's class name; re-raised) or
    blocked. The emitter is only queued to: flush it (or use it as a context manager) as with any event.
    A coroutine function gives a coroutine function that never blocks the event loop.
    """
    terms = _GateTerms(gate, action_type, name or fn.__name__, risk, resource, reason, timeout_s, emitter, session_id)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def gated_coroutine(*args: Any, **kwargs: Any) -> Any:
            arguments = _keyword_arguments(terms.action_name, args, kwargs)
            outcome = await gate.arequest_approval(**terms.ask(arguments))
            if not outcome.approved:
                raise terms.refuse(outcome, arguments)
            loop = asyncio.get_running_loop()
            try:
                result = await fn(**kwargs)
            except Exception as exc:
                await loop.run_in_executor(None, gate.record_executed, outcome.request_id)
                terms.emit(outcome.request_id, arguments, "failure", type(exc).__name__)
                raise
            await loop.run_in_executor(None, gate.record_executed, outcome.request_id)
            terms.emit(outcome.request_id, arguments, "success", None)
            return result

        return gated_coroutine

    @functools.wraps(fn)
    def gated_call(*args: Any, **kwargs: Any) -> Any:
        arguments = _keyword_arguments(terms.action_name, args, kwargs)
        outcome = gate.request_approval(**terms.ask(arguments))
        if not outcome.approved:
            raise terms.refuse(outcome, arguments)
        try:
            result = fn(**kwargs)
        except Exception as exc:
            gate.record_executed(outcome.request_id)
            terms.emit(outcome.request_id, arguments, "failure", type(exc).__name__)
            raise
        gate.record_executed(outcome.request_id)
        terms.emit(outcome.request_id, arguments, "success", None)
        return result

    return gated_call


# -- Kafka adapters (thin: everything above is tested without a broker)


class KafkaStepPublisher:
    """Idempotent, acks=all producer of approval steps; each publish waits for its confirmation."""

    def __init__(self, bootstrap: str, topic: str, extra_config: Mapping[str, Any] | None = None,
                 timeout_s: float = 30.0) -> None:  # fmt: skip
        config = {
            "bootstrap.servers": bootstrap,
            **client_security(),  # TLS/SASL from the configuration; extra_config below still wins
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",  # the Java clients' partitioning, as AuditEmitter
            "message.timeout.ms": int(timeout_s * 1000),
        }
        config.update(extra_config or {})
        self.topic = topic
        self.timeout_s = timeout_s
        self._producer = Producer(config)

    def publish(self, key: str, value: bytes) -> None:
        failures: list[tuple[str, str]] = []

        def report(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                failures.append((key, err.str()))

        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key.encode(), on_delivery=report)
                break
            except BufferError:
                self._producer.poll(0.1)
        remaining = self._producer.flush(self.timeout_s)
        if failures or remaining:
            raise DeliveryError(failures, remaining)

    def close(self) -> None:
        self._producer.flush(self.timeout_s)


class KafkaApprovalStates:
    """Follows audit.approvals.state (read_committed, every partition, from the beginning: it is compacted).

    Keeps the latest raw value per key (a tombstone deletes) and decodes only what is asked for."""

    def __init__(self, bootstrap: str, topic: str, store: SchemaStore | None = None, poll_s: float = 0.2) -> None:
        self.topic = topic
        self.poll_s = poll_s
        self._store = store or SchemaStore()
        self._raw: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._consumer = tail_consumer(bootstrap, "auditledger-approval-gate")
        metadata = self._consumer.list_topics(topic, timeout=30).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            self._consumer.close()
            raise PartitionReadError(f"{topic}: topic not found (create the topics first: auditledger topics create)")
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(metadata.partitions)])

    def latest(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._take_in()
            raw = self._raw.get(request_id)
        return self._store.decode(raw, reader="ApprovalState") if raw is not None else None

    def _take_in(self) -> None:
        timeout = self.poll_s
        while messages := self._consumer.consume(1000, timeout):
            for message in messages:
                err = message.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF or (err.retriable() and not err.fatal()):
                        continue
                    raise PartitionReadError(f"{self.topic}[{message.partition()}]: {err.str()}")
                key = (message.key() or b"").decode("utf-8", "replace")
                if message.value() is None:
                    self._raw.pop(key, None)
                else:
                    self._raw[key] = message.value()
            timeout = 0  # then take only what is already here

    def close(self) -> None:
        with self._lock:
            self._consumer.close()


def read_state_topic(
    bootstrap: str, topic: str, store: SchemaStore | None = None, timeout_s: float = 60.0
) -> dict[str, dict[str, Any]]:
    """Every approval state as the topic stands (read to its end under read_committed), by key; last value per
    key wins, a tombstone deletes. Placeholder keys are kept: callers that list requests skip them."""
    consumer = tail_consumer(bootstrap, "auditledger-approvals-cli")
    try:
        metadata = consumer.list_topics(topic, timeout=30).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise PartitionReadError(f"{topic}: topic not found (create the topics first: auditledger topics create)")
        book = load_approval_book(consumer, topic, store or SchemaStore(), timeout_s)
    finally:
        consumer.close()
    return {state["request_id"]: state for state in book.states()}

__all__ = [
    "ApprovalDenied",
    "ApprovalGate",
    "ApprovalOutcome",
    "ApprovalStates",
    "KafkaApprovalStates",
    "KafkaStepPublisher",
    "OUTCOME_STATUSES",
    "RISK_LEVELS",
    "StepPublisher",
    "actor_datum",
    "arguments_json",
    "gated",
    "outcome_of",
    "read_state_topic",
]
