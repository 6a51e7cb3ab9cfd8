"""The hand-written baseline of bench/graphql.py (not part of the product).

Plain Starlette routes that do what the three benchmarked GraphQL operations do, with the same
domain calls (so the same SQL) on the same database, and answer the same JSON bytes. The
difference between the two servers is therefore the GraphQL layer: parsing, validation, the
context, extensions, permission checks, resolvers and serialization.

What a hand-written endpoint needs is kept: the token look-up on every request, the admin's
permission, the store view (from the same short-lived cache as the service) and the rate limit
where sending needs them. What only GraphQL's generality needs is not: no store look-up for the
reads, which do not depend on the store.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.contrib.starlette import RegisterTortoise
from tortoise.models import Model

from api.store_views import StoreViewCache
from config import Settings
from domain import grid, invitations
from domain.clock import utcnow
from domain.errors import DomainError
from domain.tokens import Principal, authenticate
from models.accounts import Customer
from models.invitation import Invitation
from models.store import CustomerGroup, StoreView, Website
from schema.rate_limits import Action, Limit, RateLimits


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def cursor(key: object, row_id: int) -> str:
    stored = key.isoformat() if isinstance(key, datetime) else key
    raw = json.dumps([stored, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bearer(request: Request) -> str | None:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token else None


async def principal_of(request: Request) -> Principal | None:
    token = bearer(request)
    return await authenticate(token) if token else None


async def by_id(model: type[Model], ids: Iterable[int | None]) -> dict[int, Any]:
    wanted = {i for i in ids if i is not None}
    return {row.pk: row for row in await model.filter(id__in=list(wanted))} if wanted else {}


def create_raw_app(settings: Settings) -> Starlette:
    limits = RateLimits(
        {
            Action.SEND_INVITATIONS: Limit(
                settings.rate_limit_send_invitations_per_address,
                settings.rate_limit_send_invitations_per_account,
            )
        },
        window_seconds=settings.rate_limit_window_seconds,
        storage=settings.limit_storage,
    )
    store_views = StoreViewCache()  # as the service's view does

    def answer(data: dict[str, Any]) -> Response:
        # The service's encoder too (schema/view.py), so that the bytes compare.
        return Response(orjson.dumps(data), media_type="application/json")

    def refused(status: int = 401) -> Response:
        return JSONResponse({"error": "not allowed"}, status_code=status)

    async def my_invitations(request: Request) -> Response:
        body = json.loads(await request.body())
        principal = await principal_of(request)
        if principal is None or principal.customer is None:
            return refused()
        page = await invitations.sent_by(
            inviter=principal.customer, first=body["first"], after=None, statuses=None
        )
        now = utcnow()
        edges = [
            {
                "cursor": cursor(key, row.id),
                "node": {
                    "id": str(row.id),
                    "email": row.email,
                    "status": invitations.effective_status(row, now).value,
                    "message": row.message,
                    "createdAt": iso(row.created_at),
                    "sentAt": iso(row.sent_at),
                    "acceptedAt": iso(row.accepted_at),
                    "expiresAt": iso(row.expires_at),
                },
            }
            for row, key in zip(page.rows, page.keys, strict=True)
        ]
        page_info = {
            "hasNextPage": page.has_next_page,
            "endCursor": edges[-1]["cursor"] if edges else None,
        }
        return answer({"data": {"myInvitations": {"edges": edges, "pageInfo": page_info}}})

    async def admin_grid(request: Request) -> Response:
        body = json.loads(await request.body())
        principal = await principal_of(request)
        admin = principal.admin if principal is not None else None
        if admin is None or "INVITATIONS" not in admin.permissions:
            return refused(403)
        now = utcnow()
        page = await grid.grid_page(
            where=grid.GridFilter(),
            sort=grid.SortField.ID,
            reverse=True,
            first=body["first"],
            after=None,
            now=now,
        )
        rows: list[Invitation] = page.rows
        views, websites, groups, customers = await asyncio.gather(
            by_id(StoreView, (r.store_view_id for r in rows)),
            by_id(Website, (r.website_id for r in rows)),
            by_id(CustomerGroup, (r.invitee_group_id for r in rows)),
            by_id(Customer, [*(r.inviter_id for r in rows), *(r.invitee_id for r in rows)]),
        )

        def customer(customer_id: int | None, *fields: str) -> dict[str, Any] | None:
            row = customers[customer_id] if customer_id is not None else None
            return {f: getattr(row, f) for f in fields} if row is not None else None

        edges = []
        for row, key in zip(rows, page.keys, strict=True):
            view = views[row.store_view_id]
            website = websites[row.website_id]
            group = groups.get(row.invitee_group_id) if row.invitee_group_id else None
            edges.append(
                {
                    "cursor": cursor(key, row.id),
                    "node": {
                        "id": str(row.id),
                        "email": row.email,
                        "status": invitations.effective_status(row, now).value,
                        "createdAt": iso(row.created_at),
                        "sentAt": iso(row.sent_at),
                        "acceptedAt": iso(row.accepted_at),
                        "storeView": {"code": view.code, "name": view.name},
                        "website": {"code": website.code, "name": website.name},
                        "inviteeGroup": {"code": group.code} if group is not None else None,
                        "inviter": customer(row.inviter_id, "email", "firstname", "lastname"),
                        "invitee": customer(row.invitee_id, "email"),
                    },
                }
            )
        page_info = {
            "hasNextPage": page.has_next_page,
            "endCursor": edges[-1]["cursor"] if edges else None,
        }
        return answer({"data": {"invitations": {"edges": edges, "pageInfo": page_info}}})

    async def send_invitations(request: Request) -> Response:
        body = json.loads(await request.body())
        principal = await principal_of(request)
        if principal is None or principal.customer is None:
            return refused()
        inviter = principal.customer
        store = await store_views.find(request.headers.get("store"))
        if store is None:
            return refused(400)
        client = request.client.host if request.client else "unknown"
        if not await limits.allow(
            Action.SEND_INVITATIONS, address=client, account=f"customer:{inviter.id}"
        ):
            return refused(429)
        try:
            outcome = await invitations.send(
                inviter=inviter, store=store, emails=body["emails"], message=body.get("message")
            )
            created, errors = outcome.invitations, outcome.errors
        except DomainError as error:
            created, errors = [], [error]
        payload = {
            "invitations": [
                {
                    "id": str(row.id),
                    "email": row.email,
                    "status": invitations.effective_status(row).value,
                    "createdAt": iso(row.created_at),
                }
                for row in created
            ],
            "userErrors": [
                {
                    "code": e.code,
                    "field": list(e.field) if e.field is not None else None,
                    "message": e.message,
                }
                for e in errors
            ],
        }
        return answer({"data": {"sendInvitations": payload}})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(app, config=settings.tortoise_config(), generate_schemas=False):
            yield

    return Starlette(
        routes=[
            Route("/my-invitations", my_invitations, methods=["POST"]),
            Route("/grid", admin_grid, methods=["POST"]),
            Route("/send-invitations", send_invitations, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
