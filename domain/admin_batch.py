"""Admin actions on many invitations at once: discarding and resending (SPEC §2, §6).

Each id is judged on its own and each invitation changes atomically, by a conditional UPDATE that
names the state it was read in; an id that is skipped is reported at ["ids", "<index>"].

The rules for a list of ids (`discard_rows`, `resend_rows`) are shared with bulk operations
(domain.bulk), which run them inside one transaction per chunk: they write, and collect the events
to publish (`Judged`), and whoever holds the transaction announces them after it committed.
Discarding is set-based (one conditional UPDATE per chunk of ids); resending goes row by row.

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
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

import events
from domain import mail_queue, sql, tracing, webhooks
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
from domain.invitations import effective_status, expiry, open_at, open_sql
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


@dataclass(slots=True)
class Judged:
    """What the per-id rules did to a list of invitation ids: each id is in `done` or `refused`.

    `changes` are the live-update events and `queued` whether mail was queued: the caller
    publishes them (`announce`) once the transaction around the rules committed.
    """

    done: list[int] = field(default_factory=list)
    refused: dict[int, DomainError] = field(default_factory=dict)
    changes: list[events.Change] = field(default_factory=list)
    queued: bool = False


async def announce(judged: Judged) -> None:
    """Publish what `judged` changed; call it after its transaction committed."""
    await events.publish(judged.changes)
    if judged.queued:
        mail_queue.mail_queued()


def _outcome(
    wanted: dict[int, int], refused: dict[int, DomainError], judged: Judged
) -> dict[int, int]:
    """The input indexes done; the refused ones go into `refused` at ["ids", "<index>"]."""
    done: dict[int, int] = {}
    for index, row_id in wanted.items():
        if row_id in judged.refused:
            refused[index] = judged.refused[row_id].at("ids", index)
        else:
            done[index] = row_id
    return done


async def discard(*, admin: AdminUser, ids: Sequence[str]) -> Outcome:
    """Turn the NOT_SENT/SENT ones into CANCELED; report each skipped id at ["ids", "<index>"]."""
    wanted, refused = _check_ids(ids)
    judged = Judged()
    now = utcnow()
    for chunk in chunks(list(wanted.values())):
        async with in_transaction():
            await discard_rows(chunk, actor=admin_actor(admin), now=now, into=judged)
        await announce(judged)
        judged.changes.clear()
    done = _outcome(wanted, refused, judged)
    return Outcome(invitations=await _in_order(done), errors=[refused[i] for i in sorted(refused)])


# Fixed SQL; `ids` is a list of `?` marks, the open rule is domain.invitations' own.
_DISCARD = (
    "UPDATE invitation SET status = 'CANCELED', updated_at = ? WHERE id IN ({ids})"
    f" AND {open_sql('?')} RETURNING id, inviter_id"
)
_DISCARD_HISTORY = (
    "INSERT INTO invitation_status_change (invitation_id, status, at, actor)"
    " SELECT id, 'CANCELED', ?, ? FROM invitation WHERE id IN ({ids}) ORDER BY id"
)


async def discard_rows(ids: Sequence[int], *, actor: str, now: datetime, into: Judged) -> None:
    """The discard rules for these (distinct) ids, at most `CHUNK`, inside the caller's
    transaction: the open, unexpired ones become CANCELED with a history row by `actor`; each
    other id is refused (NOT_FOUND, or INVALID_STATUS naming the status it has)."""
    db = sql.client()
    at = sql.moment(db, now)
    changed = await sql.rows(db, _DISCARD.format(ids=sql.marks(len(ids))), [at, *ids, at])
    if changed:
        ids_changed = [row["id"] for row in changed]
        history = _DISCARD_HISTORY.format(ids=sql.marks(len(ids_changed)))
        await sql.rows(db, history, [at, actor, *ids_changed])
        await webhooks.status_changed(InvitationStatus.CANCELED, ids_changed)
    done = {int(row["id"]) for row in changed}
    into.changes += [events.Change(int(r["id"]), r["inviter_id"]) for r in changed]
    rest = await _rows(row_id for row_id in ids if row_id not in done)
    for row_id in ids:
        if row_id in done:
            into.done.append(row_id)
        elif (row := rest.get(row_id)) is None:
            into.refused[row_id] = NotFound("No such invitation.")
        else:
            status = effective_status(row, now)
            into.refused[row_id] = InvalidStatus(
                f"Only NOT_SENT or SENT invitations can be discarded; this one is {status.value}."
            )


async def _cancel(
    row: Invitation, actor: str, now: datetime, *, open_only: bool, changes: list[events.Change]
) -> bool:
    """CANCELED, with history, if the row is open (and, with open_only, not expired)."""
    condition = open_at(now) if open_only else Q(status__in=list(OPEN_STATUSES))
    query = Invitation.filter(condition, id=row.id)
    return await change_status(
        query, row, InvitationStatus.CANCELED, actor=actor, now=now, changes=changes
    )


async def resend(*, admin: AdminUser, ids: Sequence[str]) -> Outcome:
    """Queue each invitation again as a new send (new Message-ID, same link); CANCELED and
    EXPIRED ones are reopened. An address that has become a customer of the website is discarded
    and reported (CUSTOMER_EXISTS)."""
    wanted, refused = _check_ids(ids)
    judged = Judged()
    # Each invitation changes in its own transaction (see resend_rows), as before bulk chunks.
    await resend_rows(list(wanted.values()), actor=admin_actor(admin), now=utcnow(), into=judged)
    await announce(judged)
    done = _outcome(wanted, refused, judged)
    return Outcome(invitations=await _in_order(done), errors=[refused[i] for i in sorted(refused)])


async def resend_rows(ids: Sequence[int], *, actor: str, now: datetime, into: Judged) -> None:
    """The resend rules for these (distinct) ids; each invitation changes atomically (a nested
    transaction inside a caller's), and each refused id gets its reason."""
    rows = await _rows(ids)
    customers = await _customers_of(rows.values())
    lifetimes: dict[int, int | None] = {}
    for row_id in ids:
        row = rows.get(row_id)
        if row is None:
            into.refused[row_id] = NotFound("No such invitation.")
            continue
        try:
            _check_resendable(row, now)
            if (row.website_id, row.email_key) in customers:
                await _cancel(row, actor, now, open_only=False, changes=into.changes)
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
            await _requeue(row, actor, now, lifetimes[row.store_view_id], into.changes)
        except DomainError as error:
            into.refused[row_id] = error
        else:
            into.done.append(row_id)
            into.queued = True


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
    row: Invitation,
    actor: str,
    now: datetime,
    lifetime_days: int | None,
    changes: list[events.Change],
) -> None:
    """One conditional UPDATE that starts a new send of `row` as it was loaded."""
    status = effective_status(row, now)
    reopen = status not in OPEN_STATUSES
    if reopen:
        await expire_lapsed(row.website_id, [row.email_key], now, except_id=row.id, changes=changes)
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
                traceparent=tracing.current_traceparent(),
                expires_at=expiry(now, lifetime_days),
                updated_at=now,
            )
            if changed and new_status is not row.status:
                await InvitationStatusChange.create(
                    invitation_id=row.id, status=new_status, at=now, actor=actor
                )
                await webhooks.status_changed(new_status, [row.id])
    except IntegrityError:
        raise AlreadyInvited("An open invitation to this address exists on this website.") from None
    if not changed:
        raise InvalidStatus("The invitation changed meanwhile: try again.")
    changes.append(events.Change(row.id, row.inviter_id))
