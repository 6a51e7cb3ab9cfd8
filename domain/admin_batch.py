"""Admin actions on many invitations at once: discarding and resending (SPEC §2, §6).

Each id is judged on its own and each invitation changes atomically, by a conditional UPDATE that
names the state it was read in; an id that is skipped is reported at ["ids", "<index>"].

Decisions where the spec is silent:
- Discarding an open invitation whose lifetime has run out is INVALID_STATUS: it reads EXPIRED,
  and only NOT_SENT/SENT ones are discarded (resend reopens it instead).
- A repeated id is DUPLICATE_INPUT at its second index; a malformed id is NOT_FOUND.
- Resending refuses an open invitation already QUEUED (it is on its way) and one being sent
  (SENDING). Reopening a CANCELED/EXPIRED invitation while another open one to the address exists
  on the website is ALREADY_INVITED, as creating it would be.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

import events
from domain import mail_queue
from domain.admin_invitations import Outcome, admin_actor, chunks, expire_lapsed, not_leased
from domain.clock import utcnow
from domain.errors import (
    AlreadyInvited,
    CustomerExists,
    DomainError,
    DuplicateInput,
    InvalidInput,
    InvalidStatus,
    NotFound,
)
from domain.ids import id_or_none
from domain.invitation_settings import for_store_view
from domain.invitations import effective_status, expiry, open_at
from domain.status_changes import change_status
from models.accounts import AdminUser, Customer
from models.invitation import (
    OPEN_STATUSES,
    DeliveryState,
    Invitation,
    InvitationStatus,
    InvitationStatusChange,
)
from models.store import StoreView

MAX_IDS = 1_000


def _check_ids(ids: Sequence[str]) -> tuple[dict[int, int], dict[int, DomainError]]:
    """The row id at each input index, and the refused indexes (malformed or repeated ids)."""
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"At most {MAX_IDS} ids at once.", field=("ids",))
    wanted: dict[int, int] = {}
    refused: dict[int, DomainError] = {}
    seen: set[int] = set()
    for index, raw in enumerate(ids):
        row_id = id_or_none(raw)
        if row_id is None:
            refused[index] = NotFound("No such invitation.").at("ids", index)
        elif row_id in seen:
            refused[index] = DuplicateInput("This id appears more than once.").at("ids", index)
        else:
            seen.add(row_id)
            wanted[index] = row_id
    return wanted, refused


async def _rows(ids: Iterable[int]) -> dict[int, Invitation]:
    return {row.id: row for row in await Invitation.filter(id__in=list(ids))}


async def _in_order(done: dict[int, int]) -> list[Invitation]:
    rows = await _rows(done.values())
    return [rows[done[index]] for index in sorted(done)]


async def discard(*, admin: AdminUser, ids: Sequence[str]) -> Outcome:
    """Turn the NOT_SENT/SENT ones into CANCELED; report each skipped id at ["ids", "<index>"]."""
    wanted, refused = _check_ids(ids)
    rows = await _rows(wanted.values())
    now = utcnow()
    done: dict[int, int] = {}
    for index, row_id in wanted.items():
        row = rows.get(row_id)
        if row is None:
            refused[index] = NotFound("No such invitation.").at("ids", index)
        elif await _cancel(row, admin_actor(admin), now, open_only=True):
            done[index] = row_id
        else:
            status = effective_status(await Invitation.get(id=row_id), now)
            refused[index] = InvalidStatus(
                f"Only NOT_SENT or SENT invitations can be discarded; this one is {status.value}."
            ).at("ids", index)
    return Outcome(invitations=await _in_order(done), errors=[refused[i] for i in sorted(refused)])


async def _cancel(row: Invitation, actor: str, now: datetime, *, open_only: bool) -> bool:
    """CANCELED, with history, if the row is open (and, with open_only, not expired)."""
    condition = open_at(now) if open_only else Q(status__in=list(OPEN_STATUSES))
    query = Invitation.filter(condition, id=row.id)
    return await change_status(query, row, InvitationStatus.CANCELED, actor=actor, now=now)


async def resend(*, admin: AdminUser, ids: Sequence[str]) -> Outcome:
    """Queue each invitation again as a new send (new Message-ID, same link); CANCELED and
    EXPIRED ones are reopened. An address that has become a customer of the website is discarded
    and reported (CUSTOMER_EXISTS)."""
    wanted, refused = _check_ids(ids)
    rows = await _rows(wanted.values())
    now = utcnow()
    customers = await _customers_of(rows.values())
    lifetimes: dict[int, int | None] = {}
    done: dict[int, int] = {}
    for index, row_id in wanted.items():
        at = ("ids", index)
        row = rows.get(row_id)
        if row is None:
            refused[index] = NotFound("No such invitation.").at(*at)
            continue
        try:
            _check_resendable(row, now)
            if (row.website_id, row.email_key) in customers:
                await _cancel(row, admin_actor(admin), now, open_only=False)
                raise CustomerExists(
                    "The address now belongs to a customer of this website: discarded."
                )
            if effective_status(row, now) in OPEN_STATUSES and (
                row.delivery_state is DeliveryState.QUEUED
            ):
                raise InvalidStatus("This invitation is already queued to be sent.")
            if row.store_view_id not in lifetimes:
                store = await StoreView.get(id=row.store_view_id)
                lifetimes[row.store_view_id] = (await for_store_view(store)).lifetime_days
            await _requeue(row, admin, now, lifetimes[row.store_view_id])
        except DomainError as error:
            refused[index] = error.at(*at)
        else:
            done[index] = row_id
    if done:
        mail_queue.mail_queued()
    return Outcome(invitations=await _in_order(done), errors=[refused[i] for i in sorted(refused)])


def _check_resendable(row: Invitation, now: datetime) -> None:
    if effective_status(row, now) is InvitationStatus.ACCEPTED:
        raise InvalidStatus("An accepted invitation cannot be sent again.")
    if row.delivery_state is DeliveryState.SENDING:
        raise InvalidStatus("The mailer is sending this invitation right now.")


async def _customers_of(rows: Iterable[Invitation]) -> set[tuple[int, str]]:
    keys = sorted({row.email_key for row in rows})
    found: set[tuple[int, str]] = set()
    for chunk in chunks(keys):
        pairs = await Customer.filter(email_key__in=chunk).values_list("website_id", "email_key")
        found.update((int(website), str(key)) for website, key in pairs)
    return found


async def _requeue(
    row: Invitation, admin: AdminUser, now: datetime, lifetime_days: int | None
) -> None:
    """One conditional UPDATE that starts a new send of `row` as it was loaded."""
    status = effective_status(row, now)
    reopen = status not in OPEN_STATUSES
    if reopen:
        await expire_lapsed(row.website_id, [row.email_key], now, except_id=row.id)
        others = Invitation.filter(
            open_at(now), website_id=row.website_id, email_key=row.email_key
        ).exclude(id=row.id)
        if await others.exists():
            raise AlreadyInvited("An open invitation to this address exists on this website.")
    new_status = InvitationStatus.NOT_SENT if reopen else row.status
    try:
        async with in_transaction():
            changed = await Invitation.filter(
                not_leased(now),
                id=row.id,
                status=row.status,
                delivery_state=row.delivery_state,
                send_number=row.send_number,
            ).update(
                status=new_status,
                delivery_state=DeliveryState.QUEUED,
                attempts=0,
                last_error=None,
                next_attempt_at=None,
                message_id=None,
                lease_id=None,
                lease_expires_at=None,
                send_number=F("send_number") + 1,
                expires_at=expiry(now, lifetime_days),
                updated_at=now,
            )
            if changed and new_status is not row.status:
                await InvitationStatusChange.create(
                    invitation_id=row.id, status=new_status, at=now, actor=admin_actor(admin)
                )
    except IntegrityError:
        raise AlreadyInvited("An open invitation to this address exists on this website.") from None
    if not changed:
        raise InvalidStatus("The invitation changed meanwhile: try again.")
    await events.changed(row.id, row.inviter_id)
