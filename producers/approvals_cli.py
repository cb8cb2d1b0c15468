"""`auditledger approvals pending|show|approve|reject|revoke`: see and decide just-in-time approval requests.

What is shown is the stream's folded state (audit.approvals.state, read to its end under read_committed):
masked as the policy masks it, and with only the decisions the stream has recorded. A decision is a step
published to audit.approvals carrying the approver's OIDC ID token (--token-file, or the file named by
AUDITLEDGER_ID_TOKEN_FILE). The token's claims fill in who is deciding, but only the stream's verification
of the token decides whether the decision counts: verified, not by the requester, from an approver group.
So after publishing, the command waits (--wait) for the stream to record the decision and says whether it
counted and, if not, why.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from auditledger.config import Settings
from producers.approval_gate import ApprovalStates, KafkaApprovalStates, KafkaStepPublisher, read_state_topic
from producers.event_json import event_to_json
from schemas import SchemaStore
from stream.approvals.state import PLACEHOLDER_PREFIX, expired_at, in_groups, is_requester, tally
from stream.identity.jwt import JoseError, parse_compact

EXIT_OK, EXIT_ERROR, EXIT_UNKNOWN, EXIT_NOT_COUNTED, EXIT_NOT_FOLDED = 0, 2, 3, 4, 5
DECISION_KINDS = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}
TOKEN_FILE_ENV = "AUDITLEDGER_ID_TOKEN_FILE"
SOURCE_SERVICE = "auditledger-cli"
EXIT_CODES = """exit codes:
  0  done (a decision: recorded and counted, or the request is now rejected/revoked as asked)
  2  cannot run: no token, unreadable or malformed token, no Kafka or a Kafka error, a tenant that is
     not the request's
  3  unknown request (show; a decision without --tenant on a request the stream has not seen)
  4  the decision was recorded but did not count (the reason is printed)
  5  the decision was published but the stream did not record it within --wait (it may still)
"""


class CliError(Exception):
    """Something the user must fix; `code` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


class ApprovalsBackend(Protocol):
    """The Kafka side of the command, replaceable in tests."""

    def read_states(self) -> dict[str, dict[str, Any]]:
        """Every state in audit.approvals.state as it stands, by key."""
        ...

    def publish(self, key: str, value: bytes) -> None:
        """One step to audit.approvals, confirmed by the broker."""
        ...

    def watch(self) -> ApprovalStates:
        """A follower of the state topic, opened before a step is published so it sees the step's effect."""
        ...


class KafkaApprovalsBackend:
    def __init__(self, settings: Settings, store: SchemaStore) -> None:
        if not settings.kafka_bootstrap:
            raise CliError("no Kafka bootstrap: start the stack or set AUDITLEDGER_KAFKA_BOOTSTRAP")
        self._settings = settings
        self._store = store

    def read_states(self) -> dict[str, dict[str, Any]]:
        return read_state_topic(self._settings.kafka_bootstrap, self._settings.topics.approvals_state, self._store)

    def publish(self, key: str, value: bytes) -> None:
        publisher = KafkaStepPublisher(self._settings.kafka_bootstrap, self._settings.topics.approvals)
        publisher.publish(key, value)

    def watch(self) -> KafkaApprovalStates:
        return KafkaApprovalStates(self._settings.kafka_bootstrap, self._settings.topics.approvals_state, self._store)


# -- pure: what the commands show


def format_age(seconds: float) -> str:
    """45s, 3m12s, 2h05m, 1d03h: short and sortable by eye."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at is not None else None


def requester_of(state: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(subject, verified): the verified subject when the stream verified the requester, else the claimed one."""
    identity = state.get("requester") or {}
    if identity.get("status") == "verified" and identity.get("subject"):
        return identity["subject"], True
    return state.get("requester_subject"), False


def is_pending(state: Mapping[str, Any], now: datetime) -> bool:
    return state["status"] == "pending" and state["request"] is not None and not expired_at(state, now)


def pending_rows(states: Mapping[str, Mapping[str, Any]], now: datetime, tenant: str | None = None) -> list[dict]:
    """The open requests, oldest first, as the `pending` command lists them (placeholders never)."""
    rows = []
    for key, state in states.items():
        if key.startswith(PLACEHOLDER_PREFIX) or not is_pending(state, now):
            continue
        if tenant is not None and state["tenant"] != tenant:
            continue
        request = state["request"]
        requester, verified = requester_of(state)
        requested_at = state["requested_at"] or state["updated_at"]
        rows.append({
            "request_id": state["request_id"],
            "tenant": state["tenant"],
            "requested_at": iso(requested_at),
            "age_s": int((now - requested_at).total_seconds()),
            "age": format_age((now - requested_at).total_seconds()),
            "requester": requester,
            "requester_verified": verified,
            "action_type": request["action_type"],
            "action_name": request["action_name"],
            "resource": request["resource"],
            "risk": request["risk"],
            "arguments_digest": request["fingerprint"][:16],
            "approvals": len(tally(state)[0]),
            "required": max(1, state["required"]),
            "expires_at": iso(request["expires_at"]),
        })  # fmt: skip
    return sorted(rows, key=lambda r: (r["requested_at"], r["request_id"]))


def pending_table(rows: list[dict]) -> str:
    header = ("REQUEST", "AGE", "REQUESTER", "ACTION", "RESOURCE", "RISK", "ARGS DIGEST", "APPROVALS")
    lines = [header]
    for r in rows:
        requester = (r["requester"] or "-") + ("" if r["requester_verified"] else " (unverified)")
        action = r["action_type"] + (f" {r['action_name']}" if r["action_name"] else "")
        lines.append((r["request_id"], r["age"], requester, action, r["resource"] or "-", r["risk"] or "-",
                      r["arguments_digest"], f"{r['approvals']}/{r['required']}"))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


@dataclass(frozen=True)
class DecisionVerdict:
    """What became of one decision in a state: did it count, and if not, why."""

    event_id: str
    kind: str
    subject: str
    verified: bool
    counted: bool
    reason: str | None
    status: str
    shard: int
    seq: int


def decision_verdict(state: Mapping[str, Any], event_id: str) -> DecisionVerdict | None:
    """The verdict on the decision with `event_id`, or None if the state does not hold it (yet).

    Mirrors stream.approvals.state.tally, decision by decision, to name the reason a decision did not count."""
    decisions = state["decisions"]
    index = next((i for i, d in enumerate(decisions) if d["event_id"] == event_id), None)
    if index is None:
        return None
    decision = decisions[index]
    counted, reason = _counts(state, index)
    return DecisionVerdict(event_id, decision["kind"], decision["subject"], decision["verified"], counted, reason,
                           state["status"], decision["shard"], decision["seq"])  # fmt: skip


def _counts(state: Mapping[str, Any], index: int) -> tuple[bool, str | None]:
    decision = state["decisions"][index]
    kind, subject = decision["kind"], decision["subject"]
    request = state["request"]
    groups = list(state["approver_groups"])
    if request is None:
        return False, "the stream has no `requested` step for this request id"
    if not decision["verified"]:
        return False, (f"the stream could not verify the token (unverified; its ledger record, shard "
                       f"{decision['shard']} seq {decision['seq']}, says why)")  # fmt: skip
    _, closed_before = tally({**state, "decisions": state["decisions"][:index]})
    if closed_before is not None:
        return False, f"the request was already {closed_before}"
    requester = is_requester(state, subject)
    allowed = in_groups(decision, groups)
    not_in_groups = (f"{subject} is not in the approver groups ({', '.join(groups)}); the token's groups: "
                     f"{', '.join(decision['groups']) or 'none'}")  # fmt: skip
    if kind == "approved":
        if requester:
            return False, "self-approval: the requester cannot approve their own request"
        if not allowed:
            return False, not_in_groups
        if decision["decided_at"] > request["expires_at"]:
            return False, f"the request had expired at {iso(request['expires_at'])}"
        return True, None
    if kind == "rejected":
        if requester:
            return False, "the requester cannot reject their own request (revoke it instead)"
        return (True, None) if allowed else (False, not_in_groups)
    if kind == "revoked":
        return (True, None) if requester or allowed else (False, f"only the requester or {not_in_groups}")
    if requester:
        return True, None
    return False, f"only the requester's {kind} step counts"


def state_json(state: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The state as stored (timestamps ISO 8601) plus what follows from it: who counted, what closed it."""
    counted, closing = tally(state) if state["request"] is not None else ([], None)
    requester, verified = requester_of(state)
    verdicts = [decision_verdict(state, d["event_id"]) for d in state["decisions"]]
    return {
        **event_to_json(dict(state)),
        "derived": {
            "requester": requester,
            "requester_verified": verified,
            "approvers_counted": counted,
            "approvals": len(counted),
            "required": max(1, state["required"]),
            "closed_by": closing,
            "expired": expired_at(state, now),
            "decisions": [{"event_id": v.event_id, "counted": v.counted, "reason": v.reason}
                          for v in verdicts if v is not None],  # fmt: skip
        },
    }


def state_text(state: Mapping[str, Any], now: datetime) -> str:
    view = state_json(state, now)
    derived = view["derived"]
    request = state["request"] or {}
    lines = [f"request      {state['request_id']}  (tenant {state['tenant']})",
             f"status       {state['status']}  ({derived['approvals']} of {derived['required']} approvals counted)"]
    if request:
        action = request["action_type"] + (f" {request['action_name']}" if request["action_name"] else "")
        expires = request["expires_at"]
        left = "expired" if expired_at(state, now) else f"in {format_age((expires - now).total_seconds())}"
        lines += [
            f"action       {action}",
            f"resource     {request['resource'] or '-'}",
            f"risk         {request['risk'] or '-'}",
            f"arguments    {request['arguments'] if request['arguments'] is not None else '-'}",
            f"query        {request['query'] if request['query'] is not None else '-'}",
            f"reason       {request['reason'] if request['reason'] is not None else '-'}",
            f"session      {request['session_id'] or '-'}",
            f"fingerprint  {request['fingerprint']}",
            f"requested    {iso(state['requested_at'])} by {derived['requester'] or '-'} "
            f"({'verified' if derived['requester_verified'] else 'unverified'})",
            f"expires      {iso(expires)} ({left})",
        ]  # fmt: skip
    lines.append(f"rule         {state['rule'] or '-'}  requires {derived['required']}  approver groups: "
                 f"{', '.join(state['approver_groups']) or 'any verified approver'}")  # fmt: skip
    lines.append(f"decisions    {len(state['decisions'])}")
    for decision, verdict in zip(state["decisions"], derived["decisions"], strict=True):
        counts = "counted" if verdict["counted"] else f"not counted: {verdict['reason']}"
        verified = "verified" if decision["verified"] else "unverified"
        lines.append(f"  {iso(decision['decided_at'])}  {decision['kind']:<8}  {decision['subject']}  {verified}  "
                     f"groups [{', '.join(decision['groups'])}]  shard {decision['shard']} seq {decision['seq']}  "
                     f"{counts}")  # fmt: skip
        if decision["comment"]:
            lines.append(f"      comment: {decision['comment']}")
    lines.append(f"awaiting     {len(state['awaiting'])} action(s) recorded with a violation a late approval may clear")
    for waiting in state["awaiting"]:
        lines.append(f"  shard {waiting['shard']} seq {waiting['seq']}  event {waiting['event_id']}  rule "
                     f"{waiting['rule']}  {', '.join(waiting['violations'])}  at {iso(waiting['at'])}")  # fmt: skip
    return "\n".join(lines)


# -- deciding


def read_token(token_file: Path | None) -> str:
    """The approver's ID token from --token-file or $AUDITLEDGER_ID_TOKEN_FILE; never echoes it."""
    path = token_file or (Path(os.environ[TOKEN_FILE_ENV]) if os.environ.get(TOKEN_FILE_ENV) else None)
    if path is None:
        raise CliError(f"a decision needs the approver's OIDC ID token: pass --token-file FILE or set {TOKEN_FILE_ENV}")
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the token file {path}: {getattr(exc, 'strerror', None) or 'not ASCII'}") from exc
    if not token:
        raise CliError(f"the token file {path} is empty")
    return token


def token_actor(token: str, groups_claim: str = "groups") -> dict[str, Any]:
    """An Actor from the token's claims, unverified: only what to claim; the stream verifies the token."""
    try:
        claims = parse_compact(token).payload
    except JoseError as exc:
        raise CliError(f"the token is not a signed ID token: {exc}") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise CliError("the token has no subject (sub) claim")
    issuer = claims.get("iss") if isinstance(claims.get("iss"), str) else None
    groups = claims.get(groups_claim)
    groups = [groups] if isinstance(groups, str) else [g for g in groups or [] if isinstance(g, str)]
    return {"subject": subject, "issuer": issuer, "groups": groups, "kind": "user"}


def decision_step(
    kind: str, request_id: str, tenant: str, actor: Mapping[str, Any], token: str, comment: str | None, at: datetime
) -> dict[str, Any]:
    """The ApprovalEvent datum of a decision."""
    return {
        "event_id": str(uuid.uuid4()),
        "request_id": request_id,
        "tenant": tenant,
        "kind": kind,
        "occurred_at": at,
        "actor": dict(actor),
        "request": None,
        "comment": comment,
        "source": {"service": SOURCE_SERVICE, "host": socket.gethostname(), "ip": None},
        "credential": {"kind": "oidc_id_token", "token": token},
    }


def _request_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a request id (a UUID)") from None


DECISION_HELP = {
    "approve": "approve the request (counts if your token verifies, you are not the requester and you are in "
    "one of its approver groups)",
    "reject": "reject the request (closes it if you may approve it; a requester revokes instead)",
    "revoke": "withdraw the request or its approval (the requester, or anyone who may approve it)",
}


def add_parser(subparsers: Any) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("approvals", help="list, inspect and decide just-in-time approval requests",
                              description=__doc__, epilog=EXIT_CODES, formatter_class=formatter)  # fmt: skip
    actions = p.add_subparsers(dest="approvals_action", required=True, metavar="ACTION")
    pending = actions.add_parser(
        "pending", help="open requests, oldest first", epilog=EXIT_CODES, formatter_class=formatter,
        description="Requests still pending and not past their expiry, oldest first: id, age, requester,\n"
        "action, resource, risk, arguments digest (the first 16 hex digits of the action fingerprint)\n"
        "and approvals counted / required.")  # fmt: skip
    pending.add_argument("--tenant", help="only this tenant's requests (default: every tenant)")
    pending.add_argument("--json", action="store_true", help="a JSON array of the requests on stdout")
    show = actions.add_parser(
        "show", help="everything the stream knows about one request", epilog=EXIT_CODES, formatter_class=formatter,
        description="The request (masked as stored), its requester and whether the stream verified them,\n"
        "the rule and its approver groups, every decision with its ledger position and whether it\n"
        "counted (and why not), the status and any actions awaiting a late approval.")  # fmt: skip
    show.add_argument("request_id", type=_request_id, metavar="REQUEST_ID", help="the request id (a UUID)")
    show.add_argument("--json", action="store_true",
                      help="the state as JSON, with what follows from it under 'derived'")  # fmt: skip
    for name, kind in DECISION_KINDS.items():
        a = actions.add_parser(
            name, help=DECISION_HELP[name], epilog=EXIT_CODES, formatter_class=formatter,
            description=f"Publish a `{kind}` step for REQUEST_ID carrying your ID token, then wait for the\n"
            "stream to record it and say whether it counted (and if not, why).")  # fmt: skip
        a.add_argument("request_id", type=_request_id, metavar="REQUEST_ID", help="the request id (a UUID)")
        a.add_argument("--comment", help="a note kept with the decision (masked by the stream like other text)")
        a.add_argument("--token-file", type=Path, metavar="FILE",
                       help=f"your OIDC ID token (also {TOKEN_FILE_ENV}); it proves who decides and "
                       "your groups")  # fmt: skip
        a.add_argument("--tenant", help="the request's tenant (default: as the stream recorded the request; needed "
                       "only for a request the stream has not seen yet)")  # fmt: skip
        a.add_argument("--wait", type=float, default=15.0, metavar="SECONDS",
                       help="how long to wait for the stream to record the decision (default 15)")  # fmt: skip
        a.add_argument("--json", action="store_true", help="the result as one JSON object on stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings, backend: ApprovalsBackend | None = None,
        sleep: Callable[[float], None] = time.sleep) -> int:  # fmt: skip
    store = SchemaStore()
    try:
        backend = backend or KafkaApprovalsBackend(settings, store)
        if args.approvals_action == "pending":
            return _pending(args, backend)
        if args.approvals_action == "show":
            return _show(args, backend)
        return _decide(args, backend, store, sleep)
    except CliError as exc:
        print(f"approvals: {exc}", file=sys.stderr)
        return exc.code


def _pending(args: argparse.Namespace, backend: ApprovalsBackend) -> int:
    rows = pending_rows(backend.read_states(), datetime.now(UTC), args.tenant)
    if args.json:
        print(json.dumps(rows))
    elif rows:
        print(pending_table(rows))
        print(f"{len(rows)} pending request(s)")
    else:
        print("no pending requests" + (f" for tenant {args.tenant}" if args.tenant else ""))
    return EXIT_OK


def _show(args: argparse.Namespace, backend: ApprovalsBackend) -> int:
    state = backend.read_states().get(args.request_id)
    if state is None:
        raise CliError(f"no request {args.request_id} in the approval state", EXIT_UNKNOWN)
    now = datetime.now(UTC)
    print(json.dumps(state_json(state, now)) if args.json else state_text(state, now))
    return EXIT_OK


def _decide(
    args: argparse.Namespace, backend: ApprovalsBackend, store: SchemaStore, sleep: Callable[[float], None]
) -> int:
    kind = DECISION_KINDS[args.approvals_action]
    token = read_token(args.token_file)
    actor = token_actor(token)
    known = backend.read_states().get(args.request_id)
    if known is None and not args.tenant:
        raise CliError(f"no request {args.request_id} in the approval state; pass --tenant to decide on it anyway",
                       EXIT_UNKNOWN)  # fmt: skip
    if known is not None and args.tenant and args.tenant != known["tenant"]:
        raise CliError(f"request {args.request_id} belongs to tenant {known['tenant']}, not {args.tenant}")
    tenant = args.tenant or known["tenant"]
    watcher = backend.watch()
    try:
        step = decision_step(kind, args.request_id, tenant, actor, token, args.comment, datetime.now(UTC))
        backend.publish(args.request_id, store.encode("ApprovalEvent", step))
        verdict = _await_verdict(watcher, args.request_id, step["event_id"], args.wait, sleep)
    finally:
        close = getattr(watcher, "close", None)
        if close is not None:
            close()
    result: dict[str, Any] = {"request_id": args.request_id, "event_id": step["event_id"], "kind": kind,
                              "subject": actor["subject"], "recorded": verdict is not None}  # fmt: skip
    if verdict is None:
        result.update(status=None, counted=None, reason=f"not recorded by the stream within {args.wait:g}s")
        _report(args, result, f"published {kind} as event {step['event_id']}; the stream has not recorded it "
                f"within {args.wait:g}s (it may still: see `auditledger approvals show "
                f"{args.request_id}`)")  # fmt: skip
        return EXIT_NOT_FOLDED
    result.update({k: v for k, v in asdict(verdict).items() if k in ("status", "counted", "reason", "verified",
                                                                        "shard", "seq")})  # fmt: skip
    done = verdict.counted or (kind != "approved" and verdict.status == kind)
    counts = "counted" if verdict.counted else f"did not count: {verdict.reason}"
    _report(args, result, f"{kind} by {verdict.subject} recorded at shard {verdict.shard} seq {verdict.seq}; "
            f"{counts}; request status: {verdict.status}")  # fmt: skip
    return EXIT_OK if done else EXIT_NOT_COUNTED


def _await_verdict(
    watcher: ApprovalStates, request_id: str, event_id: str, wait_s: float, sleep: Callable[[float], None]
) -> DecisionVerdict | None:
    deadline = time.monotonic() + wait_s
    while True:
        state = watcher.latest(request_id)
        verdict = decision_verdict(state, event_id) if state is not None else None
        if verdict is not None or time.monotonic() >= deadline:
            return verdict
        sleep(0.2)


def _report(args: argparse.Namespace, result: dict[str, Any], text: str) -> None:
    print(json.dumps(result) if args.json else text)
