"""Stock Strawberry (not part of the product): code-first types, a permission class, the
context built by the ASGI app's get_context, and Strawberry's parser and validation caches."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.permission import BasePermission

from bench.peer_apps import common
from models.invitation import InvitationStatus

Status = strawberry.enum(InvitationStatus, name="InvitationStatus")


class IsCustomer(BasePermission):
    message = common.NOT_A_CUSTOMER

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return info.context["customer"] is not None


@strawberry.type
class Invitation:
    id: strawberry.ID
    email: str
    status: Status  # type: ignore[valid-type]
    message: str | None
    created_at: datetime
    sent_at: datetime | None
    accepted_at: datetime | None
    expires_at: datetime | None


@strawberry.type
class InvitationEdge:
    cursor: str
    node: Invitation


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class InvitationConnection:
    edges: list[InvitationEdge]
    page_info: PageInfo


@strawberry.type
class Query:
    @strawberry.field(permission_classes=[IsCustomer])
    async def my_invitations(self, info: strawberry.Info, first: int) -> InvitationConnection:
        page = await common.my_invitations(info.context["customer"], first)
        edges = [
            InvitationEdge(
                cursor=common.cursor(key, row.id),
                node=Invitation(
                    id=strawberry.ID(str(row.id)),
                    email=row.email,
                    status=common.status(row),
                    message=row.message,
                    created_at=row.created_at,
                    sent_at=row.sent_at,
                    accepted_at=row.accepted_at,
                    expires_at=row.expires_at,
                ),
            )
            for row, key in zip(page.rows, page.keys, strict=True)
        ]
        return InvitationConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


class App(GraphQL[dict[str, Any], None]):
    async def get_context(self, request: Request, response: Response | None) -> dict[str, Any]:  # type: ignore[override]
        customer = await common.customer_of(request.headers.get("authorization"))
        return {"request": request, "response": response, "customer": customer}


def create() -> Any:
    schema = strawberry.Schema(query=Query, extensions=[ParserCache, ValidationCache])
    graphql = App(schema, graphql_ide=None)
    return common.app_with([Route("/graphql", graphql, methods=["GET", "POST"])])


if __name__ == "__main__":
    common.serve(create)
