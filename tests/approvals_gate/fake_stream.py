"""A stand-in for Kafka plus the stream worker, for the gate and CLI tests.

`publish` decodes each step with the project's schemas (so an invalid datum fails the test) and, unless
told not to, folds it the way the stream does (stream.approvals.state.fold_step) into a state that is
round-tripped through the ApprovalState schema. "Verification" is a list of trusted token subjects: a
token whose subject is trusted verifies with the groups it claims, any other token is unverified.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from schemas import SchemaStore
from stream.approvals.state import ApprovalStep, fold_step

ISSUER = "https://idp.test.example"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_token(subject: str, groups: Iterable[str] = (), issuer: str = ISSUER) -> str:
    """A well-formed JWS whose signature is junk: the CLI only reads claims; the (fake) stream decides trust."""
    header = _b64url(json.dumps({"alg": "RS256", "kid": "k1"}).encode())
    payload = _b64url(json.dumps({"sub": subject, "iss": issuer, "groups": list(groups)}).encode())
    return f"{header}.{payload}.{_b64url(b'not-a-signature')}"


def token_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def identity(status: str, subject: str | None = None, groups: Iterable[str] = (), reason: str = "") -> dict[str, Any]:
    """A VerifiedIdentity datum."""
    return {"status": status, "reason": reason, "subject": subject, "issuer": ISSUER if subject else None,
            "email": None, "groups": list(groups), "audience": None, "key_id": None, "algorithm": None,
            "expires_at": None, "token_fingerprint": None}  # fmt: skip


class FakeStream:
    """Publisher (gate and CLI), ApprovalStates and ApprovalsBackend at once."""

    def __init__(
        self,
        store: SchemaStore,
        trusted: Iterable[str] = (),
        rule: str = "high-risk-tools",
        required: int = 1,
        approver_groups: Iterable[str] = ("sre",),
        fold: bool = True,
    ) -> None:
        self.store = store
        self.trusted = set(trusted)
        self.rule, self.required, self.approver_groups = rule, required, tuple(approver_groups)
        self.fold = fold
        self.published: list[tuple[str, dict[str, Any]]] = []  # (key, decoded ApprovalEvent)
        self.states: dict[str, dict[str, Any]] = {}
        self.polls = 0
        self.on_poll: Callable[[str, int], None] | None = None  # (request_id, poll number), before answering
        self._offset = 0

    # publisher
    def publish(self, key: str, value: bytes) -> None:
        datum = self.store.decode(value, reader="ApprovalEvent")
        assert key == str(datum["request_id"]), "steps are keyed by request id"
        self.published.append((key, datum))
        if self.fold:
            self.fold_step(datum)

    def kinds(self) -> list[str]:
        return [datum["kind"] for _, datum in self.published]

    def verify(self, credential: Mapping[str, Any] | None) -> dict[str, Any]:
        if not credential:
            return identity("absent", reason="absent: no credential")
        claims = token_claims(credential["token"])
        if claims["sub"] in self.trusted:
            return identity("verified", claims["sub"], claims.get("groups") or [])
        return identity("unverified", reason="bad_signature: the signature does not verify")

    def fold_step(self, datum: Mapping[str, Any]) -> dict[str, Any]:
        """Fold one ApprovalEvent datum as the stream would, and keep the state as a reader would see it."""
        self._offset += 1
        step = ApprovalStep(
            kind=datum["kind"], request_id=str(datum["request_id"]), tenant=datum["tenant"],
            event_id=str(datum["event_id"]), occurred_at=datum["occurred_at"],
            claimed_subject=datum["actor"]["subject"], identity=self.verify(datum["credential"]),
            request=datum["request"], comment=datum["comment"], partition=0, offset=self._offset, shard=0,
            seq=self._offset,
        )  # fmt: skip
        key = step.request_id
        state = fold_step(self.states.get(key), step, self.rule, self.required, self.approver_groups)
        self.states[key] = self.store.decode(self.store.encode("ApprovalState", state), reader="ApprovalState")
        return self.states[key]

    def decide(self, request_id: str, kind: str, subject: str, groups: Iterable[str] = (), tenant: str = "acme",
               at: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        """Someone else's decision (an approver at the CLI), folded without going through `published`."""
        datum = {
            "event_id": str(uuid.uuid4()), "request_id": request_id, "tenant": tenant, "kind": kind,
            "occurred_at": at or datetime.now(UTC),
            "actor": {"subject": subject, "issuer": ISSUER, "groups": list(groups), "kind": "user"},
            "request": None, "comment": None, "source": {"service": "test", "host": None, "ip": None},
            "credential": {"kind": "oidc_id_token", "token": unsigned_token(subject, groups)},
        }  # fmt: skip
        return self.fold_step(self.store.decode(self.store.encode("ApprovalEvent", datum), reader="ApprovalEvent"))

    # ApprovalStates
    def latest(self, request_id: str) -> dict[str, Any] | None:
        self.polls += 1
        if self.on_poll is not None:
            self.on_poll(request_id, self.polls)
        return self.states.get(request_id)

    # ApprovalsBackend
    def read_states(self) -> dict[str, dict[str, Any]]:
        return dict(self.states)

    def watch(self) -> FakeStream:
        return self


class RecordingEmitter:
    """Collects AuditEvent datums as AuditEmitter.emit_datum would queue them."""

    def __init__(self, store: SchemaStore) -> None:
        self.store = store
        self.events: list[dict[str, Any]] = []

    def emit_datum(self, datum: Mapping[str, Any]) -> str:
        self.store.encode("AuditEvent", datum)  # must be a valid AuditEvent
        self.events.append(dict(datum))
        return str(datum["event_id"])
