"""Graphene 3 (not part of the product): ObjectTypes with resolve_ methods, served by
starlette-graphene3's GraphQLApp with a context_value callable. Neither keeps a parser or
validation cache. Runs in bench/peer_apps/graphene_env (Graphene needs graphql-core < 3.3)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import graphene
from graphql import GraphQLError
from starlette.requests import Request
from starlette.routing import Route
from starlette_graphene3 import GraphQLApp

from bench.peer_apps import common
from models.invitation import InvitationStatus as StoredStatus

InvitationStatus = graphene.Enum.from_enum(StoredStatus)


class Invitation(graphene.ObjectType):
    id = graphene.ID(required=True)
    email = graphene.String(required=True)
    status = graphene.Field(InvitationStatus, required=True)
    message = graphene.String()
    created_at = graphene.DateTime(required=True)
    sent_at = graphene.DateTime()
    accepted_at = graphene.DateTime()
    expires_at = graphene.DateTime()

    @staticmethod
    def resolve_status(row: Any, info: Any) -> StoredStatus:
        return common.status(row)


class InvitationEdge(graphene.ObjectType):
    cursor = graphene.String(required=True)
    node = graphene.Field(Invitation, required=True)


class PageInfo(graphene.ObjectType):
    has_next_page = graphene.Boolean(required=True)
    end_cursor = graphene.String()


class InvitationConnection(graphene.ObjectType):
    edges = graphene.List(graphene.NonNull(InvitationEdge), required=True)
    page_info = graphene.Field(PageInfo, required=True)


class Query(graphene.ObjectType):
    my_invitations = graphene.Field(
        InvitationConnection, required=True, first=graphene.Int(required=True)
    )

    @staticmethod
    async def resolve_my_invitations(root: Any, info: Any, first: int) -> InvitationConnection:
        customer = info.context["customer"]
        if customer is None:
            raise GraphQLError(common.NOT_A_CUSTOMER)
        page = await common.my_invitations(customer, first)
        edges = [
            InvitationEdge(cursor=common.cursor(key, row.id), node=row)
            for row, key in zip(page.rows, page.keys, strict=True)
        ]
        return InvitationConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None
            ),
        )


async def context(request: Request) -> dict[str, Any]:
    customer = await common.customer_of(request.headers.get("authorization"))
    return {"request": request, "customer": customer}


def create() -> Any:
    schema = graphene.Schema(query=Query)
    graphql = GraphQLApp(schema, context_value=context, on_get=None)
    return common.app_with([Route("/graphql", graphql, methods=["POST"])])


if __name__ == "__main__":
    common.serve(create)
