"""The approval join: covered actions judged against the approval table, approval steps folded into it.

Pure apart from the table it is given (an ApprovalBook, whose changes the ledger writer commits with
the batch). Called by the sequencer with each input's ledger position, so alerts and decisions can
name the records they concern.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.action_fingerprint import REQUEST_ATTRIBUTE, event_fingerprint
from stream.admission import AlertDraft
from stream.approvals.book import ApprovalBook
from stream.approvals.judgement import (
    SEVERITY,
    RuleTerms,
    awaiting_entry,
    bounded,
    judge_action,
    late_joins,
    step_section,
)
from stream.approvals.rules import ActionDescription, ApprovalPolicy
from stream.approvals.state import ApprovalStep, empty_state, fold_step, placeholder_id

MAX_AWAITING = 256


@dataclass(frozen=True)
class LateJoin:
    """A follow-up record to append after a decision: it clears `cleared` on the record at `covers`."""

    section: dict[str, Any]
    covers: Mapping[str, Any]
    cleared: list[str]


class ApprovalJoin:
    def __init__(self, policy: ApprovalPolicy, book: ApprovalBook) -> None:
        self.policy = policy
        self.book = book
        self._late_window = timedelta(seconds=policy.late_window_s)
        self._forget_after = timedelta(seconds=policy.forget_after_s)

    def forget_idle(self, now: datetime) -> int:
        """Forget requests and awaiting actions with no step for the policy's forget_after_s."""
        return self.book.forget_idle(now - self._forget_after)

    def judge(
        self, event: Mapping[str, Any], shard: int, seq: int, now: datetime
    ) -> tuple[dict[str, Any] | None, tuple[AlertDraft, ...]]:
        """The approval section for an action (None if no rule covers it) and its violations as alerts.

        `event` is the action as emitted (before masking): its fingerprint is over the real arguments.
        An action that did not run (outcome `blocked`) is recorded with its approval and no violation.
        """
        rule = self.policy.rule_for(ActionDescription.of_event(event))
        if rule is None:
            return None, ()
        terms = RuleTerms(rule.name, tuple(rule.approver_groups), rule.approvals)
        fingerprint = event_fingerprint(event)
        request_id = event["payload"]["attributes"].get(REQUEST_ATTRIBUTE) or None
        state = self.book.for_action(event["tenant"], request_id, fingerprint)
        judgement = judge_action(terms, state, fingerprint, now)
        if event["outcome"]["status"] == "blocked":
            return {**judgement.section, "status": "blocked", "violations": []}, ()
        if judgement.clearable:
            if state is None:
                key = request_id or placeholder_id(event["tenant"], fingerprint)
                if self.book.get(key) is None:  # a key held by another tenant's request is not this action's to use
                    state = empty_state(key, event["tenant"], -1, -1, now)
            if state is not None:
                waiting = awaiting_entry(shard, seq, str(event["event_id"]), terms, judgement, now)
                self.book.put({**state, "awaiting": bounded([*state["awaiting"], waiting], MAX_AWAITING)})
        alerts = tuple(
            AlertDraft(
                f"approval_{violation}",
                SEVERITY.get(violation, "high"),
                f"{event['action']['type']} covered by approval rule {rule.name}: {violation.replace('_', ' ')}",
                {"rule": rule.name, "request_id": judgement.section["request_id"] or "",
                 "fingerprint": fingerprint, "actor": event["actor"]["subject"]},  # fmt: skip
            )
            for violation in judgement.violations
        )
        return judgement.section, alerts

    def apply_step(
        self,
        step: Mapping[str, Any],
        identity: Mapping[str, Any],
        request: Mapping[str, Any] | None,
        comment: str | None,
        position: tuple[int, int, int, int],
        now: datetime,
    ) -> tuple[dict[str, Any], list[LateJoin]]:
        """Fold one step; returns its record's approval section and the late joins it makes.

        `step` is the decoded ApprovalEvent, `identity` its verified credential, `request` and `comment`
        the masked copies; `position` is (source partition, source offset, shard, seq of its record).
        """
        partition, offset, shard, seq = position
        tenant, request_id = step["tenant"], step["request_id"]
        state = self.book.get(request_id)
        rule_name, required, groups = None, 1, ()
        if step["kind"] == "requested" and step["request"] is not None:
            raw_request = step["request"]
            rule = self.policy.rule_for(ActionDescription.of_request(tenant, raw_request))
            if rule is not None:
                rule_name, required, groups = rule.name, rule.approvals, tuple(rule.approver_groups)
            if state is None or state["request"] is None:
                state = self._adopt_placeholder(state, request_id, tenant, raw_request["fingerprint"], now)
        folded_step = ApprovalStep(step["kind"], request_id, tenant, str(step["event_id"]), step["occurred_at"],
                                   step["actor"]["subject"], identity, request, comment, partition, offset, shard,
                                   seq)  # fmt: skip
        folded = fold_step(state, folded_step, rule_name, required, groups)
        joins: list[LateJoin] = []
        if folded["status"] in ("approved", "executed") and folded["awaiting"]:
            cleared, remaining = late_joins(folded, now, self._late_window)
            folded["awaiting"] = remaining
            joins = [LateJoin(section, waiting, list(waiting["violations"])) for waiting, section in cleared]
        self.book.put(folded)
        return step_section(folded), joins

    def _adopt_placeholder(
        self, state: dict[str, Any] | None, request_id: str, tenant: str, fingerprint: str, now: datetime
    ) -> dict[str, Any] | None:
        """A request for actions already recorded without one takes over their awaiting list."""
        key = placeholder_id(tenant, fingerprint)
        placeholder = self.book.get(key)
        if placeholder is None or not placeholder["awaiting"]:
            return state
        self.book.remove(key)
        if state is None:
            state = empty_state(request_id, tenant, -1, -1, now)
        return {**state, "awaiting": [*state["awaiting"], *placeholder["awaiting"]]}
