"""Admitting one decoded event to the ledger: prove who sent it, mask what must not be kept, say what was done.

Pure: the policy, masking keys and token verifier are given. The credential is verified and then
removed; the rest of the event is masked by the policy for its tenant and action type. What comes
out is the only form of the event that may leave the stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from stream.identity.verifier import IdentityVerdict, TokenVerifier, token_fingerprint
from stream.masking.engine import UnscannableField, mask_event, mask_text
from stream.masking.keys import MaskingKeys
from stream.masking.plan import MaskingPlan
from stream.masking.policy import MaskingPolicy
from stream.validation import RejectedEvent, Rejection

CREDENTIAL_KINDS = frozenset({"oidc_id_token"})


@dataclass(frozen=True)
class AlertDraft:
    """A violation found while admitting; the sequencer gives it a ledger position and publishes it."""

    kind: str
    severity: str
    summary: str
    details: Mapping[str, str]


@dataclass(frozen=True)
class Admitted:
    event: dict[str, Any]
    identity: dict[str, Any]
    masking: dict[str, Any]
    alerts: tuple[AlertDraft, ...]


def identity_datum(verdict: IdentityVerdict) -> dict[str, Any]:
    """The VerifiedIdentity record for a verdict (claims only as the verifier reported them)."""
    return {
        "status": verdict.status,
        "reason": verdict.reason,
        "subject": verdict.subject or None,
        "issuer": verdict.issuer or None,
        "email": verdict.email or None,
        "groups": list(verdict.groups),
        "audience": verdict.audience or None,
        "key_id": verdict.key_id or None,
        "algorithm": verdict.algorithm or None,
        "expires_at": verdict.expires_at,
        "token_fingerprint": verdict.token_fingerprint or None,
    }


class EventAdmission:
    def __init__(self, policy: MaskingPolicy, keys: MaskingKeys, verifier: TokenVerifier) -> None:
        self.policy = policy
        self._keys = keys
        self._verifier = verifier

    def plan(self, event: Mapping[str, Any]) -> MaskingPlan:
        return self.policy.plan_for(event["tenant"], event["action"]["type"], self._keys)

    def admit(self, event: Mapping[str, Any], received_at: datetime) -> Admitted:
        """The ledger form of `event`; raises RejectedEvent (kind `unscannable`) in strict mode."""
        verdict = self._verify(event, received_at)
        stripped = {**event, "credential": None}
        try:
            masked = mask_event(stripped, self.plan(stripped))
        except UnscannableField as exc:
            raise RejectedEvent(Rejection("unscannable", f"{exc.path}: {exc.reason}"), event=stripped) from None
        items = [{"path": i.path, "rule": i.rule, "action": i.action, "count": i.count} for i in masked.manifest]
        return Admitted(
            event=masked.event,
            identity=identity_datum(verdict),
            masking={"policy_digest": self.policy.digest, "items": items},
            alerts=self._identity_alerts(event, verdict),
        )

    def _verify(self, event: Mapping[str, Any], received_at: datetime) -> IdentityVerdict:
        credential = event.get("credential")
        token = credential["token"] if credential else None
        if credential and credential["kind"] not in CREDENTIAL_KINDS:  # not a token we know how to check
            kinds = ", ".join(sorted(CREDENTIAL_KINDS))
            return IdentityVerdict(status="unverified", reason_code="unsupported_credential",
                                   reason=f"unsupported_credential: credential kind is not one of {kinds}",
                                   token_fingerprint=token_fingerprint(token))  # fmt: skip
        return self._verifier.verify(token, event["tenant"], received_at, claimed_subject=event["actor"]["subject"])

    def _identity_alerts(self, event: Mapping[str, Any], verdict: IdentityVerdict) -> tuple[AlertDraft, ...]:
        if verdict.status != "unverified":
            return ()
        kind = "identity_missing" if verdict.reason_code == "missing_token" else "identity_unverified"
        details = {"reason_code": verdict.reason_code, "claimed_subject": event["actor"]["subject"]}
        if verdict.token_fingerprint:
            details["token_fingerprint"] = verdict.token_fingerprint
        return (AlertDraft(kind, "high", f"actor identity not verified: {verdict.reason}", details),)

    def preview(self, event: Mapping[str, Any]) -> str:
        """The event as masked JSON for a dead letter: never strict (an unscannable field is withheld)."""
        stripped = {**event, "credential": None}
        try:
            plan = replace(self.plan(stripped), strict=False)
            masked = mask_event(stripped, plan).event
        except (KeyError, TypeError, ValueError):
            return ""
        return json.dumps(masked, ensure_ascii=False, sort_keys=True, default=str)

    def mask_reason(self, reason: str) -> str:
        """Reasons are written by us and name no values, but a decoder's message might echo one."""
        plan = replace(self.policy.plan_for("", "", self._keys), strict=False)
        return mask_text(reason, plan, "reason")[0]
