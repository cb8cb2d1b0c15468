"""ClickHouse tables and views of the ledger: the one place their DDL lives."""

from __future__ import annotations

from typing import Any

LEDGER_RECORDS = """
CREATE TABLE IF NOT EXISTS ledger_records
(
    shard            UInt32,
    seq              UInt64,
    leaf_hash        FixedString(32),
    prev_leaf_hash   FixedString(32),
    source_offset    UInt64,
    sequenced_at     DateTime64(6, 'UTC'),
    event_id         UUID,
    tenant           LowCardinality(String),
    occurred_at      DateTime64(6, 'UTC'),
    actor_subject    String,
    actor_issuer     String,
    actor_groups     Array(String),
    actor_kind       LowCardinality(String),
    action_type      LowCardinality(String),
    action_name      String,
    target_kind      LowCardinality(String),
    target_name      String,
    prompt           String,
    parameters       String,
    tool_arguments   String,
    query            String,
    response         String,
    attributes       Map(String, String),
    outcome_status   LowCardinality(String),
    outcome_error    String,
    source_service   LowCardinality(String),
    source_host      String,
    source_ip        String,
    session_id       String,
    run_id           String,
    parent_run_id    String,
    graph_node       String,
    trace_id         String,
    identity_status  LowCardinality(String) COMMENT 'verified, unverified or absent: was the actor proven by a token',
    identity_reason  String,
    identity_subject String COMMENT 'verified claims; empty unless the token verified',
    identity_issuer  String,
    identity_email   String,
    identity_groups  Array(String),
    token_fingerprint String COMMENT 'hex SHA-256 of the token; the token itself is never stored',
    masking_policy   String COMMENT 'hex SHA-256 of the masking policy in force',
    masked           Array(Tuple(path String, rule String, action String, count UInt32))
                     COMMENT 'what was masked where (never the value)',
    source_topic     LowCardinality(String) COMMENT 'events, or approvals for approval steps and late-join follow-ups',
    approval_status  LowCardinality(String)
                     COMMENT 'empty if uncovered; approved, violation, blocked, approved_late; a step: request status',
    approval_request_id String,
    approval_rule    String COMMENT 'the policy rule that requires the approval',
    approval_required UInt16,
    approval_groups  Array(String) COMMENT 'approver groups the rule allows',
    approvers        Array(Tuple(kind String, subject String, verified Bool, groups Array(String),
                                 decided_at DateTime64(6, 'UTC'), shard UInt32, seq UInt64))
                     COMMENT 'every decision on the request as known when this record was sequenced',
    approval_violations Array(String),
    approval_fingerprint String COMMENT 'hex SHA-256 of the action as executed (schemas/action_fingerprint.py)',
    approval_covers  String COMMENT 'on a late-join follow-up: shard/seq of the action record it clears',
    entry            String COMMENT 'the exact bytes the leaf hash commits to',
    INDEX idx_session session_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_actor actor_subject TYPE bloom_filter GRANULARITY 4,
    INDEX idx_event event_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant, occurred_at, session_id)
"""

LEDGER_CHECKPOINTS = """
CREATE TABLE IF NOT EXISTS ledger_checkpoints
(
    shard               UInt32,
    tree_size           UInt64,
    root_hash           FixedString(32),
    origin              String,
    note                String,
    created_at          DateTime64(6, 'UTC'),
    last_source_offset  Int64,
    checkpoint          String COMMENT 'the Checkpoint message as published'
)
ENGINE = MergeTree
ORDER BY (shard, tree_size)
"""

VIEWS = (
    """
    CREATE VIEW IF NOT EXISTS ledger_sessions AS
    SELECT tenant, session_id, min(occurred_at) AS started_at, max(occurred_at) AS ended_at,
           count() AS events, groupUniqArray(actor_subject) AS actors,
           countIf(action_type = 'llm.request') AS llm_calls, countIf(action_type = 'tool.call') AS tool_calls,
           countIf(outcome_status != 'success') AS not_successful
    FROM ledger_records GROUP BY tenant, session_id
    """,
    """
    CREATE VIEW IF NOT EXISTS ledger_llm_calls AS
    SELECT tenant, occurred_at, session_id, run_id, actor_subject, action_name AS model, prompt, parameters,
           response, outcome_status, shard, seq
    FROM ledger_records WHERE action_type IN ('llm.request', 'llm.response')
    """,
    """
    CREATE VIEW IF NOT EXISTS ledger_tool_calls AS
    SELECT tenant, occurred_at, session_id, run_id, actor_subject, action_name AS tool, tool_arguments,
           response, outcome_status, outcome_error, shard, seq
    FROM ledger_records WHERE action_type IN ('tool.call', 'tool.result', 'db.query')
    """,
    """
    CREATE VIEW IF NOT EXISTS ledger_privileged_actions AS
    SELECT tenant, occurred_at, sequenced_at, session_id, actor_subject, identity_status, action_type, action_name,
           target_name, query, tool_arguments, outcome_status, approval_status, approval_rule, approval_request_id,
           approval_required, arrayFilter(a -> a.kind = 'approved', approvers) AS approvals, approval_violations,
           approval_fingerprint, shard, seq, event_id
    FROM ledger_records WHERE source_topic = 'events' AND approval_status != ''
    """,
    """
    CREATE VIEW IF NOT EXISTS ledger_approval_steps AS
    SELECT tenant, occurred_at, approval_request_id, action_type, actor_subject, identity_status, identity_groups,
           approval_status, approval_rule, approval_covers, attributes['comment'] AS comment, shard, seq, event_id
    FROM ledger_records WHERE source_topic = 'approvals'
    """,
)

RECORD_COLUMNS: tuple[str, ...] = (
    "shard", "seq", "leaf_hash", "prev_leaf_hash", "source_offset", "sequenced_at", "event_id", "tenant",
    "occurred_at", "actor_subject", "actor_issuer", "actor_groups", "actor_kind", "action_type", "action_name",
    "target_kind", "target_name", "prompt", "parameters", "tool_arguments", "query", "response", "attributes",
    "outcome_status", "outcome_error", "source_service", "source_host", "source_ip", "session_id", "run_id",
    "parent_run_id", "graph_node", "trace_id", "identity_status", "identity_reason", "identity_subject",
    "identity_issuer", "identity_email", "identity_groups", "token_fingerprint", "masking_policy", "masked",
    "source_topic", "approval_status", "approval_request_id", "approval_rule", "approval_required", "approval_groups",
    "approvers", "approval_violations", "approval_fingerprint", "approval_covers", "entry",
)  # fmt: skip

CHECKPOINT_COLUMNS: tuple[str, ...] = (
    "shard", "tree_size", "root_hash", "origin", "note", "created_at", "last_source_offset", "checkpoint",
)  # fmt: skip

BINARY_COLUMNS = {"leaf_hash": "bytes", "prev_leaf_hash": "bytes", "entry": "bytes", "root_hash": "bytes",
                  "checkpoint": "bytes"}  # fmt: skip


def ensure_schema(client: Any) -> None:
    """Create tables and views if absent (idempotent; run by the process that owns the store)."""
    for statement in (LEDGER_RECORDS, LEDGER_CHECKPOINTS, *VIEWS):
        client.command(statement)
