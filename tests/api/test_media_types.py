"""The media type of an answer follows Accept: application/json as ever, or the GraphQL-over-HTTP
specification's application/graphql-response+json, with which a request that fails before
execution is a 4xx without "data"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import customer_token, make_customer

GRAPHQL_RESPONSE = "application/graphql-response+json"

FAILING_BEFORE_EXECUTION = {
    "parse": ({"query": "{"}, 400),
    "validation": ({"query": "{ noSuchField }"}, 400),
    "variable coercion": (
        {"query": "query($c: String!) { invitationByCode(code: $c) { status } }"},
        400,
    ),
    "unknown operation": ({"query": "query A { __typename }", "operationName": "B"}, 400),
    "not signed in": ({"query": "{ customer { email } }"}, 401),
}


async def _post(http: httpx.AsyncClient, body: dict[str, Any], accept: str) -> httpx.Response:
    return await http.post("/graphql", json=body, headers={"Accept": accept})


@pytest.mark.parametrize(
    ("body", "status"), FAILING_BEFORE_EXECUTION.values(), ids=FAILING_BEFORE_EXECUTION.keys()
)
async def test_graphql_response_json_refuses_what_fails_before_execution_with_a_4xx(
    http: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    response = await _post(http, body, GRAPHQL_RESPONSE)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    payload = response.json()
    assert "data" not in payload
    assert payload["errors"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


# (An unknown operation name is a 400 with either type: Strawberry refuses it before GraphQL.)
ANSWERED_WITH_200 = {k: v for k, v in FAILING_BEFORE_EXECUTION.items() if k != "unknown operation"}


@pytest.mark.parametrize(
    "body", [body for body, _ in ANSWERED_WITH_200.values()], ids=ANSWERED_WITH_200
)
@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "text/html"])
async def test_application_json_answers_as_before(
    http: httpx.AsyncClient, body: dict[str, Any], accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}

    response = await http.post("/graphql", json=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert payload["data"] is None
    assert payload["errors"]


async def test_graphql_response_json_is_chosen_by_preference(http: httpx.AsyncClient) -> None:
    preferred = await _post(
        http, {"query": "{ __typename }"}, f"{GRAPHQL_RESPONSE}, application/json;q=0.9"
    )
    second = await _post(
        http, {"query": "{ __typename }"}, f"application/json, {GRAPHQL_RESPONSE};q=0.5"
    )
    malformed = await _post(http, {"query": "{ __typename }"}, ";;;")

    assert preferred.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert second.headers["content-type"] == "application/json"
    assert malformed.headers["content-type"] == "application/json"
    assert (
        preferred.json() == second.json() == malformed.json() == {"data": {"__typename": "Query"}}
    )


async def test_an_executed_request_keeps_200_and_its_data(http: httpx.AsyncClient) -> None:
    # A field error happens during execution: the response has data, so it is a 200.
    token = await customer_token(await make_customer())
    query = (
        "query { myInvitations(first: -1) { totalCount } storefrontInvitationSettings { enabled } }"
    )

    response = await http.post(
        "/graphql",
        json={"query": query},
        headers={"Accept": GRAPHQL_RESPONSE, "Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200, response.text
    assert "data" in response.json()


async def test_a_refusal_of_the_http_edge_takes_the_accepted_media_type(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql",
        content=b"null",
        headers={"Content-Type": "application/json", "Accept": GRAPHQL_RESPONSE},
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in response.json()


async def test_a_forbidden_operation_is_a_403(http: httpx.AsyncClient) -> None:
    token = await customer_token(await make_customer())

    response = await http.post(
        "/graphql",
        json={"query": "{ invitations { totalCount } }"},
        headers={"Accept": GRAPHQL_RESPONSE, "Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "data" not in response.json()
