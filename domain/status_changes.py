"""One invitation's status change: the write, its history row, and the live-update event.

The write is conditional (the query names the states the change is allowed from), so of two
concurrent changes only one matches; its history row is written in the same transaction, and the
change is published only after that committed. A caller whose own transaction encloses the
change (a bulk chunk) passes `changes`: the change is added there, for the caller to publish once
its transaction committed.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

import events
from domain import webhooks
from models.invitation import Invitation, InvitationStatus, InvitationStatusChange


async def change_status(
    query: QuerySet[Invitation],
    row: Invitation | tuple[int, int | None],
    status: InvitationStatus,
    *,
    actor: str,
    now: datetime,
    changes: list[events.Change] | None = None,
) -> bool:
    """Set `status` on the invitation `query` still matches; whether it did.

    `row` is the invitation, or its (id, inviter id): what the history row and the event name.
    """
    row_id, inviter_id = (row.id, row.inviter_id) if isinstance(row, Invitation) else row
    async with in_transaction():
        changed = await query.update(status=status, updated_at=now)
        if changed:
            await InvitationStatusChange.create(
                invitation_id=row_id, status=status, at=now, actor=actor
            )
            await webhooks.status_changed(status, [row_id])
    if changed and changes is not None:
        changes.append(events.Change(row_id, inviter_id))
    elif changed:
        await events.changed(row_id, inviter_id)
    return bool(changed)
