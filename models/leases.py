"""Shared state of the replicas: who runs a periodic job now, and the abuse limits' counters."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.fields import DatetimeField


class Lease(Model):
    """A job that one process at a time runs (the expiry sweep): its holder until `expires_at`.

    Taken and renewed by a conditional UPDATE (free, expired, or already ours), so of two
    processes only one matches, on SQLite as on PostgreSQL.
    """

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=64)
    expires_at = DatetimeField()

    class Meta:
        table = "lease"


class RateLimitCounter(Model):
    """Hits of one key (action, and a client address or an account digest) in its current window.

    Written only by schema.rate_limits' database storage, with one atomic upsert per hit.
    `expires_at` is in seconds since the epoch, as the `limits` library counts.
    """

    key = fields.CharField(max_length=128, primary_key=True)
    count = fields.IntField()
    expires_at = fields.FloatField(db_index=True)

    class Meta:
        table = "rate_limit_counter"
