"""Signing customers and admins in.

An unknown account and a wrong password give the same error and cost the same time. Repeated
failures are held off per account *and client address* by the caller (resolvers/accounts.py,
docs/security.md), never by a lock on the account itself: that would let anyone lock anyone out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from domain.errors import InvalidCredentials
from domain.passwords import verify_password
from domain.tokens import IssuedToken, issue_token
from domain.validation import email_key
from models.accounts import AdminUser, Customer
from models.store import Website

MAX_USERNAME_LENGTH = 64  # AdminUser.username

Account = TypeVar("Account", Customer, AdminUser)


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    password_profile: str
    token_ttl_seconds: int


async def _check_password(account: Account | None, password: str, policy: SignInPolicy) -> Account:
    hashed = account.password_hash if account is not None else None
    if not await verify_password(hashed, password, profile=policy.password_profile):
        raise InvalidCredentials()
    assert account is not None  # verify_password is False without a hash
    return account


async def sign_in_customer(
    *, website: Website, email: str, password: str, policy: SignInPolicy
) -> IssuedToken:
    customer = await Customer.get_or_none(website_id=website.id, email_key=email_key(email.strip()))
    customer = await _check_password(customer, password, policy)
    return await issue_token(customer=customer, ttl_seconds=policy.token_ttl_seconds)


async def sign_in_admin(*, username: str, password: str, policy: SignInPolicy) -> IssuedToken:
    name = username.strip()
    # A name longer than the column names nobody (and Tortoise refuses it as a filter value).
    fits = len(name) <= MAX_USERNAME_LENGTH
    admin = await AdminUser.get_or_none(username=name, is_active=True) if fits else None
    admin = await _check_password(admin, password, policy)
    return await issue_token(admin=admin, ttl_seconds=policy.token_ttl_seconds)
