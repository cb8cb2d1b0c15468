"""The shared RFC 6962 proof vectors: every file must verify (wantErr=false) or fail with a MerkleError.

Each vector file is named after the tampering it applies to a happy-path proof. One parametrized loader
enumerates them all; a directory that is missing fails the run instead of silently skipping it.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import MerkleError, verify_consistency, verify_inclusion

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # tests/merkle/<this file> -> project root
VECTORS = PROJECT_ROOT.parent / "shared" / "testdata" / "rfc6962"


def _vector_files() -> list[Path]:
    return sorted(VECTORS.rglob("*.json")) if VECTORS.is_dir() else []


def _vector_params() -> list[Path]:
    """The files, or one placeholder that fails loudly, so a missing directory never turns into a skip."""
    return _vector_files() or [VECTORS / "<missing>"]


def _id(path: Path) -> str:
    return path.relative_to(VECTORS).as_posix()


def _b64(value: str | None) -> bytes:
    try:
        return base64.b64decode(value or "", validate=True)
    except binascii.Error as exc:  # a broken vector file is a test failure, not a skip
        pytest.fail(f"vector holds invalid base64 {value!r}: {exc}")


def _run(vector: dict[str, Any]) -> None:
    proof = [_b64(p) for p in vector["proof"] or []]
    if "leafIdx" in vector:
        verify_inclusion(vector["leafIdx"], vector["treeSize"], _b64(vector["leafHash"]), proof, _b64(vector["root"]))
    elif "size1" in vector:
        verify_consistency(vector["size1"], vector["size2"], _b64(vector["root1"]), _b64(vector["root2"]), proof)
    else:
        pytest.fail(f"unknown vector layout, fields: {sorted(vector)}")


def test_vector_directory_present() -> None:
    assert VECTORS.is_dir(), (
        f"RFC 6962 test vectors not found at {VECTORS}; the shared/ checkout must sit beside the project root"
    )


@pytest.mark.parametrize("kind", ["inclusion", "consistency"])
def test_vectors_enumerated(kind: str) -> None:
    files = [f for f in _vector_files() if _id(f).startswith(f"{kind}/")]
    assert len(files) > 0, f"no {kind} vectors under {VECTORS}"


@pytest.mark.parametrize("path", _vector_params(), ids=_id)
def test_vector(path: Path) -> None:
    if not path.is_file():
        pytest.fail(f"RFC 6962 test vectors not found at {VECTORS}")
    vector = json.loads(path.read_text(encoding="utf-8"))
    desc = vector.get("desc", "")
    if not vector["wantErr"]:
        _run(vector)  # any exception fails the test
        return
    try:
        _run(vector)
    except MerkleError:
        return  # the tampering was caught by one of our checks
    pytest.fail(f"tampered vector verified: {desc}")
