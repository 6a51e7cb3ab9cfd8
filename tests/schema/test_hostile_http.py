"""Hostile requests at the HTTP edge: never a 500, never a write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from cli.demo import seed_demo
from models.accounts import Customer
from models.store import CustomerGroup, StoreView, Website
from tests.helpers import PASSWORD, GraphQLClient

CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code field } }
}
"""


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b'{"query": 5}', "application/json"),
        (b'{"query": null}', "application/json"),
        (b'{"query": "{ __typename }", "variables": "nope"}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"query=%7B__typename%7D", "application/x-www-form-urlencoded"),
        (b"{ __typename }", "text/plain"),
        (b'{"query": "' + b"{" * 100_000 + b'"}', "application/json"),
    ],
)
async def test_malformed_bodies_are_client_errors(
    gql: GraphQLClient, body: bytes, content_type: str
) -> None:
    response = await gql.http.post("/graphql", content=body, headers={"Content-Type": content_type})

    assert 400 <= response.status_code < 500 or (
        response.status_code == 200 and response.json().get("errors")
    )


@pytest.mark.parametrize(
    "value",
    [
        "\x00",
        "\u202e\u200f",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢" * 2000,
        "'; DROP TABLE customer; --",
        "<script>alert(1)</script>",
        "a\r\nBcc: x@example.com",
        "\ud800",
    ],
)
async def test_hostile_strings_in_every_field_never_write(gql: GraphQLClient, value: str) -> None:
    for field in ("email", "firstname", "lastname", "password"):
        data = {
            "email": "ok@example.com",
            "firstname": "Ok",
            "lastname": "Ok",
            "password": PASSWORD,
        }
        data[field] = value
        # ensure_ascii escapes lone surrogates the way a hostile client would send them.
        body = json.dumps({"query": CREATE_CUSTOMER, "variables": {"input": data}})
        response = await gql.http.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            payload = response.json()
            assert "INTERNAL" not in str(payload)
            if field == "password":
                continue  # any printable text of 8+ characters is a fine password
            assert payload["data"]["createCustomer"]["customer"] is None, (field, value)
    assert {c.email for c in await Customer.all()} <= {"ok@example.com"}


async def test_seed_demo_is_idempotent() -> None:
    before = (
        await Website.all().count(),
        await StoreView.all().count(),
        await CustomerGroup.all().count(),
    )

    await seed_demo()
    await seed_demo()

    after = (
        await Website.all().count(),
        await StoreView.all().count(),
        await CustomerGroup.all().count(),
    )
    assert before == after == (1, 3, 3)
    assert await StoreView.filter(is_default=True).count() == 1


async def test_oversized_bodies_are_refused_with_413(gql: GraphQLClient) -> None:
    huge = b'{"query": "{ __typename }", "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for start in range(0, len(huge), 65536):
            yield huge[start : start + 65536]

    declared = await gql.http.post(
        "/graphql", content=huge, headers={"Content-Type": "application/json"}
    )
    streamed = await gql.http.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert declared.status_code == 413
    assert streamed.status_code == 413
