"""Live updates: the invitation subscriptions, over graphql-transport-ws on /graphql.

Each subscription listens to the process's broker (events), which carries ids only, and loads for
every change what its subscriber may see: a customer only their own invitations, an admin the rows
their grid filter admits (the grid's own SQL, so filtering has one code path). A state already
sent for an invitation is not sent again.

The connection's token is checked again before each update and, while nothing happens, every
`subscription_token_check_seconds`: an expired or revoked token (or an admin who lost the
permission) closes the socket with 4403, the protocol's Forbidden. A subscriber whose queue fills
up gets a SLOW_CONSUMER error and its subscription ends (the broker keeps no backlog).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Annotated

import strawberry
from starlette.websockets import WebSocket

import events
from domain import grid, invitations, service_keys
from domain.clock import utcnow
from domain.errors import DomainError
from domain.tokens import Principal, authenticate_digest
from models import invitation as m
from models.accounts import Permission
from schema.context import Context, Info
from schema.errors import RANGE_NAMES, BadRequest, SlowConsumer
from schema.grid import InvitationFilter
from schema.invitation import Invitation
from schema.loaders import Loaders

FORBIDDEN = 4403
# How many invitations' last sent state a subscription remembers to skip repeats.
REMEMBERED = 1000

Visible = Callable[[events.Change], Awaitable[m.Invitation | None]]
State = Callable[[m.Invitation], tuple[object, ...]]


def _customer_state(row: m.Invitation) -> tuple[object, ...]:
    """What a customer can read of an invitation: its delivery is the admin's business."""
    return (row.status, row.email, row.message, row.sent_at, row.accepted_at, row.expires_at)


def _admin_state(row: m.Invitation) -> tuple[object, ...]:
    return (
        *_customer_state(row),
        row.delivery_state,
        row.attempts,
        row.last_error,
        row.next_attempt_at,
        row.message_id,
        row.invitee_id,
        row.updated_at,
    )


async def my_invitation_updates(info: Info) -> AsyncGenerator[Invitation, None]:
    customer = info.context.require_customer()

    async def visible(change: events.Change) -> m.Invitation | None:
        if change.inviter_id != customer.id:
            return None  # another customer's: not even loaded
        return await invitations.own_invitation(
            inviter_id=customer.id, invitation_id=change.invitation_id
        )

    async for row in _updates(info.context, visible, _customer_state, permission=None):
        yield Invitation.from_model(row)


async def invitation_updates(
    info: Info,
    filter: Annotated[
        InvitationFilter | None,
        strawberry.argument(description="Only changes of invitations this grid filter admits."),
    ] = None,
) -> AsyncGenerator[Invitation, None]:
    try:
        where = filter.to_model() if filter else grid.GridFilter()
        where.condition(utcnow())  # a bad filter is refused now, not at the first change
    except DomainError as error:
        raise BadRequest.from_domain(error, names=RANGE_NAMES) from None

    async def visible(change: events.Change) -> m.Invitation | None:
        return await grid.grid_row(where=where, invitation_id=change.invitation_id, now=utcnow())

    async for row in _updates(
        info.context, visible, _admin_state, permission=Permission.INVITATIONS
    ):
        yield Invitation.from_model(row)


async def _updates(
    ctx: Context, visible: Visible, state: State, *, permission: Permission | None
) -> AsyncGenerator[m.Invitation, None]:
    settings = ctx.settings
    loop = asyncio.get_running_loop()
    sent: OrderedDict[int, tuple[object, ...]] = OrderedDict()
    with events.BROKER.subscription(settings.subscription_queue_size) as subscriber:
        checked_at = loop.time()
        while True:
            wait = checked_at + settings.subscription_token_check_seconds - loop.time()
            change = await subscriber.next(timeout=max(wait, 0.0))
            if subscriber.overflowed:
                raise SlowConsumer(
                    "Updates arrived faster than this connection read them: the subscription "
                    "ended. Re-read the list, then subscribe again."
                )
            row = await visible(change) if change is not None else None
            due = loop.time() - checked_at >= settings.subscription_token_check_seconds
            if row is None and not due:
                continue
            await require_still_allowed(ctx, permission)
            checked_at = loop.time()
            if row is None or not _is_new(sent, row.id, state(row)):
                continue
            ctx.loaders = Loaders()  # one connection, many updates: never a stale relation
            yield row


def _is_new(
    sent: OrderedDict[int, tuple[object, ...]], row_id: int, state: tuple[object, ...]
) -> bool:
    """Whether `state` differs from the last one sent for the invitation; remembers it."""
    if sent.get(row_id) == state:
        return False
    sent[row_id] = state
    sent.move_to_end(row_id)
    if len(sent) > REMEMBERED:
        sent.popitem(last=False)
    return True


async def require_still_allowed(ctx: Context, permission: Permission | None) -> None:
    """Return when the connection's token still signs its principal in (with `permission`);
    otherwise close the socket with 4403, which ends every operation of the connection."""
    if not await _still_allowed(ctx, permission):
        await _close_forbidden(ctx)


async def _still_allowed(ctx: Context, permission: Permission | None) -> bool:
    """Whether the connection's token still signs the same principal in (with `permission`)."""
    if ctx.principal is None:
        return False
    if ctx.principal.from_provider:
        # A provider's JWT: valid until its expiry, with the permissions it was issued with.
        expires_at = ctx.principal.expires_at
        principal: Principal | None = (
            ctx.principal if expires_at is not None and expires_at > utcnow() else None
        )
    elif ctx.principal.service:
        principal = await service_keys.authenticate_digest(ctx.principal.token_hash)
    else:
        principal = await authenticate_digest(ctx.principal.token_hash)
    if principal is None:
        return False
    if permission is not None and (
        principal.admin is None or permission.value not in principal.admin.permissions
    ):
        return False
    ctx.principal = principal
    return True


async def _close_forbidden(ctx: Context) -> None:
    """Close the socket with 4403; the handler then ends every operation of the connection."""
    websocket = ctx.request
    assert isinstance(websocket, WebSocket), "subscriptions run over WebSocket only"
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code=FORBIDDEN, reason="Forbidden: the token expired or was revoked")
    # Sending "complete" now would write to a closed socket: wait to be cancelled instead.
    await asyncio.Event().wait()
