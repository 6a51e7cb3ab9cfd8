"""Signing customers and admins in, with a lockout after repeated failures.

An unknown account and a wrong password give the same error and cost the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from tortoise.expressions import F

from domain.clock import utcnow
from domain.errors import AccountLocked, InvalidCredentials
from domain.passwords import verify_password
from domain.tokens import IssuedToken, issue_token
from domain.validation import email_key
from models.accounts import AdminUser, Customer
from models.store import Website

MAX_USERNAME_LENGTH = 64  # AdminUser.username

Account = TypeVar("Account", Customer, AdminUser)


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    max_failures: int
    lockout_seconds: int
    password_profile: str
    token_ttl_seconds: int


async def _check_password(account: Account | None, password: str, policy: SignInPolicy) -> Account:
    if account is not None and account.locked_until is not None and account.locked_until > utcnow():
        raise AccountLocked()
    hashed = account.password_hash if account is not None else None
    if not await verify_password(hashed, password, profile=policy.password_profile):
        if account is not None:
            await _record_failure(account, policy)
        raise InvalidCredentials()
    assert account is not None  # verify_password is False without a hash
    if account.failed_sign_ins:
        await type(account).filter(id=account.id).update(failed_sign_ins=0, locked_until=None)
    return account


async def _record_failure(account: Customer | AdminUser, policy: SignInPolicy) -> None:
    model = type(account)
    await model.filter(id=account.id).update(failed_sign_ins=F("failed_sign_ins") + 1)
    # Counting in the database keeps concurrent failures from being lost; the lock is set by
    # whichever failure reaches the limit.
    locked = await model.filter(id=account.id, failed_sign_ins__gte=policy.max_failures).update(
        failed_sign_ins=0, locked_until=utcnow() + timedelta(seconds=policy.lockout_seconds)
    )
    if locked:
        raise AccountLocked()


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
