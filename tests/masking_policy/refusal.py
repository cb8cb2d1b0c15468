"""Asserting where a policy file is refused: the line and key path, as the error message leads with them."""

from __future__ import annotations

import pytest

from stream.masking.policy import parse_policy
from stream.masking.policy_errors import PolicyError


def refused(text: str, line: int, path: str) -> PolicyError:
    """Parse must fail at exactly this line and key; the message starts `policy.yaml:<line>: <path>: `."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policy.yaml")
    error = caught.value
    assert (error.line, error.path) == (line, path), str(error)
    assert str(error).startswith(f"policy.yaml:{line}: {path}: "), str(error)
    return error
