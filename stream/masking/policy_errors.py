"""The one error a masking policy file raises, with where in the file and which key."""

from __future__ import annotations

ROOT_PATH = "<root>"  # the path named for the document as a whole (empty file, wrong top-level type)
YAML_PATH = "<yaml>"  # the path named for a YAML syntax error, which happens before there are keys


class PolicyError(ValueError):
    """`<source>:<line>: <dotted.path.of.the.key>: <reason>`, e.g.

        policy.yaml:14: rules[2].action: 'scramble' is not one of redact, partial, hash, drop

    Lines count from 1. A file that cannot be read at all has no line or path: `<source>: <reason>`.
    """

    def __init__(self, source: str, line: int | None, path: str | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.path = path
        self.reason = reason
        if line is None:
            super().__init__(f"{source}: {reason}")
        else:
            super().__init__(f"{source}:{line}: {path or ROOT_PATH}: {reason}")
