"""Field-rule paths: parsing, matching, and writing the concrete paths the manifest shows.

Syntax (see `plan.FieldRule`): dot-separated names from the event root, e.g.
`payload.response.rows[*].ssn`. A name is letters, digits, `_` and `-`, or `*` meaning any key of an
object. After a name, `[*]` matches every element of a list and `[N]` element N (from 0). A key that is
not a simple name can be written quoted in brackets: `payload.attributes["x.y"]`. Inside a JSON-text
field (parameters, tool_arguments, response) the path continues into the parsed JSON.

`parse_path(text)` raises ValueError saying what is wrong and where (1-based character position).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Step kinds.
KEY = "key"  # a named key of an object
ANY_KEY = "any_key"  # `*`: every key of an object
INDEX = "index"  # `[N]`
ANY_INDEX = "any_index"  # `[*]`

Step = tuple[str, "str | int | None"]

_NAME_CHAR = re.compile(r"[A-Za-z0-9_\-]")
_NAME = re.compile(r"[A-Za-z0-9_\-]+")
SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


@dataclass(frozen=True)
class FieldPath:
    """A parsed path: `steps` is a tuple of (kind, argument) with kind one of KEY, ANY_KEY, INDEX, ANY_INDEX."""

    text: str
    steps: tuple[Step, ...]

    def matches(self, concrete: Sequence[str | int]) -> bool:
        return match_path(self, concrete)

    def __str__(self) -> str:
        return self.text


def _fail(text: str, position: int, reason: str) -> ValueError:
    return ValueError(f"{reason} at character {position + 1} of {text!r}")


def parse_path(text: str) -> FieldPath:
    """Parse a field-rule path; ValueError naming the problem and its position if it is malformed."""
    if not isinstance(text, str):
        raise ValueError(f"a path must be text, not {type(text).__name__}")
    if not text:
        raise ValueError("empty path")
    if text.strip() != text:
        raise ValueError(f"path {text!r} has leading or trailing whitespace")
    steps: list[Step] = []
    i, n = 0, len(text)
    expect_name = True
    while i < n:
        c = text[i]
        if expect_name:
            if c == "*":
                if i + 1 < n and _NAME_CHAR.match(text[i + 1]):
                    raise _fail(text, i, "'*' must be a whole name (a name cannot contain '*')")
                steps.append((ANY_KEY, None))
                i += 1
            else:
                m = _NAME.match(text, i)
                if m is None:
                    if c == ".":
                        raise _fail(text, i, "empty name (two dots, or a dot at the start)")
                    if c == "[" and not steps:
                        raise _fail(text, i, "a path must start with a name, not '['")
                    if c == "[":
                        raise _fail(text, i, "'[' after a dot: write name[N], not name.[N]")
                    raise _fail(text, i, f"unexpected character {c!r} in a name (names are letters, digits, _ and -)")
                if i + len(m.group()) < n and text[i + len(m.group())] == "*":
                    raise _fail(text, i + len(m.group()), "'*' must be a whole name (a name cannot contain '*')")
                steps.append((KEY, m.group()))
                i = m.end()
            expect_name = False
            continue
        if c == ".":
            if i + 1 == n:
                raise _fail(text, i, "empty name after the last dot")
            expect_name = True
            i += 1
        elif c == "[":
            i = _parse_bracket(text, i, steps)
        else:
            raise _fail(text, i, f"unexpected character {c!r}: want '.', '[*]' or '[N]' after a name")
    return FieldPath(text, tuple(steps))


def _parse_bracket(text: str, i: int, steps: list[Step]) -> int:
    close = text.find("]", i)
    if text.startswith('["', i) or text.startswith("['", i):
        quote = text[i + 1]
        end = text.find(quote + "]", i + 2)
        if end == -1:
            raise _fail(text, i, f"unclosed quoted name: want [{quote}...{quote}]")
        raw = text[i + 1 : end + 1]
        if quote == '"':
            try:
                name = json.loads(raw)
            except ValueError:
                raise _fail(text, i, "bad quoted name (JSON string escapes)") from None
        else:
            name = raw[1:-1]
        steps.append((KEY, name))
        return end + 2
    if close == -1:
        raise _fail(text, i, "unclosed '['")
    inner = text[i + 1 : close]
    if inner == "*":
        steps.append((ANY_INDEX, None))
    elif inner.isdigit() and inner.isascii():
        steps.append((INDEX, int(inner)))
    elif not inner:
        raise _fail(text, i, "empty brackets: want [*] or [N]")
    elif inner.startswith("-") and inner[1:].isdigit():
        raise _fail(text, i, f"negative index [{inner}]: want [*] or [N] with N >= 0")
    else:
        raise _fail(text, i, f"bad index [{inner}]: want [*] or a number [N]")
    return close + 1


def step_matches(step: Step, concrete: str | int) -> bool:
    kind, arg = step
    if kind == KEY:
        return isinstance(concrete, str) and concrete == arg
    if kind == ANY_KEY:
        return isinstance(concrete, str)
    if kind == INDEX:
        return isinstance(concrete, int) and concrete == arg
    return isinstance(concrete, int)


def match_path(path: FieldPath, concrete: Sequence[str | int]) -> bool:
    """True when a concrete path (keys as str, list indices as int) is exactly matched by `path`."""
    if len(path.steps) != len(concrete):
        return False
    return all(step_matches(s, c) for s, c in zip(path.steps, concrete, strict=True))


def format_path(concrete: Iterable[str | int | None]) -> str:
    """Manifest form of a concrete path: list indices (int or None) become `[*]`; a key that is not a
    simple name is quoted in brackets (`["a.b"]`)."""
    out: list[str] = []
    for part in concrete:
        if part is None or isinstance(part, int):
            out.append("[*]")
        elif SIMPLE_NAME.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out)
