"""Invitation change events for live updates (GraphQL subscriptions).

Every write that changes an invitation's status or delivery state calls `publish` after its
transaction committed, with ids only. On SQLite the event goes straight to this process's broker
(several processes on one SQLite file cannot share events). On PostgreSQL it goes out as a NOTIFY,
and every serving process LISTENs (events.postgres), its own process included. A hot path that
changes one row per statement (the mailer) may instead fold the NOTIFY into that statement
(`postgres.notifying`): PostgreSQL delivers it at commit, so "after commit" still holds.

A package of its own rather than a module of models/: both models/ and mailer/ publish, the schema
subscribes, and the PostgreSQL side owns a connection outside Tortoise.

Publishing never fails a write: the write has committed; a lost event is logged and forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager

from tortoise import connections

from events import postgres
from events.broker import BROKER, Broker, Change, Subscriber

__all__ = ["BROKER", "Broker", "Change", "Subscriber", "changed", "publish", "running"]

logger = logging.getLogger("invitations.events")


async def publish(changes: Iterable[Change]) -> None:
    """Tell subscribers these invitations changed; call it after the transaction committed."""
    batch = list(changes)
    if not batch:
        return
    try:
        if connections.get("default").capabilities.dialect == "postgres":
            await postgres.notify(batch)
        else:
            BROKER.deliver(batch)
    except Exception:  # the write already committed: losing a live update must not undo it
        logger.exception("could not publish %d invitation changes", len(batch))


async def changed(invitation_id: int, inviter_id: int | None) -> None:
    """`publish` for one invitation."""
    await publish([Change(invitation_id, inviter_id)])


@asynccontextmanager
async def running(database_url: str) -> AsyncIterator[None]:
    """What a serving process needs to receive events: on PostgreSQL, its LISTEN connection."""
    async with AsyncExitStack() as stack:
        if not database_url.startswith("sqlite://"):
            await stack.enter_async_context(postgres.listening(database_url, BROKER))
        yield
