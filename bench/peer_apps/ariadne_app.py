"""Ariadne (not part of the product): schema first, resolvers bound to it, the context built by
a context_value callable, and the parser and validation caches of Ariadne's "Customizing Query
Stack" guide."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ariadne import EnumType, ObjectType, QueryType, ScalarType, gql, make_executable_schema
from ariadne.asgi import GraphQL
from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, validate
from starlette.requests import Request
from starlette.routing import Route

from bench.peer_apps import common
from models.invitation import InvitationStatus

TYPE_DEFS = gql("""
    scalar DateTime
    enum InvitationStatus { NOT_SENT SENT ACCEPTED CANCELED EXPIRED }
    type Invitation {
      id: ID!
      email: String!
      status: InvitationStatus!
      message: String
      createdAt: DateTime!
      sentAt: DateTime
      acceptedAt: DateTime
      expiresAt: DateTime
    }
    type InvitationEdge { cursor: String! node: Invitation! }
    type PageInfo { hasNextPage: Boolean! endCursor: String }
    type InvitationConnection { edges: [InvitationEdge!]! pageInfo: PageInfo! }
    type Query { myInvitations(first: Int!): InvitationConnection! }
""")

query = QueryType()
invitation = ObjectType("Invitation")
datetime_scalar = ScalarType("DateTime")
status = EnumType("InvitationStatus", InvitationStatus)


@datetime_scalar.serializer
def serialize_datetime(value: Any) -> str:
    return str(value.isoformat())


@query.field("myInvitations")
async def resolve_my_invitations(_: Any, info: Any, first: int) -> dict[str, Any]:
    customer = info.context["customer"]
    if customer is None:
        raise GraphQLError(common.NOT_A_CUSTOMER)
    page = await common.my_invitations(customer, first)
    edges = [
        {"cursor": common.cursor(key, row.id), "node": row}
        for row, key in zip(page.rows, page.keys, strict=True)
    ]
    end = edges[-1]["cursor"] if edges else None
    return {"edges": edges, "pageInfo": {"hasNextPage": page.has_next_page, "endCursor": end}}


@invitation.field("status")
def resolve_status(row: Any, info: Any) -> InvitationStatus:
    return common.status(row)


# Ariadne maps the remaining camelCase fields to the rows' attributes.
invitation.set_alias("createdAt", "created_at")
invitation.set_alias("sentAt", "sent_at")
invitation.set_alias("acceptedAt", "accepted_at")
invitation.set_alias("expiresAt", "expires_at")


@lru_cache(maxsize=256)
def parse_cached(text: str) -> DocumentNode:
    return parse(text)


def caching_query_parser(context: Any, data: dict[str, Any]) -> DocumentNode:
    return parse_cached(data["query"])


_validated: dict[int, tuple[DocumentNode, list[GraphQLError]]] = {}


def caching_query_validator(
    schema: GraphQLSchema, document_ast: DocumentNode, *args: Any, **kwargs: Any
) -> list[GraphQLError]:
    # The parser's cache hands out the same document for the same text.
    known = _validated.get(id(document_ast))
    if known is None or known[0] is not document_ast:
        known = _validated[id(document_ast)] = (
            document_ast,
            validate(schema, document_ast, *args, **kwargs),
        )
    return known[1]


async def context(request: Request, data: Any) -> dict[str, Any]:
    customer = await common.customer_of(request.headers.get("authorization"))
    return {"request": request, "customer": customer}


def create() -> Any:
    schema = make_executable_schema(TYPE_DEFS, query, invitation, datetime_scalar, status)
    graphql = GraphQL(
        schema,
        context_value=context,
        query_parser=caching_query_parser,
        query_validator=caching_query_validator,
    )
    return common.app_with([Route("/graphql", graphql, methods=["GET", "POST"])])


if __name__ == "__main__":
    common.serve(create)
