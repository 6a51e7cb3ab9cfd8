"""Bearer tokens: 256 random bits handed out once; only their SHA-256 is kept."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tortoise.models import Model

from domain import sql
from domain.clock import utcnow
from models.accounts import AccessToken, AdminUser, Customer, TokenKind

MAX_TOKEN_LENGTH = 128

M = TypeVar("M", bound=Model)


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
    """`authenticate` by the token's hash: a long-lived connection checks its token again.

    Every request asks this, so it is one statement written once (`_lookup`), not the ORM's
    `select_related` query, which Tortoise builds afresh at each call (about 70 % of this
    function's time in a profile); the rows become models the way Tortoise's executor makes
    them. tests/domain/test_tokens.py compares it with the ORM's query.
    """
    db = sql.client()
    found = await sql.rows(db, _lookup(), [digest, utcnow()])
    if not found:
        return None
    row = found[0]
    if row["kind"] == TokenKind.CUSTOMER and row["c.id"] is not None:
        return Principal(token_hash=digest, customer=_model(Customer, "c.", row))
    if row["kind"] == TokenKind.ADMIN and row["a.id"] is not None:
        admin = _model(AdminUser, "a.", row)
        if admin.is_active:
            return Principal(token_hash=digest, admin=admin)
    return None


@functools.cache
def _lookup() -> str:
    """The token's kind and its customer's or admin's columns, aliased `c.<column>` and
    `a.<column>`: a valid (unexpired, unrevoked) token's row, or none."""
    picked = ", ".join(
        f'{alias}."{column}" AS "{alias}.{column}"'
        for alias, model in (("c", Customer), ("a", AdminUser))
        for column in model._meta.fields_db_projection.values()
    )
    return (
        f'SELECT t."kind" AS "kind", {picked} FROM "access_token" t'  # noqa: S608 (fixed names)
        ' LEFT JOIN "customer" c ON c."id" = t."customer_id"'
        ' LEFT JOIN "admin_user" a ON a."id" = t."admin_id"'
        ' WHERE t."token_hash" = ? AND t."revoked_at" IS NULL AND t."expires_at" > ? LIMIT 1'
    )


def _model(model: type[M], prefix: str, row: dict[str, Any]) -> M:
    # Tortoise's own constructor of a fetched row (its executor's): the model is as if the ORM
    # had read it (saved, not partial), with each column converted by its field.
    return model._init_from_db(
        **{c: row[prefix + c] for c in model._meta.fields_db_projection.values()}
    )


async def revoke(token_hash: str) -> bool:
    updated = await AccessToken.filter(token_hash=token_hash, revoked_at=None).update(
        revoked_at=utcnow()
    )
    return updated > 0
