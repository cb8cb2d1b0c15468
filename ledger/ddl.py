"""ClickHouse tables and views of the ledger: the one place their DDL lives."""

from __future__ import annotations

from typing import Any

from ledger.retention import RetentionPolicy

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

# Every leaf hash, kept after its record is pruned (about 60 bytes a record, never expired): the tree of a shard
# is over all its leaves, so the records that remain verify against the signed roots and can still be proven.
# Filled from every insert into ledger_records by LEDGER_LEAVES_MV, so the sink writes only ledger_records.
LEDGER_LEAVES = """
CREATE TABLE IF NOT EXISTS ledger_leaves
(
    shard         UInt32,
    seq           UInt64,
    leaf_hash     FixedString(32),
    tenant        LowCardinality(String) COMMENT 'whose retention decides when the record may be gone',
    sequenced_at  DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (shard, seq)
"""

# Where each record arrived on audit.ledger (ledger/anomalies.py): its first arrival (`stored`), and any arrival
# that is not the stream's own write: `replayed` (the same record again at a later offset) or `misrouted` (on a
# partition that is not its shard). Verify reports every row that is not `stored`.
LEDGER_ARRIVALS = """
CREATE TABLE IF NOT EXISTS ledger_arrivals
(
    kind             LowCardinality(String) COMMENT 'stored, replayed or misrouted',
    shard            UInt32 COMMENT 'the shard the record names',
    seq              UInt64,
    leaf_hash        FixedString(32),
    ledger_partition UInt32 COMMENT 'the audit.ledger partition it arrived on',
    ledger_offset    Int64 COMMENT 'its offset there',
    original_offset  Int64 COMMENT 'replayed, misrouted: offset of the stored original (partition = shard), or -1',
    arrived_at       DateTime64(6, 'UTC')
)
ENGINE = MergeTree
ORDER BY (shard, seq)
"""

LEAF_COLUMNS = "shard, seq, leaf_hash, tenant, sequenced_at"
LEDGER_LEAVES_MV = f"""
CREATE MATERIALIZED VIEW IF NOT EXISTS ledger_leaves_mv TO ledger_leaves AS
SELECT {LEAF_COLUMNS} FROM ledger_records
"""

# Views for analysts. CREATE OR REPLACE, so that a store created by an older version gets the current definition.
VIEWS = (
    """
    CREATE OR REPLACE VIEW ledger_sessions AS
    SELECT tenant, session_id, min(occurred_at) AS started_at, max(occurred_at) AS ended_at,
           count() AS events, groupUniqArray(actor_subject) AS actors,
           countIf(action_type = 'llm.request') AS llm_calls, countIf(action_type = 'tool.call') AS tool_calls,
           countIf(outcome_status != 'success') AS not_successful,
           countIf(source_topic = 'events' AND approval_status != '') AS privileged_actions,
           sum(length(approval_violations)) AS approval_violation_count,
           countIf(identity_status = 'unverified') AS unverified_identity
    FROM ledger_records GROUP BY tenant, session_id
    """,
    # Model and token usage from the OpenTelemetry GenAI attributes when the emitter set them.
    """
    CREATE OR REPLACE VIEW ledger_llm_calls AS
    SELECT tenant, occurred_at, session_id, run_id, parent_run_id, graph_node, actor_subject, action_type,
           coalesce(nullIf(attributes['gen_ai.response.model'], ''), nullIf(attributes['gen_ai.request.model'], ''),
                    action_name) AS model,
           coalesce(nullIf(attributes['gen_ai.provider.name'], ''), attributes['gen_ai.system']) AS provider,
           toUInt64OrNull(attributes['gen_ai.usage.input_tokens']) AS input_tokens,
           toUInt64OrNull(attributes['gen_ai.usage.output_tokens']) AS output_tokens,
           attributes['gen_ai.response.finish_reasons'] AS finish_reasons,
           prompt, parameters, response, outcome_status, outcome_error, shard, seq, event_id
    FROM ledger_records WHERE action_type IN ('llm.request', 'llm.response')
    """,
    """
    CREATE OR REPLACE VIEW ledger_tool_calls AS
    SELECT tenant, occurred_at, session_id, run_id, parent_run_id, graph_node, actor_subject, action_type,
           action_name AS tool, target_name, tool_arguments, query, response, outcome_status, outcome_error,
           approval_status, shard, seq, event_id
    FROM ledger_records WHERE action_type IN ('tool.call', 'tool.result', 'db.query')
    """,
    """
    CREATE OR REPLACE VIEW ledger_privileged_actions AS
    SELECT tenant, occurred_at, sequenced_at, session_id, actor_subject, identity_status, action_type, action_name,
           target_name, query, tool_arguments, outcome_status, approval_status, approval_rule, approval_request_id,
           approval_required, arrayFilter(a -> a.kind = 'approved', approvers) AS approvals, approval_violations,
           approval_fingerprint, shard, seq, event_id
    FROM ledger_records WHERE source_topic = 'events' AND approval_status != ''
    """,
    """
    CREATE OR REPLACE VIEW ledger_approval_steps AS
    SELECT tenant, occurred_at, approval_request_id, action_type, actor_subject, identity_status, identity_groups,
           approval_status, approval_rule, approval_covers, attributes['comment'] AS comment, shard, seq, event_id
    FROM ledger_records WHERE source_topic = 'approvals'
    """,
    # One row per problem on a record: each approval violation, an actor the stream could not prove (with the
    # reason), and an action that failed or was blocked. `category` is approval, identity or outcome.
    """
    CREATE OR REPLACE VIEW ledger_violations AS
    SELECT tenant, occurred_at, sequenced_at, session_id, run_id, actor_subject, action_type, action_name,
           problem.1 AS category, problem.2 AS kind, problem.3 AS detail, approval_request_id, shard, seq, event_id
    FROM ledger_records
    ARRAY JOIN arrayConcat(
        arrayMap(v -> ('approval', v, approval_rule), approval_violations),
        if(identity_status = 'unverified', [('identity', 'identity_unverified', identity_reason)], []),
        if(outcome_status IN ('failure', 'blocked'),
           [('outcome', concat('outcome_', toString(outcome_status)), outcome_error)], [])
    ) AS problem
    """,
    # Per tenant, actor and UTC day: what they did, in how many sessions, and what went wrong.
    """
    CREATE OR REPLACE VIEW ledger_actor_activity AS
    SELECT tenant, actor_subject, toDate(occurred_at) AS day, min(occurred_at) AS first_at, max(occurred_at) AS last_at,
           count() AS events, uniqExact(session_id) AS sessions,
           countIf(action_type = 'llm.request') AS llm_calls, countIf(action_type = 'tool.call') AS tool_calls,
           countIf(action_type = 'db.query') AS db_queries, countIf(source_topic = 'approvals') AS approval_steps,
           sumMap(map(toString(action_type), toUInt64(1))) AS by_action_type,
           countIf(outcome_status = 'failure') AS failures, countIf(outcome_status = 'blocked') AS blocked,
           countIf(source_topic = 'events' AND approval_status != '') AS privileged_actions,
           sum(length(approval_violations)) AS approval_violation_count,
           countIf(identity_status = 'unverified') AS unverified_identity,
           approval_violation_count + unverified_identity + failures + blocked AS violations
    FROM ledger_records GROUP BY tenant, actor_subject, day
    """,
)

# Lightweight projections: each stores only its sort key and the row's _part_offset, so that queries by actor,
# session or action type (always with a tenant) find their granules as the ordering key finds a time range,
# and read the columns from the table itself. Measured on 100k demo rows (29 MB): about 1 MB each, where a full
# copy (SELECT *) costs about 22 MB each. ClickHouse applies them to parts it would read 1M rows or more from
# (`min_table_rows_to_use_projection_index`); below that the ordering key and bloom filters keep scans small.
PROJECTIONS: dict[str, str] = {
    "by_actor": "tenant, actor_subject, occurred_at",
    "by_session": "tenant, session_id, occurred_at",
    "by_action": "tenant, action_type, occurred_at",
}

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


def ensure_leaves(client: Any) -> int:
    """ledger_leaves and the view that fills it. A store from before it (no view yet) gets the leaves of the
    records it holds, once, before the view exists: nothing is pruned before its leaf is kept. Returns the
    number of leaves backfilled."""
    client.command(LEDGER_LEAVES)
    exists = client.query("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                          "AND name = 'ledger_leaves_mv'").result_rows[0][0]  # fmt: skip
    backfilled = 0
    if not exists:
        before = int(client.query("SELECT count() FROM ledger_leaves").result_rows[0][0])
        client.command(f"INSERT INTO ledger_leaves ({LEAF_COLUMNS}) SELECT {LEAF_COLUMNS} FROM ledger_records WHERE "
                       "(shard, seq, leaf_hash) NOT IN (SELECT shard, seq, leaf_hash FROM ledger_leaves)")  # fmt: skip
        backfilled = int(client.query("SELECT count() FROM ledger_leaves").result_rows[0][0]) - before
    client.command(LEDGER_LEAVES_MV)
    return backfilled


def ensure_retention(client: Any, policy: RetentionPolicy) -> bool:
    """Give ledger_records the policy's row TTL if it has another one; returns whether it changed. Only after
    ensure_leaves: a record may be pruned only once its leaf is kept."""
    engine = client.query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() "
                          "AND name = 'ledger_records'").result_rows[0][0]  # fmt: skip
    wanted = policy.ttl_clause()
    if f" TTL {wanted} SETTINGS " in f"{engine} SETTINGS ":
        return False
    client.command(f"ALTER TABLE ledger_records MODIFY TTL {wanted}")
    return True


def ensure_schema(client: Any, retention: RetentionPolicy | None = None) -> None:
    """Create tables and views if absent, and add missing projections (idempotent; run by the store's owner)."""
    for statement in (LEDGER_RECORDS, LEDGER_CHECKPOINTS, LEDGER_ARRIVALS, *VIEWS):
        client.command(statement)
    ensure_leaves(client)
    ensure_retention(client, retention or RetentionPolicy())
    ensure_projections(client)


def ensure_projections(client: Any) -> list[str]:
    """Add the PROJECTIONS ledger_records lacks and build them for the parts already stored (a background
    mutation); returns the names added. Projections already there are left alone, so this is idempotent."""
    existing = {
        row[0]
        for row in client.query(
            "SELECT name FROM system.projections WHERE database = currentDatabase() AND table = 'ledger_records'"
        ).result_rows
    }
    added = []
    for name, key in PROJECTIONS.items():
        if name in existing:
            continue
        client.command(f"ALTER TABLE ledger_records ADD PROJECTION IF NOT EXISTS {name} "
                       f"(SELECT _part_offset ORDER BY ({key}))")  # fmt: skip
        client.command(f"ALTER TABLE ledger_records MATERIALIZE PROJECTION {name}")
        added.append(name)
    return added
