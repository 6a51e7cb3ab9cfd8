"""Customer registration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import acceptance
from models.accounts import Customer
from models.clock import utcnow
from models.errors import CustomerExists, DomainError, RegistrationByInvitationOnly
from models.invitation_settings import RegistrationMode, for_store_view
from models.passwords import hash_password
from models.store import StoreView, Website
from models.validation import (
    check_password_strength,
    clean_name,
    email_key,
    normalize_email,
)


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration request whose fields have been checked and cleaned."""

    email: str
    firstname: str
    lastname: str
    password: str

    @classmethod
    def checked(cls, *, email: str, firstname: str, lastname: str, password: str) -> Registration:
        """Clean each field; the first bad one raises, reported at ("input", <field>)."""
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
        raise error.at("input", field) from None


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
        return await acceptance.register_invitee(
            website=website,
            store=store,
            registration=registration,
            code=invitation_code,
            password_profile=password_profile,
            secret=secret,
        )
    settings = await for_store_view(store)
    if settings.registration_mode is RegistrationMode.BY_INVITATION_ONLY:
        raise RegistrationByInvitationOnly().at("input", "invitationCode")
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
        raise CustomerExists().at("input", "email")
    password_hash = await hash_password(registration.password, profile=password_profile)
    try:
        async with in_transaction():
            customer = registration.as_customer(
                website_id=website.id, group_id=group_id, password_hash=password_hash
            )
            await customer.save()
            return customer
    except IntegrityError:
        raise CustomerExists().at("input", "email") from None
