"""Strawberry types, inputs, enums, permissions and the request context (the root is api.schema)."""
