"""Bearer tokens: 256 random bits handed out once; only their SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.clock import utcnow
from models.accounts import AccessToken, AdminUser, Customer, TokenKind

MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token signs in: exactly one of customer and admin is set."""

    token_hash: str
    customer: Customer | None = None
    admin: AdminUser | None = None
    # A provider's JWT (domain/provider_tokens.py) signs in until its `exp`, with no row of ours.
    expires_at: datetime | None = None
    # A provider's customer: the e-mail its JWT carries, and whether the provider verified it.
    email: str | None = None
    email_verified: bool | None = None
    # A service API key (domain/service_keys.py), acting as its admin user `service:<name>`.
    service: bool = False

    @property
    def from_provider(self) -> bool:
        return self.expires_at is not None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def issue_token(
    *, customer: Customer | None = None, admin: AdminUser | None = None, ttl_seconds: int
) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(seconds=ttl_seconds)
    await AccessToken.create(
        token_hash=hash_token(token),
        kind=TokenKind.CUSTOMER if customer is not None else TokenKind.ADMIN,
        customer=customer,
        admin=admin,
        created_at=now,
        expires_at=expires_at,
    )
    return IssuedToken(token=token, expires_at=expires_at)


async def authenticate(token: str) -> Principal | None:
    """The principal of a token that exists, has not expired and is not revoked."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return await authenticate_digest(hash_token(token))


async def authenticate_digest(digest: str) -> Principal | None:
    """`authenticate` by the token's hash: a long-lived connection checks its token again."""
    row = (
        await AccessToken.filter(token_hash=digest, revoked_at=None, expires_at__gt=utcnow())
        .select_related("customer", "admin")
        .first()
    )
    if row is None:
        return None
    if row.kind is TokenKind.CUSTOMER and row.customer is not None:
        return Principal(token_hash=digest, customer=row.customer)
    if row.kind is TokenKind.ADMIN and row.admin is not None and row.admin.is_active:
        return Principal(token_hash=digest, admin=row.admin)
    return None


async def revoke(token_hash: str) -> bool:
    updated = await AccessToken.filter(token_hash=token_hash, revoked_at=None).update(
        revoked_at=utcnow()
    )
    return updated > 0
