"""Bulk operations ("Select All"): one row per operation, one per invitation it selected.

The items are the selection fixed when the operation started; each is pending until the chunk
that handles it commits, and then holds its outcome (done, or skipped with a code and reason).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from tortoise import fields
from tortoise.models import Model

from models.fields import DatetimeField


class BulkAction(StrEnum):
    DISCARD = "DISCARD"
    RESEND = "RESEND"


class BulkStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"


ACTIVE_STATUSES = (BulkStatus.QUEUED, BulkStatus.RUNNING)


class ItemState(IntEnum):
    """Where one selected invitation stands; stored as a small integer (a million rows)."""

    PENDING = 0
    DONE = 1
    SKIPPED = 2
    # Taken by the chunk under way, inside its transaction: a crash rolls it back to PENDING.
    CLAIMED = 3


class BulkOperation(Model):
    """One "Select All" action: what, by whom, and how far it has got."""

    id = fields.IntField(primary_key=True)
    action = fields.CharEnumField(BulkAction, max_length=16)
    status = fields.CharEnumField(BulkStatus, max_length=16, default=BulkStatus.QUEUED)
    # "admin:<username>": the actor of every status change the operation makes.
    actor = fields.CharField(max_length=128)
    total = fields.IntField(default=0)
    processed = fields.IntField(default=0)
    succeeded = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    # Chunks that failed in a row (an unexpected error); the operation FAILS after a few.
    failures = fields.IntField(default=0)
    created_at = DatetimeField()
    updated_at = DatetimeField()
    finished_at = DatetimeField(null=True)

    class Meta:
        table = "bulk_operation"
        indexes = (("status", "id"),)


class BulkOperationItem(Model):
    """One invitation of an operation's selection, and its outcome once handled."""

    id = fields.IntField(primary_key=True)
    operation: fields.ForeignKeyRelation[BulkOperation] = fields.ForeignKeyField(
        "models.BulkOperation", related_name=False, on_delete=fields.CASCADE
    )
    operation_id: int
    # No foreign key: the selection is a record of ids, read back by the chunk that handles them.
    invitation_id = fields.IntField()
    state = fields.SmallIntField(default=ItemState.PENDING)
    code = fields.CharField(max_length=32, null=True)
    message = fields.TextField(null=True)

    class Meta:
        table = "bulk_operation_item"
        indexes = (("operation_id", "state", "id"),)
