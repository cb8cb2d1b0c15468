"""The approval table the stream joins against: every request's state by id, found also by fingerprint.

In memory, rebuilt at start from the changelog topic (audit.approvals.state); each batch's changes are
written back in the same Kafka transaction as the ledger records they produced, so the two can never
disagree. If that transaction aborts, `rollback` puts back what the batch changed. Records other workers
commit meanwhile are merged in between batches (`follow`, stream/approvals/merge.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from stream.approvals.merge import merged_state
from stream.approvals.state import PLACEHOLDER_PREFIX, placeholder_id

TERMINAL = frozenset({"rejected", "revoked", "expired"})


class ApprovalBook:
    def __init__(self) -> None:
        self._states: dict[str, dict[str, Any]] = {}
        self._by_fingerprint: dict[tuple[str, str], list[str]] = {}
        self._undo: dict[str, dict[str, Any] | None] = {}

    def __len__(self) -> int:
        return len(self._states)

    def load(self, key: str, state: Mapping[str, Any] | None) -> None:
        """One changelog record (None: a tombstone), as read at start; not a change to write back."""
        self._set(key, dict(state) if state is not None else None)

    def follow(self, key: str, state: Mapping[str, Any] | None) -> bool:
        """Merge one changelog record read while running (another worker's, or an older one of this worker's);
        not a change to write back. True if the table changed.

        Only between batches: a batch's own uncommitted changes are never merged over. A tombstone is not
        followed (each worker forgets idle states by the same rule itself), and a placeholder is not, once
        a request for its actions is known here (the request took its actions over)."""
        if self._undo:
            raise RuntimeError("the approval table follows its changelog only between batches")
        if state is None or self._superseded_placeholder(key, state):
            return False
        current = self._states.get(key)
        merged = merged_state(current, state)
        if merged == current:
            return False
        self._set(key, merged)
        return True

    def _superseded_placeholder(self, key: str, state: Mapping[str, Any]) -> bool:
        tenant = state["tenant"]
        prefix = placeholder_id(tenant, "")
        if not key.startswith(PLACEHOLDER_PREFIX) or not key.startswith(prefix) or key in self._states:
            return False
        return bool(self._by_fingerprint.get((tenant, key[len(prefix) :])))

    def get(self, request_id: str) -> dict[str, Any] | None:
        return self._states.get(request_id)

    def states(self) -> list[dict[str, Any]]:
        return list(self._states.values())

    def for_action(self, tenant: str, request_id: str | None, fingerprint: str) -> dict[str, Any] | None:
        """The state an action is judged against: the request it names, else the newest open request of its
        tenant with its fingerprint, else the newest closed one, else the placeholder for that fingerprint."""
        if request_id:
            state = self._states.get(request_id)
            return state if state is not None and state["tenant"] == tenant else None
        candidates = [self._states[i] for i in self._by_fingerprint.get((tenant, fingerprint), ())]
        requested = sorted((s for s in candidates if s["request"] is not None), key=lambda s: s["requested_at"])
        open_ = [s for s in requested if s["status"] not in TERMINAL]
        if open_ or requested:
            return (open_ or requested)[-1]
        return self._states.get(placeholder_id(tenant, fingerprint))

    def put(self, state: dict[str, Any]) -> None:
        key = state["request_id"]
        if key not in self._undo:
            self._undo[key] = self._states.get(key)
        self._set(key, state)

    def remove(self, key: str) -> None:
        if key in self._states:
            if key not in self._undo:
                self._undo[key] = self._states[key]
            self._set(key, None)

    def forget_idle(self, before: datetime) -> int:
        """Remove every state with no change since `before` (a change like any other: the changelog gets a
        tombstone, and a rollback puts it back). Bounds the table: closed requests do not stay forever."""
        idle = [key for key, state in self._states.items() if state["updated_at"] < before]
        for key in idle:
            self.remove(key)
        return len(idle)

    def changes(self) -> list[tuple[str, dict[str, Any] | None]]:
        """What changed since the last commit or rollback, to write to the changelog (None: delete)."""
        return [(key, self._states.get(key)) for key in self._undo]

    def commit(self) -> None:
        self._undo.clear()

    def rollback(self) -> None:
        for key, previous in self._undo.items():
            self._set(key, previous)
        self._undo.clear()

    def _set(self, key: str, state: dict[str, Any] | None) -> None:
        old = self._states.pop(key, None)
        if old is not None and old["request"] is not None:
            index_key = (old["tenant"], old["request"]["fingerprint"])
            ids = self._by_fingerprint.get(index_key, [])
            if key in ids:
                ids.remove(key)
            if not ids:
                self._by_fingerprint.pop(index_key, None)
        if state is None:
            return
        self._states[key] = state
        if state["request"] is not None:
            self._by_fingerprint.setdefault((state["tenant"], state["request"]["fingerprint"]), []).append(key)
