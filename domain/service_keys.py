"""Service API keys (OPERATIONS.md): 256 random bits behind the prefix `inv_sk_`, handed out once.

Only the key's SHA-256 is stored. Every request looks its key up in the database, so a
revocation holds at once on every replica. Last use is written at most once a minute per key.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.clock import utcnow
from domain.errors import AlreadyExists, InvalidInput
from domain.tokens import Principal, hash_token
from models.accounts import AdminUser, Permission, ServiceKey

PREFIX = "inv_sk_"
ACTOR_PREFIX = "service:"
LAST_USE_RESOLUTION = timedelta(minutes=1)
MAX_KEY_LENGTH = 128
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,55}$")
NO_PASSWORD = "!service"  # noqa: S105 (not a hash: nothing verifies against it)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    name: str
    permissions: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def is_service_key(token: str) -> bool:
    return token.startswith(PREFIX)


async def create(name: str, permissions: Sequence[Permission]) -> str:
    """A new key named `name`; the only time the key itself is seen."""
    if not NAME.match(name):
        raise InvalidInput("A key name is 1 to 56 letters, digits, '.', '_' or '-'.")
    key = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    try:
        async with in_transaction():
            admin = await AdminUser.create(
                username=ACTOR_PREFIX + name,
                password_hash=NO_PASSWORD,
                permissions=sorted({p.value for p in permissions}),
                created_at=now,
            )
            await ServiceKey.create(
                name=name, key_hash=hash_token(key), admin=admin, created_at=now
            )
    except IntegrityError:
        raise AlreadyExists(f"A key named {name!r} exists already.") from None
    return key


async def listing() -> list[KeyInfo]:
    rows = await ServiceKey.all().select_related("admin").order_by("name")
    return [
        KeyInfo(r.name, list(r.admin.permissions), r.created_at, r.last_used_at, r.revoked_at)
        for r in rows
    ]


async def revoke(name: str) -> bool:
    return await ServiceKey.filter(name=name, revoked_at=None).update(revoked_at=utcnow()) > 0


async def authenticate(key: str) -> Principal | None:
    """The admin principal of a key that exists and is not revoked."""
    if len(key) > MAX_KEY_LENGTH:
        return None
    return await authenticate_digest(hash_token(key))


async def authenticate_digest(digest: str) -> Principal | None:
    """`authenticate` by the key's hash: a long-lived connection checks its key again."""
    row = await ServiceKey.filter(key_hash=digest, revoked_at=None).select_related("admin").first()
    # The index found the row by equality; compare once more in constant time all the same.
    if row is None or not hmac.compare_digest(row.key_hash, digest) or not row.admin.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION:
        await ServiceKey.filter(id=row.id).update(last_used_at=now)
    return Principal(token_hash=digest, admin=row.admin, service=True)
