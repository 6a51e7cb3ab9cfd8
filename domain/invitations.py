"""Customer invitations: sending, listing, canceling and looking one up by its code.

Each function owns its transactions. The one-invitation-per-(inviter, address) rule and the
status changes are decided by the database (a unique constraint, conditional UPDATEs), so two
concurrent requests never both win.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

import events
from domain import codes, mail_queue, tracing, webhooks
from domain.clock import utcnow
from domain.errors import (
    AlreadyInvited,
    CustomerExists,
    DomainError,
    DuplicateInput,
    InvalidInput,
    InvalidStatus,
    InvitationsDisabled,
    MessageNotAllowed,
    MessageTooLong,
    NotFound,
    QuotaExceeded,
    TooManyRecipients,
)
from domain.ids import id_or_none
from domain.invitation_settings import InvitationSettings, ReferredCustomerGroup, for_store_view
from domain.pagination import Page, fetch_page
from domain.status_changes import change_status
from domain.validation import email_key, normalize_email
from models.accounts import Customer
from models.invitation import (
    OPEN_STATUSES,
    DeliveryState,
    Invitation,
    InvitationStatus,
    InvitationStatusChange,
)
from models.store import StoreView
from models.webhooks import WebhookEventType

MAX_MESSAGE_LENGTH = 2000
QUOTA_WINDOW = timedelta(hours=24)
MAX_LIFETIME_DAYS = 36_500
# Bidi embeddings, overrides and isolates: they make a message read differently from what it says.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def customer_actor(customer_id: int) -> str:
    return f"customer:{customer_id}"


def effective_status(row: Invitation, now: datetime | None = None) -> InvitationStatus:
    """The status a reader sees: an open invitation past its expiry reads EXPIRED."""
    if row.status in OPEN_STATUSES and is_past(row.expires_at, now):
        return InvitationStatus.EXPIRED
    return row.status


def is_past(moment: datetime | None, now: datetime | None = None) -> bool:
    return moment is not None and moment <= (now or utcnow())


def not_expired(now: datetime) -> Q:
    return Q(expires_at=None) | Q(expires_at__gt=now)


# "Open": an open status and an expiry not yet passed (what effective_status reads as NOT_SENT or
# SENT). The rule is spelled here once for each reader: the ORM's conditions and raw SQL's.


def open_at(now: datetime) -> Q:
    """Invitations open at `now`."""
    return Q(status__in=list(OPEN_STATUSES)) & not_expired(now)


def lapsed_at(now: datetime) -> Q:
    """Invitations stored open whose expiry has passed at `now` (they read EXPIRED)."""
    return Q(status__in=list(OPEN_STATUSES), expires_at__lte=now)


def open_sql(now: str, *, table: str | None = None) -> str:
    """`open_at` as an SQL condition on the columns of `table` (or unqualified ones), for raw
    statements; `now` is the SQL expression of the clock."""
    column = f"{table}." if table else ""
    statuses = ", ".join(f"'{status.value}'" for status in OPEN_STATUSES)
    return (
        f"{column}status IN ({statuses})"
        f" AND ({column}expires_at IS NULL OR {column}expires_at > {now})"
    )


# ---------------------------------------------------------------- sending


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """The invitations created, in input order, and one error per refused address."""

    invitations: list[Invitation]
    errors: list[DomainError]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A well-formed address of the input, normalised, with its index there."""

    index: int
    email: str
    key: str


async def send(
    *, inviter: Customer, store: StoreView, emails: Sequence[str], message: str | None
) -> SendOutcome:
    """Invite each address on behalf of a customer (SPEC §3).

    A refusal of the whole request raises; otherwise each address is judged on its own and the
    valid ones are created, each in its own transaction, even when others are refused.
    """
    return await create_planned(
        await plan_send(inviter=inviter, store=store, emails=emails, message=message)
    )


@dataclass(slots=True)
class SendPlan:
    """A judged request: the addresses to create and the ones refused so far.

    Between the judging and the inserts another request may invite the same address: the unique
    constraint then decides, and `create_planned` reports it as ALREADY_INVITED.
    """

    inviter: Customer
    store: StoreView
    settings: InvitationSettings
    message: str | None
    candidates: list[Candidate]
    refused: dict[int, DomainError]


async def plan_send(
    *, inviter: Customer, store: StoreView, emails: Sequence[str], message: str | None
) -> SendPlan:
    """The checks of `send`: the request as a whole, each address, the daily quota."""
    if store.website_id != inviter.website_id:
        # A customer belongs to one website; its storefronts are the only ones they invite from.
        raise InvitationsDisabled("Invite from a store view of the website you belong to.")
    settings = await for_store_view(store)
    message = _check_request(settings, emails, message)
    candidates, refused = await _judge_addresses(inviter, store, emails)
    await _check_quota(settings, inviter, len(candidates))
    return SendPlan(inviter, store, settings, message, candidates, refused)


async def create_planned(plan: SendPlan) -> SendOutcome:
    """The inserts of `send`, each address in its own transaction."""
    inviter, settings, refused = plan.inviter, plan.settings, dict(plan.refused)
    now = utcnow()
    expires_at = expiry(now, settings.lifetime_days)
    group_id = (
        inviter.group_id
        if settings.referred_customer_group is ReferredCustomerGroup.SAME_AS_INVITER
        else None
    )
    created: dict[int, Invitation] = {}
    for candidate in plan.candidates:
        try:
            created[candidate.index] = await _create(
                inviter,
                plan.store,
                candidate,
                plan.message,
                group_id=group_id,
                now=now,
                expires_at=expires_at,
            )
        except IntegrityError:
            # A concurrent request invited the same address first: the unique constraint decided.
            refused[candidate.index] = AlreadyInvited().at("emails", candidate.index)
    if created:
        mail_queue.mail_queued()
        await events.publish(events.Change(row.id, inviter.id) for row in created.values())
    return SendOutcome(
        invitations=[created[i] for i in sorted(created)],
        errors=[refused[i] for i in sorted(refused)],
    )


def expiry(created_at: datetime, lifetime_days: int | None) -> datetime | None:
    if lifetime_days is None:
        return None
    # A century is "never" for an invitation, and keeps absurd settings off the calendar's edge.
    return created_at + timedelta(days=min(lifetime_days, MAX_LIFETIME_DAYS))


def _check_request(
    settings: InvitationSettings, emails: Sequence[str], message: str | None
) -> str | None:
    """The whole-request refusals; returns the message to store (None when blank)."""
    if not settings.storefront_enabled:
        raise InvitationsDisabled()
    if len(emails) > settings.max_invitations_per_send:
        raise TooManyRecipients(
            f"At most {settings.max_invitations_per_send} addresses can be invited at once."
        ).at("emails")
    if message is None or not message.strip():
        return None
    if not settings.allow_custom_message:
        raise MessageNotAllowed().at("message")
    return clean_message(message)


def clean_message(message: str | None) -> str | None:
    """The message to store (None when blank), or MessageTooLong / InvalidInput at `message`."""
    if message is None or not message.strip():
        return None
    if len(message) > MAX_MESSAGE_LENGTH:
        raise MessageTooLong(f"The message is longer than {MAX_MESSAGE_LENGTH} characters.").at(
            "message"
        )
    if not is_printable_text(message):
        raise InvalidInput(
            "The message contains control characters or bidirectional overrides."
        ).at("message")
    return message


def is_printable_text(text: str) -> bool:
    """Plain text for an e-mail body: no control characters but line breaks and tabs, no
    surrogates (PostgreSQL cannot store them), no bidirectional overrides."""
    for ch in text:
        if ch in _ALLOWED_CONTROLS:
            continue
        if ch in _BIDI_CONTROLS or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            return False
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return False
    return True


def parse_addresses(emails: Sequence[str]) -> tuple[list[Candidate], dict[int, DomainError]]:
    """Well-formed, first-seen addresses; INVALID_EMAIL or DUPLICATE_INPUT for the others,
    by their index in the input (reported at ("emails", <index>))."""
    refused: dict[int, DomainError] = {}
    seen: set[str] = set()
    valid: list[Candidate] = []
    for index, raw in enumerate(emails):
        try:
            normalised = normalize_email(raw)
        except DomainError as error:
            refused[index] = error.at("emails", index)
            continue
        key = email_key(normalised)
        if key in seen:
            refused[index] = DuplicateInput().at("emails", index)
            continue
        seen.add(key)
        valid.append(Candidate(index, normalised, key))
    return valid, refused


async def _judge_addresses(
    inviter: Customer, store: StoreView, emails: Sequence[str]
) -> tuple[list[Candidate], dict[int, DomainError]]:
    """The addresses to create, and the refused ones by their index in the input."""
    valid, refused = parse_addresses(emails)
    if not valid:
        return [], refused
    keys = [c.key for c in valid]
    invited = {
        str(key)
        for key in await Invitation.filter(inviter_id=inviter.id, email_key__in=keys).values_list(
            "email_key", flat=True
        )
    }
    customers = {
        str(key)
        for key in await Customer.filter(
            website_id=store.website_id, email_key__in=keys
        ).values_list("email_key", flat=True)
    }
    return judge(valid, refused, (invited, AlreadyInvited), (customers, CustomerExists)), refused


# Addresses a refusal applies to, and the error it makes.
Refusal = tuple[Collection[str], Callable[[], DomainError]]


def judge(
    candidates: Sequence[Candidate], refused: dict[int, DomainError], *refusals: Refusal
) -> list[Candidate]:
    """The candidates no refusal applies to; each other one is entered in `refused` with the
    error of the first refusal that holds its address, at ("emails", <index>)."""
    fresh: list[Candidate] = []
    for candidate in candidates:
        make = next((make for keys, make in refusals if candidate.key in keys), None)
        if make is None:
            fresh.append(candidate)
        else:
            refused[candidate.index] = make().at("emails", candidate.index)
    return fresh


async def _check_quota(settings: InvitationSettings, inviter: Customer, wanted: int) -> None:
    """Invitations created in the last 24 hours, canceled ones included, count against the quota.

    Two concurrent requests may together pass it by a few: the quota is a brake, not a guarantee.
    """
    quota = settings.daily_quota_per_customer
    if quota is None or wanted == 0:
        return
    since = utcnow() - QUOTA_WINDOW
    used = await Invitation.filter(inviter_id=inviter.id, created_at__gt=since).count()
    if used + wanted > quota:
        left = max(quota - used, 0)
        raise QuotaExceeded(
            f"At most {quota} invitations per 24 hours; {left} can be sent now."
        ).at("emails")


async def _create(
    inviter: Customer,
    store: StoreView,
    candidate: Candidate,
    message: str | None,
    *,
    group_id: int | None,
    now: datetime,
    expires_at: datetime | None,
) -> Invitation:
    invitation = new_invitation(
        candidate,
        store=store,
        message=message,
        invitee_group_id=group_id,
        inviter_id=inviter.id,
        now=now,
        expires_at=expires_at,
    )
    async with in_transaction():
        await invitation.save(force_create=True)
        await InvitationStatusChange.create(
            invitation_id=invitation.id,
            status=InvitationStatus.NOT_SENT,
            at=now,
            actor=customer_actor(inviter.id),
        )
        await webhooks.record(WebhookEventType.INVITATION_CREATED, [invitation.id])
    return invitation


def new_invitation(
    candidate: Candidate,
    *,
    store: StoreView,
    message: str | None,
    invitee_group_id: int | None,
    now: datetime,
    expires_at: datetime | None,
    inviter_id: int | None = None,
    created_by_admin_id: int | None = None,
) -> Invitation:
    """A new NOT_SENT invitation to the address, queued for the mailer at once; not saved yet.

    A customer's has an inviter, an admin's the admin who created it."""
    return Invitation(
        email=candidate.email,
        email_key=candidate.key,
        message=message,
        status=InvitationStatus.NOT_SENT,
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
        store_view_id=store.id,
        website_id=store.website_id,
        invitee_group_id=invitee_group_id,
        inviter_id=inviter_id,
        created_by_admin_id=created_by_admin_id,
        code_nonce=codes.new_nonce(),
        delivery_state=DeliveryState.QUEUED,
        next_attempt_at=now,
        traceparent=tracing.current_traceparent(),
    )


# ---------------------------------------------------------------- the inviter's list


def status_filter(statuses: Sequence[InvitationStatus], now: datetime) -> Q:
    """Rows whose effective status is one of `statuses` (see effective_status)."""
    condition = Q(id__lt=0)  # matches nothing; OR-ed with each wanted status
    for status in set(statuses):
        if status in OPEN_STATUSES:
            condition |= Q(status=status) & not_expired(now)
        elif status is InvitationStatus.EXPIRED:
            condition |= Q(status=status) | lapsed_at(now)
        else:
            condition |= Q(status=status)
    return condition


async def sent_by(
    *,
    inviter: Customer,
    first: int,
    after: tuple[datetime, int] | None,
    statuses: Sequence[InvitationStatus] | None,
) -> Page[Invitation]:
    """A page of the customer's invitations, newest first (created_at, then id, descending)."""
    query: QuerySet[Invitation] = Invitation.filter(inviter_id=inviter.id)
    if statuses:
        query = query.filter(status_filter(statuses, utcnow()))
    return await fetch_page(query, sort_field="created_at", first=first, after=after)


async def own_invitation(*, inviter_id: int, invitation_id: int) -> Invitation | None:
    """The invitation with this id if this customer sent it."""
    return await Invitation.get_or_none(id=invitation_id, inviter_id=inviter_id)


# ---------------------------------------------------------------- canceling


async def cancel(*, customer: Customer, invitation_id: str) -> Invitation:
    """Cancel one of the customer's own open invitations; the mailer skips canceled ones."""
    row_id = id_or_none(invitation_id)
    row = (
        await Invitation.get_or_none(id=row_id, inviter_id=customer.id)
        if row_id is not None
        else None
    )
    if row is None:
        raise NotFound("No such invitation of yours.").at("invitation_id")
    now = utcnow()
    changed = await change_status(
        Invitation.filter(open_at(now), id=row.id),
        row,
        InvitationStatus.CANCELED,
        actor=customer_actor(customer.id),
        now=now,
    )
    if not changed:
        raise InvalidStatus(
            f"Only an invitation that is not sent or sent can be canceled; this one is "
            f"{effective_status(row, now).value}."
        ).at("invitation_id")
    return await Invitation.get(id=row.id)


# ---------------------------------------------------------------- codes


async def by_code(code: str, *, secret: str) -> Invitation | None:
    """The invitation an authentic code names, with its inviter; None for anything else."""
    nonce = codes.nonce_of(code, secret=secret)
    if nonce is None:
        return None
    return await Invitation.get_or_none(code_nonce=nonce).prefetch_related("inviter")


def is_acceptable(row: Invitation, *, website_id: int, now: datetime | None = None) -> bool:
    return row.website_id == website_id and effective_status(row, now) in OPEN_STATUSES


def link(row: Invitation, store_view: StoreView, *, secret: str) -> str | None:
    """The acceptance link, while the invitation can be accepted."""
    if effective_status(row) not in OPEN_STATUSES:
        return None
    return store_view.invitation_url(codes.code_for(row.code_nonce, secret=secret))
