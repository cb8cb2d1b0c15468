-- Read-only access to the ledger on a ClickHouse server (docker-compose mounts this into
-- /docker-entrypoint-initdb.d; the image runs it once, on an empty data volume, as CLICKHOUSE_USER).
--
-- The same rules as the embedded store's users file (auditledger access):
--   * analysts and auditors are read-only (readonly = 1; in the roles' profile a client cannot lift it: CONST);
--   * they may SELECT the ledger's database and nothing else;
--   * an analyst reads the rows of their tenants only: a row policy per analyst on every table with a
--     tenant column, made by `auditledger access server-sql` (see README, "Access");
--   * a server hides every row of a table with row policies from users no policy names, so one
--     permissive policy keeps whole tables for everybody who is not an analyst (auditors, the sink's user).
-- Per-analyst users and policies are not in this file: they name tenants and carry password hashes.
-- Generate and apply them with
--   docker compose run --rm cli access server-sql --database default \
--     | docker compose exec -T clickhouse clickhouse-client --user auditledger --password "$CLICKHOUSE_PASSWORD" --multiquery
-- (server passwords are printed once on the cli's stderr; give each analyst theirs).

CREATE SETTINGS PROFILE IF NOT EXISTS auditledger_read_only SETTINGS readonly = 1 CONST;

-- Auditors: every tenant, read-only.
CREATE ROLE IF NOT EXISTS auditledger_auditor SETTINGS PROFILE 'auditledger_read_only';
GRANT SELECT ON default.* TO auditledger_auditor;

-- Analysts: read-only; their row policies come from `auditledger access server-sql`.
CREATE ROLE IF NOT EXISTS auditledger_analyst SETTINGS PROFILE 'auditledger_read_only';
GRANT SELECT ON default.* TO auditledger_analyst;

-- No row policy here: while no table has one, nobody's rows are hidden. `auditledger access server-sql`
-- adds, per table with a tenant column, one policy per analyst (tenant IN (...)) and one permissive
-- policy for everybody except the analysts it names (auditledger_every_tenant). It creates users without
-- grants, then that policy, then the analysts' policies, and grants SELECT last, so no step of it shows
-- an analyst another tenant's rows or hides rows from anybody else.
