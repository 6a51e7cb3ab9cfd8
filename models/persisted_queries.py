"""The GraphQL documents registered for automatic persisted queries, by their SHA-256."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.fields import DatetimeField


class PersistedQuery(Model):
    """A document a client may name by its hash alone (Apollo's automatic persisted queries)."""

    # The lower-case hex SHA-256 of the document's UTF-8 text, exactly as the client sent it.
    sha256 = fields.CharField(max_length=64, primary_key=True)
    document = fields.TextField()
    created_at = DatetimeField()

    class Meta:
        table = "persisted_query"
