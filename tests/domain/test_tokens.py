"""domain.tokens.authenticate: its one hand-written statement against the ORM's query.

`authenticate_digest` reads the token and its customer or admin with a statement of its own
(Tortoise builds a select_related query afresh at every call). Each case here asks both: the
statement through `authenticate`, and the ORM query it replaced; the principals must match field
by field, the models must be what the ORM makes (saved, not partial, columns converted), and
a token that is expired, revoked, unknown, of an inactive admin or too long signs nobody in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tortoise.models import Model

from domain.clock import utcnow
from domain.tokens import MAX_TOKEN_LENGTH, Principal, authenticate, hash_token, revoke
from models.accounts import AccessToken, AdminUser, Customer, Permission, TokenKind
from tests.helpers import admin_token, customer_token, make_admin, make_customer


async def _orm(digest: str) -> Principal | None:
    """The query authenticate_digest ran before it had a statement of its own."""
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


def _columns(model: Model | None) -> dict[str, Any] | None:
    if model is None:
        return None
    names = model._meta.fields_db_projection
    return {name: getattr(model, name) for name in names} | {
        "_saved_in_db": model._saved_in_db,
        "_partial": model._partial,
    }


async def _both(token: str) -> tuple[Principal | None, Principal | None]:
    ours = await authenticate(token)
    theirs = await _orm(hash_token(token))
    if ours is None or theirs is None:
        assert ours is theirs
        return ours, theirs
    assert ours.token_hash == theirs.token_hash
    assert _columns(ours.customer) == _columns(theirs.customer)
    assert _columns(ours.admin) == _columns(theirs.admin)
    return ours, theirs


async def test_a_customers_token_reads_as_the_orm_reads_it() -> None:
    customer = await make_customer("token-reader@example.com", firstname="Zoë ' \" ;--")
    ours, _ = await _both(await customer_token(customer))
    assert ours is not None
    assert ours.admin is None
    assert ours.customer is not None
    assert ours.customer.id == customer.id
    assert ours.customer.firstname == "Zoë ' \" ;--"
    assert ours.customer.created_at == customer.created_at
    assert ours.customer.created_at.utcoffset() == timedelta(0)
    # Foreign keys come with the row, as the ORM's model has them.
    assert ours.customer.website_id == customer.website_id
    # The model can be written back, as one the ORM read.
    ours.customer.lastname = "Written"
    await ours.customer.save(update_fields=["lastname"])
    assert (await Customer.get(id=customer.id)).lastname == "Written"


async def test_an_admins_token_reads_as_the_orm_reads_it() -> None:
    admin = await make_admin("token-admin", permissions=[Permission.INVITATION_REPORTS])
    ours, _ = await _both(await admin_token(admin))
    assert ours is not None
    assert ours.customer is None
    assert ours.admin is not None
    assert ours.admin.permissions == [Permission.INVITATION_REPORTS.value]
    assert ours.admin.is_active is True


async def test_an_inactive_admin_signs_nobody_in() -> None:
    admin = await make_admin("token-inactive")
    token = await admin_token(admin)
    await AdminUser.filter(id=admin.id).update(is_active=False)
    assert await _both(token) == (None, None)


async def test_expired_revoked_and_unknown_tokens_sign_nobody_in() -> None:
    customer = await make_customer("token-gone@example.com")
    expired = await customer_token(customer)
    await AccessToken.filter(token_hash=hash_token(expired)).update(
        expires_at=utcnow() - timedelta(seconds=1)
    )
    revoked = await customer_token(customer)
    assert await revoke(hash_token(revoked))
    for token in (expired, revoked, "not-a-token", "x" * MAX_TOKEN_LENGTH):
        assert await _both(token) == (None, None)
    assert await authenticate("") is None
    assert await authenticate("x" * (MAX_TOKEN_LENGTH + 1)) is None


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", '" OR ""="', "\x00", "%", "_", "é" * 40])
async def test_hostile_tokens_are_parameters(hostile: str) -> None:
    await make_customer("token-hostile@example.com")
    assert await _both(hostile) == (None, None)
