"""Registering customers: on their own, or as the invitee who accepts an invitation.

Accepting is atomic. One transaction first flips the invitation to ACCEPTED with a conditional
UPDATE (on PostgreSQL this also locks the row until commit), and only then inserts the customer,
the referral and the history row. Of several concurrent registrations with one code exactly one
sees a changed row; the others roll back before they insert anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

import events
from domain import webhooks
from domain.clock import utcnow
from domain.errors import (
    CustomerExists,
    DomainError,
    EmailMismatch,
    InvitationExpired,
    InvitationNotValid,
    RegistrationByInvitationOnly,
)
from domain.invitation_settings import RegistrationMode, for_store_view
from domain.invitations import by_code, customer_actor, effective_status, open_at
from domain.passwords import hash_password
from domain.validation import check_password_strength, clean_name, email_key, normalize_email
from models.accounts import Customer
from models.invitation import (
    OPEN_STATUSES,
    Invitation,
    InvitationStatus,
    InvitationStatusChange,
    Referral,
)
from models.store import StoreView, Website


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration request whose fields have been checked and cleaned."""

    email: str
    firstname: str
    lastname: str
    password: str

    @classmethod
    def checked(cls, *, email: str, firstname: str, lastname: str, password: str) -> Registration:
        """Clean each field; the first bad one raises, reported at (<field>,)."""
        with _reported_at("email"):
            clean_email = normalize_email(email)
        with _reported_at("firstname"):
            clean_first = clean_name(firstname, label="first name")
        with _reported_at("lastname"):
            clean_last = clean_name(lastname, label="last name")
        with _reported_at("password"):
            check_password_strength(password, email=clean_email)
        return cls(email=clean_email, firstname=clean_first, lastname=clean_last, password=password)

    def as_customer(self, *, website_id: int, group_id: int, password_hash: str) -> Customer:
        """The unsaved customer row of this registration."""
        return Customer(
            website_id=website_id,
            group_id=group_id,
            email=self.email,
            email_key=email_key(self.email),
            firstname=self.firstname,
            lastname=self.lastname,
            password_hash=password_hash,
            created_at=utcnow(),
        )


@contextmanager
def _reported_at(field: str) -> Iterator[None]:
    try:
        yield
    except DomainError as error:
        raise error.at(field) from None


async def email_is_customer(website_id: int, email: str) -> bool:
    return await Customer.filter(website_id=website_id, email_key=email_key(email)).exists()


async def register(
    *,
    website: Website,
    store: StoreView,
    registration: Registration,
    invitation_code: str | None,
    password_profile: str,
    secret: str,
) -> Customer:
    """Register a customer of the store's website, through an invitation when a code is given.

    Without a code the customer joins the website's default group, unless the store's
    registration is by invitation only.
    """
    if invitation_code is not None:
        return await register_invitee(
            website=website,
            store=store,
            registration=registration,
            code=invitation_code,
            password_profile=password_profile,
            secret=secret,
        )
    settings = await for_store_view(store)
    if settings.registration_mode is RegistrationMode.BY_INVITATION_ONLY:
        raise RegistrationByInvitationOnly().at("invitation_code")
    return await create_customer(
        website=website,
        registration=registration,
        group_id=website.default_group_id,
        password_profile=password_profile,
    )


async def create_customer(
    *, website: Website, registration: Registration, group_id: int, password_profile: str
) -> Customer:
    """Insert a customer; the unique (website, email) index decides between concurrent twins."""
    if await email_is_customer(website.id, registration.email):
        raise CustomerExists().at("email")
    password_hash = await hash_password(registration.password, profile=password_profile)
    try:
        async with in_transaction():
            customer = registration.as_customer(
                website_id=website.id, group_id=group_id, password_hash=password_hash
            )
            await customer.save()
            return customer
    except IntegrityError:
        raise CustomerExists().at("email") from None


CODE_FIELD = ("invitation_code",)
EMAIL_FIELD = ("email",)


async def register_invitee(
    *,
    website: Website,
    store: StoreView,
    registration: Registration,
    code: str,
    password_profile: str,
    secret: str,
) -> Customer:
    """Register the invitee of the invitation `code` names (SPEC §4)."""
    invitation = await acceptable_invitation(code, website=website, secret=secret)
    if email_key(registration.email) != invitation.email_key:
        raise EmailMismatch().at(*EMAIL_FIELD)
    if await Customer.filter(website_id=website.id, email_key=invitation.email_key).exists():
        raise CustomerExists().at(*EMAIL_FIELD)
    # Hashing is slow: do it before the transaction, so no lock is held meanwhile.
    password_hash = await hash_password(registration.password, profile=password_profile)
    customer = registration.as_customer(
        website_id=website.id,
        group_id=invitation.invitee_group_id or website.default_group_id,
        password_hash=password_hash,
    )
    try:
        await accept(invitation, customer)
    except IntegrityError:
        raise CustomerExists().at(*EMAIL_FIELD) from None
    return customer


async def accept_as_customer(
    *,
    customer: Customer,
    website: Website,
    code: str,
    email: str | None,
    email_verified: bool | None,
    secret: str,
) -> Invitation:
    """An existing customer (known through the store's identity provider) accepts the
    invitation `code` names: the checks of `register_invitee` against the e-mail `email` their
    provider vouches for, then the same atomic `accept`. The invitee group is applied."""
    invitation = await acceptable_invitation(code, website=website, secret=secret)
    if customer.website_id != website.id:
        raise InvitationNotValid().at(*CODE_FIELD)
    if email_verified is False:
        raise EmailMismatch("Your identity provider has not verified your e-mail address.").at(
            *CODE_FIELD
        )
    if email is None or email_key(email) != invitation.email_key:
        raise EmailMismatch("Sign in with the address the invitation was sent to to accept it.").at(
            *CODE_FIELD
        )
    if await Referral.filter(invitee_id=customer.id).exists():
        raise InvitationNotValid("You have already accepted an invitation.").at(*CODE_FIELD)
    if invitation.invitee_group_id is not None:
        customer.group_id = invitation.invitee_group_id
    try:
        await accept(invitation, customer)
    except IntegrityError:
        # Another invitation accepted by this customer at the same moment.
        raise InvitationNotValid("You have already accepted an invitation.").at(
            *CODE_FIELD
        ) from None
    await invitation.refresh_from_db()
    return invitation


async def acceptable_invitation(code: str, *, website: Website, secret: str) -> Invitation:
    """The invitation of an authentic code that the website's registration may accept now."""
    invitation = await by_code(code, secret=secret)
    if invitation is None or invitation.website_id != website.id:
        raise InvitationNotValid().at(*CODE_FIELD)
    status = effective_status(invitation)
    if status is InvitationStatus.EXPIRED:
        raise InvitationExpired().at(*CODE_FIELD)
    if status not in OPEN_STATUSES:
        raise InvitationNotValid().at(*CODE_FIELD)
    return invitation


async def accept(invitation: Invitation, customer: Customer) -> None:
    """Flip the invitation to ACCEPTED, then insert the unsaved `customer` and the records.

    Raises InvitationNotValid, inserting nothing, when the invitation is no longer open.
    """
    now = utcnow()
    async with in_transaction():
        won = await Invitation.filter(open_at(now), id=invitation.id).update(
            status=InvitationStatus.ACCEPTED, accepted_at=now, updated_at=now
        )
        if not won:
            # Accepted, canceled or expired by someone else since we looked.
            raise InvitationNotValid().at(*CODE_FIELD)
        await customer.save()
        await Invitation.filter(id=invitation.id).update(invitee_id=customer.id)
        await Referral.create(
            inviter_id=invitation.inviter_id,
            invitee_id=customer.id,
            invitation_id=invitation.id,
            created_at=now,
        )
        await InvitationStatusChange.create(
            invitation_id=invitation.id,
            status=InvitationStatus.ACCEPTED,
            at=now,
            actor=customer_actor(customer.id),
        )
        await webhooks.status_changed(InvitationStatus.ACCEPTED, [invitation.id])
    await events.changed(invitation.id, invitation.inviter_id)
