"""The kinds of statement in a SQL text: what an approval rule's `sql:` criterion matches on.

classify_sql(text) gives a subset of SQL_CLASSES; the empty set means read-only. Each statement has
at most one class; a text of several statements has the union of theirs.

- ddl: CREATE, ALTER (ALTER ... OWNER TO too), DROP, TRUNCATE, RENAME, COMMENT ON; SET PASSWORD.
- grant: GRANT, REVOKE, DENY; SET DEFAULT ROLE.
- delete_without_where / update_without_where: a DELETE or UPDATE without a WHERE of its own. A WHERE
  inside parentheses (a subquery), a comment or a string does not count, so `DELETE ... USING ...`
  without WHERE is without. Any WHERE of its own counts, `WHERE true` and `WHERE 1=1` included: the
  class is for the forgotten clause, not the deliberate one (a LIMIT does not make one either).
- write: every other change, and every statement of unknown effect: INSERT, UPSERT, REPLACE, MERGE,
  UPDATE/DELETE with WHERE, COPY (but COPY ... TO STDOUT), CALL, EXEC/EXECUTE, DO, LOAD, PREPARE,
  SELECT ... INTO a table or file, SET GLOBAL/PERSIST, maintenance (VACUUM, ANALYZE, LOCK ...), and any
  statement whose first keyword is not known.

Read-only: SELECT (FOR UPDATE and INTO @variables too), VALUES, TABLE, WITH ... SELECT, SHOW,
EXPLAIN/DESCRIBE (EXPLAIN ANALYZE runs its statement, so it has that statement's class), SET of
session settings, transaction control (BEGIN, COMMIT, ...), cursors, USE, and read-only SQLite
PRAGMAs. Functions a SELECT calls are taken to be reads (`SELECT nextval('s')` is not detected).

Statements end at a `;` outside parentheses, and also where a keyword that can only start a statement
(INSERT, DELETE, DROP, EXEC, ...) follows without one, because SQL Server runs `SELECT 1 DELETE FROM t`
as two statements; in a DELETE or UPDATE, a SELECT starts one too. A parenthesised statement counts
wherever it is: a data-modifying CTE (`WITH x AS (DELETE ... RETURNING *) SELECT ...`), `COPY (DELETE
...) TO STDOUT`. The bodies of functions, procedures, triggers and rules being created or altered are
not classified: defining them is ddl, running them is a CALL or EXEC (write).

Comments, strings, quoted identifiers and dollar-quoted bodies hide what they hold, but engines
disagree on where they end (a backslash before a quote, `#` comments, nested comments, `[names]`),
and one reading that differs from the engine's could hide a statement the engine runs. So the text
is read under the lexical rules of PostgreSQL (and its legacy backslash strings), MySQL/MariaDB (and
ANSI_QUOTES), SQL Server and SQLite, and the classes of all readings are united. The price is a few
false positives: a DELETE on a SQL Server `#temp` table is also without WHERE (`#` starts a MySQL
comment), and what a PostgreSQL $$ string holds is read as statements by the other engines.

Anything not understood adds `write` to what was understood: a statement starting with something
other than a keyword, an unterminated string, comment or quoted name under any reading (a string
ending in a backslash, `'C:\\'`, is one under MySQL's rules), unbalanced parentheses, nesting
deeper than MAX_NESTING. A text longer than MAX_SQL_CHARS is not read at all and has every class.
Keywords are case-insensitive; an empty or comment-only text is read-only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

SQL_CLASSES = ("ddl", "delete_without_where", "update_without_where", "grant", "write")
DDL, DELETE_WITHOUT_WHERE, UPDATE_WITHOUT_WHERE, GRANT, WRITE = SQL_CLASSES
MAX_NESTING = 100  # parentheses deeper than this are not looked into (the walk is recursive)
MAX_SQL_CHARS = 1 << 20  # a longer text is not read (it would cost seconds): it has every class

_KIND_WORD, _KIND_QUOTED, _KIND_NUMBER, _KIND_PARAM, _KIND_PUNCT = "word", "quoted", "number", "param", "punct"


# --------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Dialect:
    """One engine family's lexical rules: where its strings, quoted names and comments end."""

    name: str = field(compare=False)
    backslash_strings: bool = False  # '...' takes \ escapes
    backslash_double_quotes: bool = False  # "..." is a string with \ escapes (MySQL without ANSI_QUOTES)
    escape_strings: bool = False  # E'...' takes \ escapes
    dollar_quotes: bool = False  # $tag$ ... $tag$
    nested_comments: bool = False  # /* /* */ */ is one comment
    hash_comments: bool = False  # # to the end of the line
    executable_comments: bool = False  # /*! ... */ holds code that runs
    dash_comment_needs_space: bool = False  # -- is a comment only before whitespace
    bracket_identifiers: bool = False  # [name]
    comment_ends_at_cr: bool = False  # a lone \r ends a -- comment, not only \n


_DIALECTS = (
    _Dialect("postgresql", escape_strings=True, dollar_quotes=True, nested_comments=True, comment_ends_at_cr=True),
    _Dialect(
        "postgresql-backslash-strings",  # standard_conforming_strings = off
        backslash_strings=True,
        dollar_quotes=True,
        nested_comments=True,
        comment_ends_at_cr=True,
    ),
    _Dialect(
        "mysql",
        backslash_strings=True,
        backslash_double_quotes=True,
        hash_comments=True,
        executable_comments=True,
        dash_comment_needs_space=True,
    ),
    _Dialect(
        "mysql-ansi-quotes",
        backslash_strings=True,
        hash_comments=True,
        executable_comments=True,
        dash_comment_needs_space=True,
    ),
    _Dialect("sqlserver", nested_comments=True, bracket_identifiers=True, comment_ends_at_cr=True),
    _Dialect("sqlite", bracket_identifiers=True),
)


class _Token(NamedTuple):
    kind: str  # one of the _KIND_ names
    text: str  # a word upper-cased when ASCII (so only real keywords compare equal), else as written


class _Group:
    """What a pair of parentheses holds."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[_Token | _Group] = []


_Item = _Token | _Group

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d][\w$]*")
# An exponent needs digits: `1e` followed by letters is read as 1 and a word, so `1EXEC` shows EXEC.
_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_AT_PARAM = re.compile(r"@@?[\w$#@]+")  # @var, @@global (SQL Server, MySQL, SQLite)
_DOLLAR_PARAM = re.compile(r"\$\d+")
_DOLLAR_WORD = re.compile(r"\$[\w$]*")
_DOLLAR_OPEN = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_EXECUTABLE_OPEN = re.compile(r"/\*M?!\d*")
_COMMENT_MARK = re.compile(r"/\*|\*/")
_LF = re.compile(r"\n")
_CR_OR_LF = re.compile(r"[\r\n]")
# Possessive repeats: an unterminated quote fails in linear time.
_SINGLE = re.compile(r"'(?:[^']++|'')*+'")
_SINGLE_BACKSLASH = re.compile(r"'(?:[^'\\]++|''|\\.)*+'", re.DOTALL)
_DOUBLE = re.compile(r'"(?:[^"]++|"")*+"')
_DOUBLE_BACKSLASH = re.compile(r'"(?:[^"\\]++|""|\\.)*+"', re.DOTALL)
_BACKTICK = re.compile(r"`(?:[^`]++|``)*+`")
_BRACKET = re.compile(r"\[(?:[^\]]++|\]\])*+\]")


def _reading_for(dialect: _Dialect, text: str) -> _Dialect:
    """The dialect with the rules that cannot matter for `text` turned off, so equal readings are done once."""
    backslash = "\\" in text
    return replace(
        dialect,
        backslash_strings=dialect.backslash_strings and backslash,
        backslash_double_quotes=dialect.backslash_double_quotes and backslash,
        escape_strings=dialect.escape_strings and backslash,
        dollar_quotes=dialect.dollar_quotes and "$" in text,
        nested_comments=dialect.nested_comments and "/*" in text,
        hash_comments=dialect.hash_comments and "#" in text,
        executable_comments=dialect.executable_comments and "/*" in text,
        dash_comment_needs_space=dialect.dash_comment_needs_space and "--" in text,
        bracket_identifiers=dialect.bracket_identifiers and "[" in text,
        comment_ends_at_cr=dialect.comment_ends_at_cr and "\r" in text,
    )


def _line_end(text: str, pos: int, dialect: _Dialect) -> int:
    newline = (_CR_OR_LF if dialect.comment_ends_at_cr else _LF).search(text, pos)
    return len(text) if newline is None else newline.end()


def _comment_end(text: str, start: int, nested: bool) -> int:
    """Where the block comment opening at `start` ends, or -1 if it never does."""
    depth, pos = 1, start + 2
    while True:
        mark = _COMMENT_MARK.search(text, pos)
        if mark is None:
            return -1
        pos = mark.end()
        if mark.group() == "*/":
            depth -= 1
            if depth == 0:
                return pos
        elif nested:
            depth += 1


def _dash_comment(text: str, pos: int, dialect: _Dialect) -> bool:
    if not text.startswith("--", pos):
        return False
    if not dialect.dash_comment_needs_space or pos + 2 == len(text):
        return True
    after = text[pos + 2]
    return after.isspace() or ord(after) < 32


def _quote_pattern(char: str, dialect: _Dialect) -> re.Pattern[str] | None:
    if char == "'":
        return _SINGLE_BACKSLASH if dialect.backslash_strings else _SINGLE
    if char == '"':
        return _DOUBLE_BACKSLASH if dialect.backslash_double_quotes else _DOUBLE
    if char == "`":
        return _BACKTICK
    if char == "[" and dialect.bracket_identifiers:
        return _BRACKET
    return None


def _lex(text: str, dialect: _Dialect) -> tuple[list[_Token], bool]:
    """The tokens outside comments, with strings and quoted names as single QUOTED tokens; False when
    a string, quoted name or comment is not terminated (the tokens are those before it)."""
    tokens: list[_Token] = []
    pos, end = 0, len(text)
    in_executable = False  # inside MySQL's /*! ... */, whose */ ends nothing else
    while pos < end:
        char = text[pos]
        if char.isspace():
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            continue
        if (char == "-" and _dash_comment(text, pos, dialect)) or (char == "#" and dialect.hash_comments):
            pos = _line_end(text, pos, dialect)
            continue
        if char == "/" and text.startswith("/*", pos):
            opening = _EXECUTABLE_OPEN.match(text, pos) if dialect.executable_comments else None
            if opening is not None:
                pos, in_executable = opening.end(), True
                continue
            pos = _comment_end(text, pos, dialect.nested_comments)
            if pos < 0:
                return tokens, False
            continue
        if char == "*" and in_executable and text.startswith("*/", pos):
            pos, in_executable = pos + 2, False
            continue
        quote = _quote_pattern(char, dialect)
        if quote is not None:
            quoted = quote.match(text, pos)
            if quoted is None:
                return tokens, False
            tokens.append(_Token(_KIND_QUOTED, quoted.group()))
            pos = quoted.end()
            continue
        if char == "$":
            if dialect.dollar_quotes:
                opening = _DOLLAR_OPEN.match(text, pos)
                if opening is not None:
                    close = text.find(opening.group(), opening.end())
                    if close < 0:
                        return tokens, False
                    pos = close + len(opening.group())
                    tokens.append(_Token(_KIND_QUOTED, text[opening.start() : pos]))
                    continue
                param = _DOLLAR_PARAM.match(text, pos)
            else:
                param = _DOLLAR_WORD.match(text, pos)
            if param is not None and len(param.group()) > 1:
                tokens.append(_Token(_KIND_PARAM, param.group()))
                pos = param.end()
                continue
        word = _WORD.match(text, pos)
        if word is not None:
            value = word.group()
            if dialect.escape_strings and value in ("E", "e") and text.startswith("'", word.end()):
                quoted = _SINGLE_BACKSLASH.match(text, word.end())
                if quoted is None:
                    return tokens, False
                tokens.append(_Token(_KIND_QUOTED, text[pos : quoted.end()]))
                pos = quoted.end()
                continue
            tokens.append(_Token(_KIND_WORD, value.upper() if value.isascii() else value))
            pos = word.end()
            continue
        other = _NUMBER.match(text, pos) or (_AT_PARAM.match(text, pos) if char == "@" else None)
        if other is not None:
            tokens.append(_Token(_KIND_NUMBER if char != "@" else _KIND_PARAM, other.group()))
            pos = other.end()
            continue
        tokens.append(_Token(_KIND_PUNCT, char))
        pos += 1
    return tokens, True


def _nest(tokens: list[_Token]) -> tuple[list[_Item], bool]:
    """Tokens as a tree of parenthesised groups; False when the parentheses do not balance or nest
    deeper than MAX_NESTING (deeper ones stay tokens, not looked into)."""
    root: list[_Item] = []
    stack = [root]
    flat = 0  # open parentheses beyond MAX_NESTING
    sound = True
    for token in tokens:
        if token.kind == _KIND_PUNCT and token.text == "(":
            if len(stack) > MAX_NESTING:
                flat, sound = flat + 1, False
                stack[-1].append(token)
            else:
                group = _Group()
                stack[-1].append(group)
                stack.append(group.items)
        elif token.kind == _KIND_PUNCT and token.text == ")":
            if flat:
                flat -= 1
                stack[-1].append(token)
            elif len(stack) > 1:
                stack.pop()
            else:
                sound = False
        else:
            stack[-1].append(token)
    return root, sound and len(stack) == 1


# --------------------------------------------------------------------------------------------- classes

_READ_HEADS = frozenset(
    "SHOW HELP USE VALUES TABLE BEGIN COMMIT ROLLBACK END ABORT SAVEPOINT SAVE RELEASE DECLARE FETCH CLOSE "
    "MOVE DEALLOCATE UNLOCK LISTEN UNLISTEN DISCARD IF ELSE WHILE PRINT RETURN GO".split()
)
_DDL_HEADS = frozenset("CREATE ALTER DROP TRUNCATE RENAME COMMENT".split())
_GRANT_HEADS = frozenset("GRANT REVOKE DENY".split())
_EXPLAIN_HEADS = frozenset("EXPLAIN DESCRIBE DESC".split())
_EXPLAINABLE = frozenset("SELECT INSERT UPDATE DELETE MERGE WITH VALUES TABLE REPLACE CREATE EXECUTE DECLARE".split())
_UNSPLIT_HEADS = frozenset("SHOW HELP".split())  # nothing after them starts a statement
_INSERT_HEADS = frozenset("INSERT UPSERT REPLACE".split())
# Groups starting with these are statements (subqueries, CTE bodies).
_NESTED_HEADS = frozenset("SELECT WITH INSERT UPDATE DELETE MERGE VALUES TABLE".split())
# Keywords that start a statement when no `;` came before (SQL Server); all reserved there.
_STARTERS = frozenset(
    "INSERT UPDATE DELETE MERGE CREATE ALTER DROP TRUNCATE GRANT REVOKE DENY EXEC EXECUTE DBCC BACKUP RESTORE "
    "KILL SHUTDOWN RECONFIGURE WRITETEXT UPDATETEXT BULK".split()
)
_STARTERS_IN_CHANGES = _STARTERS | {"SELECT"}  # a DELETE or UPDATE has no SELECT of its own outside parentheses
# After these a starter belongs to the statement (ON DELETE, FOR UPDATE, THEN INSERT, GRANT EXECUTE,
# ON DUPLICATE KEY UPDATE, INSERT OR UPDATE, INSTEAD OF DELETE, WITH GRANT OPTION); all reserved in SQL
# Server, so no statement there ends with one.
_JOINING = frozenset("FOR KEY ON OR OF THEN GRANT REVOKE DENY WITH".split())
_FUNCTION_NAMES = frozenset({"INSERT", "UPDATE"})  # INSERT(str, ...) in MySQL, UPDATE(col) in SQL Server
_ROUTINES = frozenset("FUNCTION PROCEDURE PROC TRIGGER RULE".split())
_ROUTINE_PREFIXES = frozenset("CONSTRAINT AGGREGATE EVENT TEMP TEMPORARY SECURE".split())
_SERVER_SETTINGS = frozenset({"GLOBAL", "PERSIST", "PERSIST_ONLY"})
_SERVER_SETTING_VARS = frozenset({"@@GLOBAL", "@@PERSIST", "@@PERSIST_ONLY"})
_SERVER_RESETS = frozenset("MASTER REPLICA SLAVE PERSIST BINARY".split())
_LOOKUP_PRAGMAS = frozenset(
    "TABLE_INFO TABLE_XINFO TABLE_LIST INDEX_LIST INDEX_INFO INDEX_XINFO FOREIGN_KEY_LIST FOREIGN_KEY_CHECK "
    "INTEGRITY_CHECK QUICK_CHECK".split()
)  # their argument names what to read
_QUERY_PRAGMAS = frozenset(
    "DATABASE_LIST COLLATION_LIST FUNCTION_LIST MODULE_LIST PRAGMA_LIST COMPILE_OPTIONS PAGE_COUNT PAGE_SIZE "
    "FREELIST_COUNT ENCODING USER_VERSION SCHEMA_VERSION APPLICATION_ID DATA_VERSION JOURNAL_MODE FOREIGN_KEYS".split()
)  # read without a value, set with one


def _word(item: _Item | None) -> str | None:
    return item.text if isinstance(item, _Token) and item.kind == _KIND_WORD else None


def _word_at(items: list[_Item], index: int) -> str | None:
    return _word(items[index]) if index < len(items) else None


def _is_punct(item: _Item | None, char: str) -> bool:
    return isinstance(item, _Token) and item.kind == _KIND_PUNCT and item.text == char


def _is_param(item: _Item | None) -> bool:
    return isinstance(item, _Token) and item.kind == _KIND_PARAM


def _split(items: list[_Item]) -> list[list[_Item]]:
    parts: list[list[_Item]] = [[]]
    for item in items:
        if _is_punct(item, ";"):
            parts.append([])
        else:
            parts[-1].append(item)
    return [part for part in parts if part]


def _is_function_call(items: list[_Item], index: int) -> bool:
    return _word(items[index]) in _FUNCTION_NAMES and index + 1 < len(items) and isinstance(items[index + 1], _Group)


def _classify_items(items: list[_Item], top_level: bool) -> set[str]:
    """The classes of a statement list: the whole text, or what parentheses hold (where only parts that
    start like a statement are statements)."""
    found: set[str] = set()
    for part in _split(items):
        if top_level or (_word(part[0]) in _NESTED_HEADS and not _is_function_call(part, 0)):
            for classes in _statement_classes(part):
                found |= classes
        else:
            found |= _nested_classes(part)
    return found


def _nested_classes(items: list[_Item]) -> set[str]:
    found: set[str] = set()
    for item in items:
        if isinstance(item, _Group):
            found |= _classify_items(item.items, top_level=False)
    return found


def _head(item: _Item) -> str | None:
    """A statement's first keyword; "(" when it starts with a parenthesis; None for anything else."""
    return "(" if isinstance(item, _Group) else _word(item)


def _statement_classes(part: list[_Item]) -> list[set[str]]:
    """One set of classes per statement in `part` (text between two `;`), in order."""
    results: list[set[str]] = []
    start = 0
    while start < len(part):
        head = _head(part[start])
        if head in _EXPLAIN_HEADS:
            results.extend(_explain_classes(part[start:]))
            break
        if head in ("CREATE", "ALTER") and _defines_routine(part, start):
            results.append({DDL})
            break
        if head in _UNSPLIT_HEADS:
            results.append(set())
            break
        cut = _next_statement(part, start, head)
        statement = part[start:cut]
        results.append(_own_classes(statement, head) | _nested_classes(statement))
        start = cut
    return results


def _next_statement(part: list[_Item], start: int, head: str | None) -> int:
    """Where the next statement starts without a `;` before it (len(part) if nowhere)."""
    starters = _STARTERS_IN_CHANGES if head in ("DELETE", "UPDATE") else _STARTERS
    upsert = False  # INSERT ... ON CONFLICT seen: its DO UPDATE belongs to it (PostgreSQL, SQLite)
    for index in range(start + 1, len(part)):
        word = _word(part[index])
        if word == "CONFLICT" and _word(part[index - 1]) == "ON" and head in _INSERT_HEADS:
            upsert = True
        if word in starters and not _continues(part, index, upsert):
            return index
    return len(part)


def _continues(part: list[_Item], index: int, upsert: bool) -> bool:
    """Whether the starter keyword at `index` belongs to the statement before it."""
    if _is_function_call(part, index):
        return True
    previous = part[index - 1]
    if _is_punct(previous, ",") or _is_punct(previous, "."):
        return True
    before = _word(previous)
    return before in _JOINING or (upsert and before == "DO" and _word(part[index]) == "UPDATE")


def _defines_routine(part: list[_Item], start: int) -> bool:
    """CREATE/ALTER [OR REPLACE] [DEFINER = u@h] FUNCTION | PROCEDURE | TRIGGER | RULE: its body is not run."""
    index, end = start + 1, len(part)
    while index < end:
        word = _word(part[index])
        if word == "OR":
            index += 2  # OR REPLACE, OR ALTER
        elif word in _ROUTINE_PREFIXES:
            index += 1
        elif word == "DEFINER":
            index += 1
            if index < end and _is_punct(part[index], "="):
                index += 1
            index += 1  # the user
            if index < end and isinstance(part[index], _Group):
                index += 1  # CURRENT_USER()
            if index < end and _is_punct(part[index], "@"):
                index += 2
            elif index < end and _is_param(part[index]):
                index += 1
        else:
            break
    return _word_at(part, index) in _ROUTINES


def _explain_classes(part: list[_Item]) -> list[set[str]]:
    """EXPLAIN/DESCRIBE: the explained statement counts only when ANALYZE runs it."""
    analyze = False
    for index in range(1, len(part)):
        item = part[index]
        if isinstance(item, _Group):
            analyze = analyze or any(_word(option) in ("ANALYZE", "ANALYSE") for option in item.items)
            continue
        word = _word(item)
        if word in ("ANALYZE", "ANALYSE"):
            analyze = True
        elif word in _EXPLAINABLE:
            inner = _statement_classes(part[index:])
            return inner if analyze else [set(), *inner[1:]]
    return [set()]  # EXPLAIN t / DESCRIBE t: a table's columns


def _has_word(statement: list[_Item], word: str) -> bool:
    return any(_word(item) == word for item in statement[1:])


def _own_classes(statement: list[_Item], head: str | None) -> set[str]:
    """The class of one statement from its own keywords (not from what its parentheses hold)."""
    if head is None:
        return {WRITE}
    if head in ("(", "SELECT", "WITH"):
        return _select_classes(statement)
    if head in _READ_HEADS:
        return set()
    if head in ("DELETE", "UPDATE"):
        if _has_word(statement, "WHERE") or (head == "UPDATE" and _word_at(statement, 1) == "STATISTICS"):
            return {WRITE}
        return {DELETE_WITHOUT_WHERE if head == "DELETE" else UPDATE_WITHOUT_WHERE}
    if head in _DDL_HEADS:
        return {DDL}
    if head in _GRANT_HEADS:
        return {GRANT}
    special = _SPECIAL_HEADS.get(head)
    return special(statement) if special is not None else {WRITE}


def _select_classes(statement: list[_Item]) -> set[str]:
    """SELECT ... INTO a table (or OUTFILE) writes; INTO @variables does not."""
    for index, item in enumerate(statement):
        if _word(item) == "INTO":
            target = statement[index + 1] if index + 1 < len(statement) else None
            if not (_is_param(target) and target.text.startswith("@")):  # type: ignore[union-attr]
                return {WRITE}
    return set()


def _set_classes(statement: list[_Item]) -> set[str]:
    """SET changes the session, except SET GLOBAL/PERSIST (the server), PASSWORD and DEFAULT ROLE."""
    first = _word_at(statement, 1)
    if first == "PASSWORD":
        return {DDL}
    if first == "DEFAULT" and _word_at(statement, 2) == "ROLE":
        return {GRANT}
    for index in range(1, len(statement)):
        item = statement[index]
        if (index == 1 or _is_punct(statement[index - 1], ",")) and _word(item) in _SERVER_SETTINGS:
            return {WRITE}
        if _is_param(item) and item.text.upper() in _SERVER_SETTING_VARS:  # type: ignore[union-attr]
            return {WRITE}
    return set()


def _copy_classes(statement: list[_Item]) -> set[str]:
    """COPY ... TO STDOUT reads; COPY ... FROM loads, COPY ... TO a file or PROGRAM writes on the server."""
    for index in range(1, len(statement)):
        word = _word(statement[index])
        if word == "TO":
            return set() if _word_at(statement, index + 1) == "STDOUT" else {WRITE}
        if word == "FROM":
            break
    return {WRITE}


def _start_classes(statement: list[_Item]) -> set[str]:
    return set() if _word_at(statement, 1) == "TRANSACTION" else {WRITE}  # START SLAVE, START REPLICA ...


def _reset_classes(statement: list[_Item]) -> set[str]:
    return {WRITE} if _word_at(statement, 1) in _SERVER_RESETS else set()  # RESET MASTER drops binary logs


def _pragma_classes(statement: list[_Item]) -> set[str]:
    """SQLite: a PRAGMA reads when it names a read-only one and gives no value."""
    if any(_is_punct(item, "=") for item in statement):
        return {WRITE}
    name, has_argument = None, False
    for item in statement[1:]:
        if isinstance(item, _Group):
            has_argument = True
            break
        name = _word(item) or name
    if name in _LOOKUP_PRAGMAS or (name in _QUERY_PRAGMAS and not has_argument):
        return set()
    return {WRITE}


_SPECIAL_HEADS: dict[str, Callable[[list[_Item]], set[str]]] = {
    "SET": _set_classes,
    "COPY": _copy_classes,
    "START": _start_classes,
    "RESET": _reset_classes,
    "PRAGMA": _pragma_classes,
}


def classify_sql(text: str) -> frozenset[str]:
    """The classes (of SQL_CLASSES) of the statements in `text`; empty when it only reads."""
    if len(text) > MAX_SQL_CHARS:
        return frozenset(SQL_CLASSES)
    found: set[str] = set()
    for dialect in dict.fromkeys(_reading_for(d, text) for d in _DIALECTS):
        tokens, lexed = _lex(text, dialect)
        tree, sound = _nest(tokens)
        found |= _classify_items(tree, top_level=True)
        if not (lexed and sound):
            found.add(WRITE)
    return frozenset(found)
