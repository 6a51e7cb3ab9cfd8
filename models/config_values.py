"""Scoped configuration values (default → website → store view)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ConfigValue(Model):
    """A scoped configuration value, like Magento's core_config_data.

    Scope is ``default`` (scope_id 0), ``website`` or ``store_view``; a store view inherits what it
    does not set from its website, which inherits from the default scope. ``value`` is JSON, so an
    explicit null (say, "no lifetime") differs from "not set here".
    """

    id = fields.IntField(primary_key=True)
    scope = fields.CharField(max_length=16)
    scope_id = fields.IntField(default=0)
    path = fields.CharField(max_length=128)
    value: object = fields.JSONField(null=True)

    class Meta:
        table = "config_value"
        unique_together = (("scope", "scope_id", "path"),)
