"""Storing expiries as they happen: a sweep that marks lapsed open invitations EXPIRED.

An open invitation past its `expires_at` already reads EXPIRED (domain.invitations); the sweep
stores it, with a history row (`system`) and a live-update event, through the same conditional
status change as every other (domain.status_changes). Workers run it periodically; a lease row
lets one process at a time do so across replicas, and its batches are bounded so a backlog after
downtime is worked off in steps. Even without the lease no invitation could expire twice: each
change still matches only an open row.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from domain.status_changes import change_status
from models.invitation import OPEN_STATUSES, SYSTEM_ACTOR, Invitation, InvitationStatus
from models.leases import Lease

SWEEP_LEASE = "expiry-sweep"


async def take_lease(name: str, holder: str, *, now: datetime, seconds: float) -> bool:
    """Hold the lease `name` until now + seconds, if it is free, expired or already ours."""
    until = now + timedelta(seconds=seconds)
    if not await Lease.exists(name=name):
        try:
            await Lease.create(name=name, holder=holder, expires_at=until)
            return True
        except IntegrityError:  # another process created it first
            pass
    taken = await Lease.filter(Q(name=name) & (Q(expires_at__lte=now) | Q(holder=holder))).update(
        holder=holder, expires_at=until
    )
    return bool(taken)


async def release_lease(name: str, holder: str, *, now: datetime) -> None:
    await Lease.filter(name=name, holder=holder).update(expires_at=now)


async def expire_batch(*, now: datetime, batch_size: int) -> int:
    """Mark up to `batch_size` lapsed open invitations EXPIRED; how many this call changed."""
    lapsed: list[Any] = (
        await Invitation.filter(status__in=list(OPEN_STATUSES), expires_at__lte=now)
        .order_by("expires_at", "id")
        .limit(batch_size)
        .values_list("id", "inviter_id")
    )
    changed = 0
    for row_id, inviter_id in lapsed:
        changed += await change_status(
            Invitation.filter(id=row_id, status__in=list(OPEN_STATUSES), expires_at__lte=now),
            (row_id, inviter_id),
            InvitationStatus.EXPIRED,
            actor=SYSTEM_ACTOR,
            now=now,
        )
    return changed


class ExpirySweeper:
    """One process's sweeper: sweeps only while it holds the shared lease."""

    def __init__(self, *, batch_size: int, batches: int, lease_seconds: float) -> None:
        self.batch_size = batch_size
        self.batches = batches  # per sweep: the rest waits for the next one
        self.lease_seconds = lease_seconds
        self.holder = uuid.uuid4().hex

    async def sweep(self, now: datetime) -> int:
        """Expire what has lapsed by `now` (at most batches * batch_size); 0 when another holds
        the lease."""
        if not await take_lease(SWEEP_LEASE, self.holder, now=now, seconds=self.lease_seconds):
            return 0
        total = 0
        try:
            for _ in range(self.batches):
                changed = await expire_batch(now=now, batch_size=self.batch_size)
                total += changed
                if changed < self.batch_size:
                    break
        finally:
            await release_lease(SWEEP_LEASE, self.holder, now=now)
        return total
