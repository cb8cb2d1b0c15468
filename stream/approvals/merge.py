"""Merging two copies of one request's state: the table's own and one read from the changelog.

With several stream workers one request's state has more than one writer. The owner of the request's
partition of audit.approvals folds its steps; the owner of an action's partition of audit.events adds
the action to `awaiting` when it is judged with a violation a later approval may clear. Each writes
the whole state, so a record read back can carry an older fold, or miss an action another worker
added. Taking the last record as it stands would undo the other writer's part; this merge keeps both:

- the fold (request, decisions, status, ...) of the copy that folded the later step. Steps of one
  request come from one partition of audit.approvals, so the later step has the higher source offset;
  a copy with no step at all (-1) is older than any; if the two came from different partitions the
  copy read later (written later) wins.
- an awaiting action both copies hold stays. One only one copy holds stays only while the merged fold
  still leaves it with a violation: had the fold cleared it, the step's owner has recorded its late join
  (it held the action) or can no longer (it never saw it); keeping it would risk a second join.

Pure: no clock, no Kafka. Applying a copy twice, or an older copy of this worker's own, changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream.approvals.judgement import RuleTerms, judge_action

MERGED_AWAITING_LIMIT = 256  # as approval_join.MAX_AWAITING: the newest awaiting actions are kept


def merged_state(current: Mapping[str, Any] | None, incoming: Mapping[str, Any]) -> dict[str, Any]:
    """The state that keeps both copies' parts; `current` None: the incoming copy as it is."""
    if current is None:
        return dict(incoming)
    if current["tenant"] != incoming["tenant"]:  # a key is one tenant's: another's copy changes nothing
        return dict(current)
    base = incoming if folded_later(incoming, current) else current
    ours = {_entry_id(entry): entry for entry in current["awaiting"]}
    theirs = {_entry_id(entry): entry for entry in incoming["awaiting"]}
    kept = [
        entry
        for key, entry in {**theirs, **ours}.items()
        if (key in ours and key in theirs) or not cleared_by(entry, base)
    ]
    kept.sort(key=lambda entry: (entry["at"], entry["shard"], entry["seq"]))
    return {**base, "awaiting": kept[-MERGED_AWAITING_LIMIT:]}


def folded_later(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether copy `a` folded a later step of the request than copy `b` (ties: no)."""
    if a["source_offset"] < 0 or b["source_offset"] < 0:
        return a["source_offset"] >= 0 > b["source_offset"]
    if a["source_partition"] == b["source_partition"]:
        return a["source_offset"] > b["source_offset"]
    return True  # steps of one request on two partitions cannot be ordered: the copy read later wins


def cleared_by(entry: Mapping[str, Any], state: Mapping[str, Any]) -> bool:
    """Whether `state` leaves the awaiting action without a violation, judged at its own time (as a late join)."""
    rule = RuleTerms(entry["rule"], tuple(entry["approver_groups"]), entry["required"])
    return not judge_action(rule, state, entry["fingerprint"], entry["at"]).violations


def _entry_id(entry: Mapping[str, Any]) -> tuple[int, int]:
    return entry["shard"], entry["seq"]
