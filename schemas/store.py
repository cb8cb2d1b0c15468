"""Writer schemas by fingerprint, and encode/decode of single-object Avro messages.

The `.avsc` files beside this module are the project's schemas; a store can also hold other
versions (an older or newer writer) so that a reader resolves them to its own reader schema.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import fastavro
from fastavro.schema import fingerprint as avro_fingerprint
from fastavro.schema import parse_schema, to_parsing_canonical_form

from schemas.single_object import FramingError, frame, unframe

# Order matters: a schema may only name types defined by the ones before it.
PROJECT_SCHEMAS = (
    "AuditEvent", "ApprovalEvent", "LedgerEntry", "ApprovalState", "LedgerRecord", "Checkpoint", "DeadLetter", "Alert"
)


class UnknownSchemaError(LookupError):
    """A message names a writer schema this store does not hold."""


class DecodeError(ValueError):
    """A message's bytes do not decode under its writer schema."""


@dataclass(frozen=True)
class Schema:
    name: str
    parsed: dict[str, Any]
    fingerprint: bytes

    @property
    def canonical_form(self) -> str:
        return to_parsing_canonical_form(self.parsed)


def schema_from_json(definition: Mapping[str, Any] | str, named: dict[str, Any] | None = None) -> Schema:
    """Parse a schema definition; `named` resolves references to types parsed earlier."""
    raw: Any = json.loads(definition) if isinstance(definition, str) else dict(definition)
    named_copy = dict(named or {})
    parsed = parse_schema(raw, named_schemas=named_copy)
    expanded = fastavro.schema.expand_schema(parsed)
    if named is not None:
        named.update(named_copy)
    fp = bytes.fromhex(avro_fingerprint(to_parsing_canonical_form(expanded), "CRC-64-AVRO"))
    name = raw.get("name", "") if isinstance(raw, dict) else str(raw)
    return Schema(name=name, parsed=parsed, fingerprint=fp)


def load_project_schemas() -> dict[str, Schema]:
    """The schemas shipped in this package, by short name."""
    named: dict[str, Any] = {}
    loaded: dict[str, Schema] = {}
    folder = resources.files("schemas")
    for name in PROJECT_SCHEMAS:
        text = folder.joinpath(f"{name}.avsc").read_text(encoding="utf-8")
        loaded[name] = schema_from_json(text, named)
    return loaded


class SchemaStore:
    """Encodes with a named schema and decodes any message whose writer schema it holds."""

    def __init__(self, schemas: Mapping[str, Schema] | None = None) -> None:
        self._by_name: dict[str, Schema] = dict(schemas if schemas is not None else load_project_schemas())
        self._by_fingerprint: dict[bytes, Schema] = {s.fingerprint: s for s in self._by_name.values()}

    def add(self, schema: Schema) -> None:
        """Hold another writer version (not replacing the reader schema of the same name)."""
        self._by_fingerprint[schema.fingerprint] = schema
        self._by_name.setdefault(schema.name, schema)

    def schema(self, name: str) -> Schema:
        return self._by_name[name]

    def writer_of(self, message: bytes) -> Schema:
        fp, _ = unframe(message)
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchemaError(f"no writer schema with fingerprint {fp.hex()}") from None

    def encode(self, name: str, datum: Mapping[str, Any]) -> bytes:
        schema = self._by_name[name]
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema.parsed, datum)
        return frame(schema.fingerprint, buf.getvalue())

    def decode(self, message: bytes, reader: str | Schema | None = None) -> dict[str, Any]:
        """Decode with the writer schema the message names, resolved to `reader` when given.

        Raises FramingError, UnknownSchemaError or DecodeError; never a bare fastavro error.
        """
        fp, body = unframe(message)
        writer = self._by_fingerprint.get(fp)
        if writer is None:
            raise UnknownSchemaError(f"no writer schema with fingerprint {fp.hex()}")
        reader_schema = self._by_name[reader] if isinstance(reader, str) else reader
        stream = io.BytesIO(body)
        try:
            datum = fastavro.schemaless_reader(
                stream, writer.parsed, reader_schema.parsed if reader_schema is not None else None
            )
        except Exception as exc:  # fastavro raises many types on bad bytes
            raise DecodeError(f"{writer.name} body does not decode: {type(exc).__name__}") from exc
        if stream.tell() != len(body):
            raise DecodeError(f"{writer.name} body has {len(body) - stream.tell()} trailing bytes")
        return datum


__all__ = [
    "DecodeError",
    "FramingError",
    "PROJECT_SCHEMAS",
    "Schema",
    "SchemaStore",
    "UnknownSchemaError",
    "load_project_schemas",
    "schema_from_json",
]
