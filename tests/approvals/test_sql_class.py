"""classify_sql: the statement classes an approval rule's `sql:` matches on, and what must never hide them."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from stream.approvals.sql_class import MAX_NESTING, MAX_SQL_CHARS, SQL_CLASSES, classify_sql

DDL, DWW, UWW, GRANT, WRITE = "ddl", "delete_without_where", "update_without_where", "grant", "write"
READ: frozenset[str] = frozenset()


def case(text: str, *classes: str) -> object:
    return pytest.param(text, frozenset(classes), id=text[:60])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # read-only
        case(""),
        case("   \n\t "),
        case("-- nothing but a comment"),
        case("/* nothing */"),
        case("SELECT 1"),
        case("select * from orders where total > 10 order by id desc limit 5"),
        case("SELECT * FROM t FOR UPDATE"),
        case("SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED"),
        case("SELECT a INTO @x FROM t"),
        case("VALUES (1), (2)"),
        case("TABLE t"),
        case("WITH x AS (SELECT 1) SELECT * FROM x"),
        case("(SELECT 1) UNION (SELECT 2)"),
        case("SHOW TABLES"),
        case("SHOW CREATE TABLE t"),
        case("SHOW GRANTS FOR u"),
        case("DESCRIBE t"),
        case("DESC t"),
        case("EXPLAIN SELECT 1"),
        case("EXPLAIN DELETE FROM t"),
        case("EXPLAIN (FORMAT JSON) UPDATE t SET a = 1"),
        case("EXPLAIN WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x"),
        case("EXPLAIN ANALYZE SELECT 1"),
        case("SET search_path TO public"),
        case("SET SESSION sql_mode = 'ANSI'"),
        case("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
        case("SET NOCOUNT ON"),
        case("BEGIN"),
        case("START TRANSACTION READ ONLY"),
        case("COMMIT"),
        case("ROLLBACK TO SAVEPOINT s"),
        case("SAVEPOINT s"),
        case("RELEASE SAVEPOINT s"),
        case("END"),
        case("USE shop"),
        case("DECLARE c CURSOR FOR SELECT * FROM t"),
        case("FETCH 10 FROM c"),
        case("CLOSE c"),
        case("RESET search_path"),
        case("COPY t TO STDOUT"),
        case("COPY (SELECT * FROM t) TO STDOUT WITH CSV"),
        case("PRAGMA table_info(t)"),
        case("PRAGMA main.index_list(t)"),
        case("PRAGMA user_version"),
        case("SELECT INSERT('Quadratic', 3, 4, 'What')"),
        case("SELECT * FROM t WHERE a = $1 AND b = ?"),
        case("SELECT data #>> '{a,b}' FROM t"),
        case("SELECT arr[1], '{1,2}'::int[] FROM t"),
        # ddl
        case("CREATE TABLE t (a int)", DDL),
        case("create temp table t as select 1", DDL),
        case("CREATE INDEX i ON t (a) WHERE a > 0", DDL),
        case("ALTER TABLE t ADD COLUMN b int", DDL),
        case("ALTER TABLE t OWNER TO bob", DDL),
        case("ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u (a) ON DELETE CASCADE", DDL),
        case("CREATE TABLE t (id int REFERENCES u ON DELETE CASCADE ON UPDATE CASCADE)", DDL),
        case("DROP TABLE t", DDL),
        case("DROP DATABASE prod", DDL),
        case("TRUNCATE t", DDL),
        case("TRUNCATE TABLE t CASCADE", DDL),
        case("RENAME TABLE a TO b", DDL),
        case("COMMENT ON TABLE t IS 'where the orders are'", DDL),
        case("CREATE POLICY p ON t FOR DELETE USING (true)", DDL),
        case("CREATE OR REPLACE VIEW v AS SELECT * FROM t WHERE a", DDL),
        case("CREATE USER bob WITH PASSWORD 'x'", DDL),
        case("SET PASSWORD FOR bob = 'x'", DDL),
        # routines: defining them is ddl, their bodies do not run
        case("CREATE OR REPLACE FUNCTION f() RETURNS void AS $$ DELETE FROM t $$ LANGUAGE sql", DDL),
        case("CREATE TRIGGER tr BEFORE DELETE ON t FOR EACH ROW EXECUTE FUNCTION f()", DDL),
        case("CREATE PROCEDURE p AS BEGIN DELETE FROM t; END", DDL),
        case("CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN DELETE FROM t; END", DDL),
        case("CREATE OR ALTER PROCEDURE p AS UPDATE t SET a = 1", DDL),
        # grant
        case("GRANT SELECT ON t TO u", GRANT),
        case("GRANT SELECT, INSERT, UPDATE, DELETE ON t TO u", GRANT),
        case("GRANT INSERT (a, b) ON t TO u", GRANT),
        case("GRANT EXECUTE ON FUNCTION f() TO u", GRANT),
        case("GRANT SELECT ON t TO u WITH GRANT OPTION", GRANT),
        case("REVOKE ALL ON t FROM u", GRANT),
        case("REVOKE DELETE ON t FROM u", GRANT),
        case("DENY SELECT ON t TO u", GRANT),
        case("SET DEFAULT ROLE admin TO bob", GRANT),
        case("ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT SELECT ON TABLES TO u", DDL, GRANT),
        # delete / update without where
        case("DELETE FROM t", DWW),
        case("delete from t", DWW),
        case("DeLeTe FrOm t", DWW),
        case("DELETE FROM t USING u", DWW),
        case("DELETE FROM t ORDER BY id LIMIT 10", DWW),
        case("DELETE FROM t RETURNING *", DWW),
        case("DELETE FROM t -- WHERE id = 1", DWW),
        case("DELETE FROM t /* WHERE id = 1 */", DWW),
        case("DELETE FROM t /* nested /* WHERE */ WHERE */", DWW, WRITE),  # one comment in PostgreSQL only
        case('DELETE FROM "where"', DWW),
        case("DELETE FROM `where`", DWW),
        case("DELETE FROM t USING (SELECT id FROM u WHERE x) s", DWW),
        case("UPDATE t SET a = 1", UWW),
        case("UPDATE t SET a = 'WHERE'", UWW),
        case("UPDATE t SET a = 'it''s WHERE'", UWW),
        case("UPDATE t SET a = $$ WHERE $$", UWW, WRITE),  # dollar quotes are PostgreSQL's only
        case("UPDATE t SET a = $tag$ it's WHERE $tag$", UWW, WRITE),
        case("UPDATE t SET a = (SELECT max(b) FROM u WHERE u.id = t.id)", UWW),
        case("UPDATE t SET a = 1 FROM u", UWW),
        case('UPDATE "where" SET "where" = 1', UWW),
        # write
        case("DELETE FROM t WHERE id = 1", WRITE),
        case("DELETE FROM t WHERE true", WRITE),
        case("DELETE FROM t WHERE 1=1", WRITE),
        case("DELETE FROM t WHERE id IN (SELECT id FROM u)", WRITE),
        case("UPDATE t SET a = 1 WHERE id = 1", WRITE),
        case("update t set a = 1 where id = 1", WRITE),
        case("INSERT INTO t VALUES (1)", WRITE),
        case("INSERT INTO t SELECT * FROM u WHERE x", WRITE),
        case("INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2", WRITE),
        case("INSERT INTO t VALUES (1) ON CONFLICT ON CONSTRAINT k DO UPDATE SET b = 2", WRITE),
        case("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE b = 2", WRITE),
        case("INSERT OR REPLACE INTO t VALUES (1)", WRITE),
        case("UPSERT INTO t VALUES (1)", WRITE),
        case("REPLACE INTO t VALUES (1)", WRITE),
        case("MERGE INTO t USING s ON t.k = s.k WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT", WRITE),
        case("CALL p()", WRITE),
        case("EXEC sp_who", WRITE),
        case("EXECUTE stmt", WRITE),
        case("EXECUTE('DROP TABLE t')", WRITE),
        case("PREPARE p FROM 'SELECT 1'", WRITE),
        case("COPY t FROM '/tmp/t.csv'", WRITE),
        case("COPY t FROM STDIN", WRITE),
        case("COPY t TO '/tmp/t.csv'", WRITE),
        case("COPY (SELECT 1) TO PROGRAM 'rm -rf /'", WRITE),
        case("LOAD DATA INFILE 'f' INTO TABLE t", WRITE),
        case("SELECT a INTO new_table FROM t", WRITE),
        case("SELECT * INTO OUTFILE '/tmp/x' FROM t", WRITE),
        case("WITH x AS (SELECT 1) SELECT * INTO y FROM x", WRITE),
        case("SET GLOBAL max_connections = 10", WRITE),
        case("SET @@global.max_connections = 10", WRITE),
        case("SET PERSIST max_connections = 10", WRITE),
        case("RESET MASTER", WRITE),
        case("START REPLICA", WRITE),
        case("VACUUM", WRITE),
        case("ANALYZE t", WRITE),
        case("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", WRITE),
        case("PRAGMA journal_mode = WAL", WRITE),
        case("PRAGMA journal_mode(WAL)", WRITE),
        case("PRAGMA optimize", WRITE),
        case("UPDATE STATISTICS t", WRITE),
        # EXPLAIN ANALYZE runs the statement
        case("EXPLAIN ANALYZE DELETE FROM t", DWW),
        case("EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1 WHERE id = 1", WRITE),
        case("EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", DDL),
        # CTEs: the main statement after them, and data-modifying bodies
        case("WITH x AS (SELECT 1) DELETE FROM t", DWW),
        case("WITH x AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM x)", WRITE),
        case("WITH x AS (SELECT 1) UPDATE t SET a = 1", UWW),
        case("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", WRITE),
        case("WITH RECURSIVE x(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x) SELECT * FROM x"),
        case("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", DWW),
        case("WITH x AS (DELETE FROM t WHERE old RETURNING *) INSERT INTO archive SELECT * FROM x", WRITE),
        case("WITH a AS (SELECT 1), b AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM b", UWW),
        case("WITH x AS MATERIALIZED (DELETE FROM t RETURNING *) SELECT 1", DWW),
        case("COPY (DELETE FROM t RETURNING *) TO STDOUT", DWW),
        # several statements: the union
        case("SELECT 1; DROP TABLE t", DDL),
        case("SELECT 1; DROP TABLE t;", DDL),
        case("BEGIN; DELETE FROM t; COMMIT;", DWW),
        case("DELETE FROM t WHERE id = 1; UPDATE u SET a = 1; GRANT ALL ON t TO x", WRITE, UWW, GRANT),
        case(";;SELECT 1;;"),
        # statements without a `;` between them (SQL Server runs them all)
        case("SELECT 1 DELETE FROM t", DWW),
        case("SELECT * FROM t DROP TABLE t", DDL),
        case("UPDATE t SET a = 1 SELECT * FROM u WHERE x = 1", UWW),
        case("DELETE FROM t UPDATE u SET a = 1 WHERE b = 2", DWW, WRITE),
        case("IF OBJECT_ID('t') IS NOT NULL DROP TABLE t", DDL),
        case("SELECT 1EXEC sp_who", WRITE),
        # comments and strings never hide a statement, whatever the engine
        case("SELECT 'a\\' '; DELETE FROM t; -- '", DWW),  # MySQL: the string ends at the second quote
        case("SELECT 1 /* /* */ DELETE FROM t; -- */", DWW),  # MySQL, SQLite: comments do not nest
        case("SELECT [x'] ; DELETE FROM t; SELECT [']", DWW),  # SQL Server: [names]
        case("SELECT 1 /*! ; DELETE FROM t */", DWW),  # MySQL runs what /*! ... */ holds
        case("SELECT 1 # ';\nDELETE FROM t; -- '", DWW),  # MySQL: # comments
        case("SELECT 1 -- x\rDELETE FROM t", DWW),  # PostgreSQL ends a comment at a lone \r
        case("SELECT 1 --x\nDELETE FROM t", DWW),
        case("SELECT '--'; DELETE FROM t", DWW),
        case("SELECT '/*'; DELETE FROM t; SELECT '*/'", DWW),
        case('SELECT "; DELETE FROM t"'),  # a string in MySQL, a name elsewhere: hidden in both
        case("SELECT $$; DROP TABLE t; $$", DDL, WRITE),  # a body in PostgreSQL, statements elsewhere
        case("SELECT '; DROP TABLE t; '"),
        case("SELECT 1 -- ; DROP TABLE t"),
        case("SELECT 1 /* ; DROP TABLE t */"),
        case('SELECT "x; DROP TABLE t" FROM u'),
        case("SELECT `x; DROP TABLE t` FROM u"),
        # cannot make sense of it: write
        case("FROBNICATE t", WRITE),
        case("42", WRITE),
        case("'just a string'", WRITE),
        case("\\d t", WRITE),
        case("SELECT 'unterminated", WRITE),
        case('SELECT "unterminated', WRITE),
        case("SELECT `unterminated", WRITE),
        case("SELECT $q$ unterminated", WRITE),
        case("SELECT 1 /* unterminated", WRITE),
        case("SELECT (1", WRITE),
        case("SELECT 1)", WRITE),
        case("DROP TABLE t; SELECT 'unterminated", DDL, WRITE),
        case("SELECT 'C:\\'", WRITE),  # unterminated under MySQL's rules
    ],
)
def test_classes(text: str, expected: frozenset[str]) -> None:
    assert classify_sql(text) == expected


def test_the_classes_are_the_documented_ones() -> None:
    assert SQL_CLASSES == ("ddl", "delete_without_where", "update_without_where", "grant", "write")


def test_deep_nesting_is_not_looked_into_and_adds_write() -> None:
    shallow = "SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING
    deep = "SELECT " + "(" * 5000 + "1" + ")" * 5000
    assert classify_sql(shallow) == READ
    assert classify_sql(deep) == {WRITE}


def test_a_data_modifying_statement_counts_at_any_nesting_within_the_limit() -> None:
    text = "WITH x AS " + "(" * 50 + "DELETE FROM t" + ")" * 50 + " SELECT 1"
    assert classify_sql(text) == {DWW}


def test_a_text_too_long_to_read_has_every_class() -> None:
    text = "SELECT 1" + " " * MAX_SQL_CHARS
    assert classify_sql(text) == frozenset(SQL_CLASSES)


def test_many_statements_without_semicolons_are_read_in_linear_time() -> None:
    text = "SELECT 1 " + "DELETE FROM t " * 20000
    assert classify_sql(text) == {DWW}


# --------------------------------------------------------------------------------------------- properties

SAMPLES = [
    "SELECT 1",
    "SELECT * FROM t WHERE a = 'x'",
    "WITH x AS (SELECT 1) SELECT * FROM x",
    "SHOW TABLES",
    "EXPLAIN DELETE FROM t",
    "CREATE TABLE t (a int)",
    "DROP TABLE t",
    "GRANT SELECT ON t TO u",
    "DELETE FROM t",
    "DELETE FROM t WHERE a = 1",
    "UPDATE t SET a = 1",
    "UPDATE t SET a = 1 WHERE b = 2",
    "INSERT INTO t VALUES (1)",
    "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
    "CALL p()",
    "FROBNICATE",
]

# Comment and string bodies: any text, with WHERE somewhere in it.
_bodies = st.tuples(st.text(max_size=30), st.text(max_size=30)).map(lambda parts: f"{parts[0]}WHERE{parts[1]}")


def _line_comment(body: str) -> str:
    return "-- " + body.replace("\n", " ").replace("\r", " ")


def _block_comment(body: str) -> str:
    return "/*" + body.replace("*/", "* /") + "*/"


def _string(body: str) -> str:
    return "'" + body.replace("'", "''") + "'"


def _dollar_body(body: str) -> str:
    return "$q$" + body.replace("$q$", "$ q$") + "$q$"


_hiding = st.sampled_from([_line_comment, _block_comment, _string, _dollar_body])


@settings(max_examples=300, deadline=None)
@given(hide=_hiding, body=_bodies, separator=st.sampled_from([" ", "\n", "\t", ""]), end=st.sampled_from(["", ";"]))
def test_a_where_in_a_comment_or_string_never_hides_a_delete_without_where(
    hide: object, body: str, separator: str, end: str
) -> None:
    assume(separator or hide is not _dollar_body)  # t$q$ is one name in PostgreSQL, not a quote after t
    text = "DELETE FROM t" + separator + hide(body) + end  # type: ignore[operator]
    assert DWW in classify_sql(text)


@settings(max_examples=300, deadline=None)
@given(hide=_hiding, body=_bodies)
def test_a_where_in_a_comment_or_string_never_hides_an_update_without_where(hide: object, body: str) -> None:
    text = "UPDATE t SET a = 1 " + hide(body)  # type: ignore[operator]
    assert UWW in classify_sql(text)


@settings(max_examples=200, deadline=None)
@given(first=st.sampled_from(SAMPLES), second=st.sampled_from(SAMPLES))
def test_several_statements_have_the_union_of_their_classes(first: str, second: str) -> None:
    assert classify_sql(f"{first}; {second}") == classify_sql(first) | classify_sql(second)


@settings(max_examples=100, deadline=None)
@given(sample=st.sampled_from(SAMPLES), casing=st.sampled_from([str.lower, str.upper, str.swapcase, str.title]))
def test_keywords_are_case_insensitive(sample: str, casing: object) -> None:
    assert classify_sql(casing(sample)) == classify_sql(sample)  # type: ignore[operator]


_sqlish = st.text(alphabet=st.sampled_from(list("aeDELTWHRSIN ;()'\"`[]$#-/*\\\n\r@.,=01")), max_size=60)


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(_sqlish, st.text(max_size=60)))
def test_any_text_gets_a_subset_of_the_classes(text: str) -> None:
    classes = classify_sql(text)
    assert isinstance(classes, frozenset)
    assert classes <= set(SQL_CLASSES)


@settings(max_examples=200, deadline=None)
@given(text=_sqlish)
def test_a_statement_after_any_text_and_a_newline_semicolon_is_seen_unless_the_text_is_left_open(text: str) -> None:
    """Whatever comes before, a DROP on its own after it shows, or the text is not understood (write)."""
    classes = classify_sql(text + "\n;DROP TABLE t")
    assert DDL in classes or WRITE in classes
