"""Avro schemas of auditledger's messages, and their single-object framing."""

from schemas.single_object import FramingError
from schemas.store import DecodeError, Schema, SchemaStore, UnknownSchemaError, load_project_schemas

__all__ = ["DecodeError", "FramingError", "Schema", "SchemaStore", "UnknownSchemaError", "load_project_schemas"]
