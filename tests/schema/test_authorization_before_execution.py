"""An operation is authorized before it runs: one that selects a field its principal may not read
is refused whole (FORBIDDEN), and a mutation then writes nothing."""

from __future__ import annotations

from models.invitation import Invitation
from tests.helpers import (
    GraphQLClient,
    admin_token,
    customer_token,
    error_codes,
    make_admin,
    make_customer,
)

SEND_WITH_DELIVERY = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) {
    invitations { email delivery { state } }
    userErrors { code }
  }
}
"""

SEND = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) {
    invitations { email }
    userErrors { code }
  }
}
"""

SEND_THROUGH_A_FRAGMENT = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) { ...Sent userErrors { code } }
}
fragment Sent on SendInvitationsPayload { invitations { ...Admin } }
fragment Admin on Invitation { ... on Invitation { url } }
"""

SEND_AND_CREATE = """
mutation Both($input: SendInvitationsInput!, $admin: CreateInvitationsInput!) {
  sendInvitations(input: $input) { userErrors { code } }
  createInvitations(input: $admin) { userErrors { code } }
}
"""

TWO_OPERATIONS = """
query Mine { myInvitations { totalCount } }
query Grid { invitations { totalCount } }
"""

INVITE = {"input": {"emails": ["friend@example.com"]}}


async def test_a_customer_selecting_an_admin_field_is_refused_before_anything_is_written(
    gql: GraphQLClient,
) -> None:
    token = await customer_token(await make_customer())

    refused = await gql(SEND_WITH_DELIVERY, INVITE, token=token)

    assert refused["data"] is None
    assert error_codes(refused) == ["FORBIDDEN"]
    assert "Invitation.delivery" in refused["errors"][0]["message"]
    assert await Invitation.all().count() == 0

    retried = await gql(SEND, INVITE, token=token)

    assert "errors" not in retried, retried
    assert retried["data"]["sendInvitations"] == {
        "invitations": [{"email": "friend@example.com"}],
        "userErrors": [],
    }
    assert await Invitation.all().count() == 1


async def test_fields_in_fragments_are_authorized_too(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer())

    refused = await gql(SEND_THROUGH_A_FRAGMENT, INVITE, token=token)

    assert error_codes(refused) == ["FORBIDDEN"]
    assert "Invitation.url" in refused["errors"][0]["message"]
    assert await Invitation.all().count() == 0


async def test_one_forbidden_root_field_refuses_the_whole_mutation(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer())
    variables = {**INVITE, "admin": {"emails": ["other@example.com"], "storeViewId": 1}}

    refused = await gql(SEND_AND_CREATE, variables, token=token)

    assert refused["data"] is None
    assert error_codes(refused) == ["FORBIDDEN"]
    assert await Invitation.all().count() == 0


async def test_only_the_operation_that_runs_is_authorized(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer())
    http = gql.http
    headers = {"Authorization": f"Bearer {token}"}

    mine = await http.post(
        "/graphql", json={"query": TWO_OPERATIONS, "operationName": "Mine"}, headers=headers
    )
    grid = await http.post(
        "/graphql", json={"query": TWO_OPERATIONS, "operationName": "Grid"}, headers=headers
    )

    assert mine.json() == {"data": {"myInvitations": {"totalCount": 0}}}
    assert error_codes(grid.json()) == ["FORBIDDEN"]


async def test_the_same_document_is_authorized_for_each_principal(gql: GraphQLClient) -> None:
    # The document is parsed, validated and its guarded fields found once; each request's
    # principal is asked again.
    admin = await admin_token(await make_admin())
    customer = await customer_token(await make_customer())
    query = "{ invitations { totalCount } }"

    as_admin = await gql(query, token=admin)
    as_customer = await gql(query, token=customer)
    as_nobody = await gql(query)
    as_admin_again = await gql(query, token=admin)

    assert as_admin == as_admin_again == {"data": {"invitations": {"totalCount": 0}}}
    assert error_codes(as_customer) == ["FORBIDDEN"]
    assert error_codes(as_nobody) == ["UNAUTHENTICATED"]
