"""Admin invitations: creating many at once and editing one (SPEC §3, §6); the helpers that
discarding and resending (models.admin_batch) share.

Every status change is a conditional UPDATE that names the status it expects, so an admin, a
customer, the mailer and an accepting invitee never both win; the loser gets a user error. The
partial unique index `uniq_open_admin_invitation` (migration 0002) keeps two admins from opening
two invitations to one address on one website at once.

Decisions where the spec is silent:
- `updateInvitation` adds no history row: the history lists changes of status, and an edit keeps
  the status NOT_SENT (`updated_at` records the edit). It is refused while the mailer holds the row
  (SENDING, or a live lease): the worker would send the old address.
- An admin invitation is not bound by the storefront's "allow custom message" setting (Magento's
  setting speaks of customers); the message is checked like a customer's otherwise. With the whole
  feature off (`enabled`), creating is refused (INVITATIONS_DISABLED).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

import events
from domain import mail_queue, webhooks
from domain.clock import utcnow
from domain.errors import (
    AlreadyInvited,
    CustomerExists,
    DomainError,
    InvalidInput,
    InvalidStatus,
    InvitationsDisabled,
    NotFound,
    TooManyRecipients,
)
from domain.ids import id_or_none, parse_id
from domain.invitation_settings import for_store_view
from domain.invitations import (
    clean_message,
    effective_status,
    expiry,
    judge,
    lapsed_at,
    new_invitation,
    not_expired,
    open_at,
    parse_addresses,
)
from domain.status_changes import change_status
from domain.validation import email_key, normalize_email
from models.accounts import AdminUser, Customer
from models.invitation import (
    SYSTEM_ACTOR,
    DeliveryState,
    Invitation,
    InvitationStatus,
    InvitationStatusChange,
)
from models.store import CustomerGroup, StoreView
from models.webhooks import WebhookEventType

MAX_ADDRESSES = 10_000
# Rows per INSERT and values per IN (...): far below SQLite's and PostgreSQL's parameter limits.
CHUNK = 500


def admin_actor(admin: AdminUser) -> str:
    # A service key's user is named `service:<name>` (domain/service_keys.py): that is its actor.
    if admin.username.startswith("service:"):
        return admin.username
    return f"admin:{admin.username}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The invitations changed or created, in input order, and one error per refused item."""

    invitations: list[Invitation]
    errors: list[DomainError]


def chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def not_leased(now: datetime) -> Q:
    """No mailer worker holds the row (or its lease has run out)."""
    return Q(lease_id=None) | Q(lease_expires_at__lte=now)


async def expire_lapsed(
    website_id: int,
    keys: Sequence[str],
    now: datetime,
    *,
    except_id: int | None = None,
    changes: list[events.Change] | None = None,
) -> None:
    """Store EXPIRED (with history) on open invitations to these addresses whose lifetime ran out,
    so the partial unique index lets the address be invited again. With `changes`, the events
    go there for the caller to publish (see status_changes.change_status)."""
    lapsed: list[tuple[int, int | None]] = []
    for chunk in chunks(keys):
        query = Invitation.filter(lapsed_at(now), website_id=website_id, email_key__in=chunk)
        if except_id is not None:
            query = query.exclude(id=except_id)
        found: list[Any] = await query.values_list("id", "inviter_id")
        lapsed += [(int(row_id), inviter_id) for row_id, inviter_id in found]
    for row_id, inviter_id in lapsed:
        await change_status(
            Invitation.filter(lapsed_at(now), id=row_id),
            (row_id, inviter_id),
            InvitationStatus.EXPIRED,
            actor=SYSTEM_ACTOR,
            now=now,
            changes=changes,
        )


async def open_keys(website_id: int, keys: Sequence[str], now: datetime) -> set[str]:
    """The addresses with an open, unexpired invitation on the website (any inviter)."""
    found: set[str] = set()
    for chunk in chunks(keys):
        rows = await Invitation.filter(
            open_at(now), website_id=website_id, email_key__in=chunk
        ).values_list("email_key", flat=True)
        found.update(str(key) for key in rows)
    return found


async def _customer_keys(website_id: int, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(keys):
        rows = await Customer.filter(website_id=website_id, email_key__in=chunk).values_list(
            "email_key", flat=True
        )
        found.update(str(key) for key in rows)
    return found


# ---------------------------------------------------------------- creating


async def create(
    *,
    admin: AdminUser,
    emails: Sequence[str],
    message: str | None,
    store_view_id: str,
    invitee_group_id: str | None,
) -> Outcome:
    """Invite addresses from a store view ("Send From"); valid ones are created even when others
    are refused. The rows and their history are inserted in bulk, in one transaction."""
    if len(emails) > MAX_ADDRESSES:
        raise TooManyRecipients(f"At most {MAX_ADDRESSES} addresses at once.").at("emails")
    store = await _store_view(store_view_id)
    group_id = await _group(invitee_group_id)
    settings = await for_store_view(store)
    if not settings.enabled:
        raise InvitationsDisabled("The invitations functionality is switched off.")
    message = clean_message(message)
    candidates, refused = parse_addresses(emails)
    now = utcnow()
    keys = [c.key for c in candidates]
    await expire_lapsed(store.website_id, keys, now)
    customers = await _customer_keys(store.website_id, keys)
    invited = await open_keys(store.website_id, keys, now)
    open_elsewhere = partial(
        AlreadyInvited, "An open invitation to this address exists on this website."
    )
    fresh = judge(candidates, refused, (customers, CustomerExists), (invited, open_elsewhere))
    rows = {
        c.index: new_invitation(
            c,
            store=store,
            message=message,
            invitee_group_id=group_id,
            created_by_admin_id=admin.id,
            now=now,
            expires_at=expiry(now, settings.lifetime_days),
        )
        for c in fresh
    }
    try:
        created = await _insert(list(rows.values()), actor=admin_actor(admin), now=now)
    except IntegrityError:
        # Another admin opened an invitation to one of these addresses meanwhile: the unique index
        # decided. Insert them one by one to tell which.
        created = []
        for index, row in rows.items():
            try:
                created += await _insert([row], actor=admin_actor(admin), now=now)
            except IntegrityError:
                refused[index] = AlreadyInvited(
                    "An open invitation to this address exists on this website."
                ).at("emails", index)
    if created:
        mail_queue.mail_queued()
        await events.publish(events.Change(row.id, row.inviter_id) for row in created)
    by_nonce = {row.code_nonce: row for row in created}
    return Outcome(
        invitations=[
            by_nonce[row.code_nonce]
            for _, row in sorted(rows.items())
            if row.code_nonce in by_nonce
        ],
        errors=[refused[i] for i in sorted(refused)],
    )


async def _store_view(raw_id: str) -> StoreView:
    field = ("store_view_id",)
    store = await StoreView.get_or_none(id=parse_id(raw_id, field=field))
    if store is None:
        raise NotFound("No such store view.", field=field)
    return store


async def _group(raw_id: str | None) -> int | None:
    if raw_id is None:
        return None
    field = ("invitee_group_id",)
    group_id = parse_id(raw_id, field=field)
    if not await CustomerGroup.filter(id=group_id).exists():
        raise NotFound("No such customer group.", field=field)
    return group_id


async def _insert(rows: list[Invitation], *, actor: str, now: datetime) -> list[Invitation]:
    """Insert the rows and their first history rows in one transaction; the stored rows."""
    if not rows:
        return []
    created: list[Invitation] = []
    async with in_transaction():
        for chunk in chunks(rows):
            await Invitation.bulk_create(chunk)
            created += await Invitation.filter(code_nonce__in=[row.code_nonce for row in chunk])
        await InvitationStatusChange.bulk_create(
            [
                InvitationStatusChange(
                    invitation_id=row.id, status=InvitationStatus.NOT_SENT, at=now, actor=actor
                )
                for row in created
            ],
            batch_size=CHUNK,
        )
        await webhooks.record(WebhookEventType.INVITATION_CREATED, [row.id for row in created])
    return created


# ---------------------------------------------------------------- editing


async def update(
    *,
    admin: AdminUser,
    invitation_id: str,
    email: str | None,
    message: str | None,
    change_message: bool,
) -> Invitation:
    """Change the address and/or the message of a NOT_SENT invitation (see the module docstring)."""
    row = await _get(invitation_id)
    if email is None and not change_message:
        raise InvalidInput("Give an email or a message to change.", field=())
    now = utcnow()
    if effective_status(row, now) is not InvitationStatus.NOT_SENT:
        raise _not_editable(row, now)
    updates: dict[str, Any] = {"updated_at": now}
    if change_message:
        updates["message"] = clean_message(message)
    if email is not None:
        updates.update(await _new_address(row, email, now))
    try:
        changed = await Invitation.filter(
            not_expired(now),
            not_leased(now),
            id=row.id,
            status=InvitationStatus.NOT_SENT,
            delivery_state__in=[DeliveryState.QUEUED, DeliveryState.FAILED, DeliveryState.UNKNOWN],
        ).update(**updates)
    except IntegrityError:
        raise AlreadyInvited(
            "An open invitation to this address exists on this website.", field=("email",)
        ) from None
    if not changed:
        raise _not_editable(await Invitation.get(id=row.id), now)
    await events.changed(row.id, row.inviter_id)
    return await Invitation.get(id=row.id)


def _not_editable(row: Invitation, now: datetime) -> DomainError:
    status = effective_status(row, now)
    if status is InvitationStatus.NOT_SENT:
        return InvalidStatus("The mailer is sending this invitation right now: try again.").at(
            "invitation_id"
        )
    return InvalidStatus(
        f"Only a NOT_SENT invitation can be edited; this one is {status.value}."
    ).at("invitation_id")


async def _new_address(row: Invitation, raw: str, now: datetime) -> dict[str, str]:
    at = ("email",)
    try:
        normalised = normalize_email(raw)
    except DomainError as error:
        raise error.at(*at) from None
    key = email_key(normalised)
    if key == row.email_key:
        return {"email": normalised}
    if await Customer.filter(website_id=row.website_id, email_key=key).exists():
        raise CustomerExists().at(*at)
    await expire_lapsed(row.website_id, [key], now)
    if await open_keys(row.website_id, [key], now):
        raise AlreadyInvited("An open invitation to this address exists on this website.").at(*at)
    if (
        row.inviter_id is not None
        and await Invitation.filter(inviter_id=row.inviter_id, email_key=key).exists()
    ):
        raise AlreadyInvited("The inviter has already invited this address.").at(*at)
    return {"email": normalised, "email_key": key}


async def find(invitation_id: str) -> Invitation | None:
    """The invitation with this id, None when there is none; InvalidInput for a malformed id."""
    return await Invitation.get_or_none(id=parse_id(invitation_id, field=("invitation_id",)))


async def _get(invitation_id: str) -> Invitation:
    row_id = id_or_none(invitation_id)
    row = await Invitation.get_or_none(id=row_id) if row_id is not None else None
    if row is None:
        raise NotFound("No such invitation.").at("invitation_id")
    return row
