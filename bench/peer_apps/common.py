"""What the peer servers of bench/peers.py share (not part of the product): the database, the
token check, the domain call and the uvicorn settings, so that only the GraphQL library differs.

Each peer serves `myInvitations(first: Int!)` at /graphql with the contract's shape (edges with
cursor and node, pageInfo), checks the bearer token of every request with
domain.tokens.authenticate as the service does, reads the page with
domain.invitations.sent_by, and runs under `invitations serve`'s uvicorn settings. Runs in the
project's environment, and in bench/peer_apps/graphene_env for Graphene (no Strawberry there).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from starlette.applications import Starlette
from starlette.routing import BaseRoute
from tortoise.contrib.starlette import RegisterTortoise

from config import tortoise_config
from domain import invitations
from domain.pagination import Page
from domain.tokens import authenticate
from models.accounts import Customer
from models.invitation import Invitation, InvitationStatus

NOT_A_CUSTOMER = "This needs a customer token."


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token else None


async def customer_of(authorization: str | None) -> Customer | None:
    """The customer whose token the request carries (the service's check, every request)."""
    token = bearer(authorization)
    principal = await authenticate(token) if token else None
    return principal.customer if principal is not None else None


async def my_invitations(customer: Customer, first: int) -> Page[Invitation]:
    return await invitations.sent_by(inviter=customer, first=first, after=None, statuses=None)


def status(row: Invitation) -> InvitationStatus:
    return invitations.effective_status(row)


def cursor(key: object, row_id: int) -> str:
    """The service's cursor: base64url of [sort key, id]."""
    stored = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([stored, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def app_with(routes: list[BaseRoute]) -> Starlette:
    url = os.environ["INVITATIONS_DATABASE_URL"]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=tortoise_config(url), generate_schemas=False):
            yield

    return Starlette(routes=routes, lifespan=lifespan)


def serve(create: Callable[[], Any]) -> None:
    """The app under `invitations serve`'s uvicorn settings (cli/process.py)."""
    import uvicorn

    uvicorn.run(
        create(),
        host="127.0.0.1",
        port=int(os.environ["INVITATIONS_PORT"]),
        loop="uvloop",
        http="httptools",
        log_level="info",
        proxy_headers=False,
    )
