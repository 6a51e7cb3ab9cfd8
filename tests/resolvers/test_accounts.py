"""Accounts over HTTP: registration, sign-in, tokens, lockout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest

from app import create_app
from config import Settings
from domain.clock import utcnow
from models.accounts import AccessToken, Customer
from tests.helpers import (
    PASSWORD,
    GraphQLClient,
    admin_token,
    customer_token,
    error_codes,
    make_admin,
    make_customer,
)

CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id email firstname lastname group { code } website { code } createdAt }
    customerToken { token expiresAt }
    userErrors { code field message }
  }
}
"""

SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  generateCustomerToken(email: $email, password: $password) {
    customerToken { token expiresAt }
    userErrors { code field message }
  }
}
"""

ADMIN_SIGN_IN = """
mutation SignIn($username: String!, $password: String!) {
  generateAdminToken(username: $username, password: $password) {
    token expiresAt userErrors { code message }
  }
}
"""

ME = "{ customer { id email firstname group { code } website { code name } } }"
REVOKE = "mutation { revokeCustomerToken { revoked } }"


def registration(**overrides: str) -> dict[str, dict[str, str]]:
    data = {
        "email": "  New.Person@EXAMPLE.com ",
        "firstname": "New",
        "lastname": "Person",
        "password": PASSWORD,
    }
    data.update(overrides)
    return {"input": data}


async def test_create_customer_registers_in_the_default_group_and_signs_in(
    gql: GraphQLClient,
) -> None:
    body = await gql(CREATE_CUSTOMER, registration())

    payload = body["data"]["createCustomer"]
    assert payload["userErrors"] == []
    assert payload["customer"]["email"] == "New.Person@example.com"
    assert payload["customer"]["group"] == {"code": "General"}
    assert payload["customer"]["website"] == {"code": "base"}
    me = await gql(ME, token=payload["customerToken"]["token"])
    assert me["data"]["customer"]["email"] == "New.Person@example.com"
    stored = await Customer.get(email="New.Person@example.com")
    assert stored.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"email": "not-an-email"}, "INVALID_EMAIL", ["input", "email"]),
        ({"email": "a@b@c.com"}, "INVALID_EMAIL", ["input", "email"]),
        ({"email": "x" * 5000 + "@example.com"}, "INVALID_EMAIL", ["input", "email"]),
        (
            {"email": "evil@example.com\r\nBcc: victim@example.com"},
            "INVALID_EMAIL",
            ["input", "email"],
        ),
        ({"firstname": "   "}, "INVALID_INPUT", ["input", "firstname"]),
        ({"firstname": "A\u0000B"}, "INVALID_INPUT", ["input", "firstname"]),
        ({"lastname": "L" * 300}, "INVALID_INPUT", ["input", "lastname"]),
        ({"lastname": "Bad\u202eName"}, "INVALID_INPUT", ["input", "lastname"]),
        ({"password": "short1A"}, "WEAK_PASSWORD", ["input", "password"]),
        ({"password": "alllowercaseletters"}, "WEAK_PASSWORD", ["input", "password"]),
        ({"password": "P" * 10_000 + "a1"}, "WEAK_PASSWORD", ["input", "password"]),
        ({"password": " Leading-space1"}, "WEAK_PASSWORD", ["input", "password"]),
    ],
)
async def test_create_customer_refuses_bad_input_without_writing(
    gql: GraphQLClient, overrides: dict[str, str], code: str, field: list[str]
) -> None:
    body = await gql(CREATE_CUSTOMER, registration(**overrides))

    payload = body["data"]["createCustomer"]
    assert payload["customer"] is None
    assert payload["customerToken"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert await Customer.all().count() == 0


async def test_create_customer_refuses_an_existing_address_case_insensitively(
    gql: GraphQLClient,
) -> None:
    await make_customer("new.person@example.com")

    body = await gql(CREATE_CUSTOMER, registration())

    errors = body["data"]["createCustomer"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("CUSTOMER_EXISTS", ["input", "email"])]
    assert await Customer.all().count() == 1


async def test_concurrent_registrations_of_one_address_create_one_customer(
    gql: GraphQLClient,
) -> None:
    bodies = await asyncio.gather(*(gql(CREATE_CUSTOMER, registration()) for _ in range(6)))

    created = [b for b in bodies if b["data"]["createCustomer"]["customer"]]
    refused = [
        b["data"]["createCustomer"]["userErrors"][0]["code"] for b in bodies if b not in created
    ]
    assert len(created) == 1
    assert refused == ["CUSTOMER_EXISTS"] * 5
    assert await Customer.all().count() == 1


async def test_create_customer_with_a_made_up_invitation_code_is_refused(
    gql: GraphQLClient,
) -> None:
    body = await gql(CREATE_CUSTOMER, registration(invitationCode="made-up"))

    errors = body["data"]["createCustomer"]["userErrors"]
    assert [e["code"] for e in errors] == ["INVITATION_NOT_VALID"]
    assert await Customer.all().count() == 0


async def test_wrong_types_are_graphql_validation_errors(gql: GraphQLClient) -> None:
    body = await gql(CREATE_CUSTOMER, {"input": {"email": 5, "firstname": ["x"]}})

    assert body["data"] is None
    assert body["errors"]
    assert "INTERNAL" not in error_codes(body)


async def test_sign_in_gives_a_token_that_expires_in_an_hour(gql: GraphQLClient) -> None:
    await make_customer("alice@example.com")

    body = await gql(SIGN_IN, {"email": "ALICE@example.com ", "password": PASSWORD})

    token = body["data"]["generateCustomerToken"]["customerToken"]
    assert body["data"]["generateCustomerToken"]["userErrors"] == []
    stored = await AccessToken.get()
    assert stored.token_hash != token["token"]
    assert timedelta(minutes=59) < stored.expires_at - utcnow() <= timedelta(hours=1)
    me = await gql(ME, token=token["token"])
    assert me["data"]["customer"]["email"] == "alice@example.com"


async def test_wrong_password_and_unknown_email_give_the_same_error(gql: GraphQLClient) -> None:
    await make_customer("alice@example.com")

    wrong = await gql(SIGN_IN, {"email": "alice@example.com", "password": "Wrong-pass-1"})
    unknown = await gql(SIGN_IN, {"email": "bob@example.com", "password": PASSWORD})

    assert wrong["data"] == unknown["data"]
    assert wrong["data"]["generateCustomerToken"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_five_failures_hold_off_that_address_but_never_lock_the_owner_out(
    gql: GraphQLClient, settings: Settings
) -> None:
    # Given a guesser at 203.0.113.7 failing five times on Alice's account
    await make_customer("alice@example.com")
    bad = {"email": "alice@example.com", "password": "Wrong-pass-1"}
    codes = []
    for _ in range(5):
        body = await gql(SIGN_IN, bad)
        codes.append(body["data"]["generateCustomerToken"]["userErrors"][0]["code"])

    # When the guesser tries the right password, and Alice signs in from her own address
    guesser = await gql(SIGN_IN, {"email": "alice@example.com", "password": PASSWORD})
    async with client_at(settings, "198.51.100.20") as alice:
        owner = await alice(SIGN_IN, {"email": "alice@example.com", "password": PASSWORD})

    # Then only the guesser is held off
    assert codes == ["INVALID_CREDENTIALS"] * 4 + ["ACCOUNT_LOCKED"]
    [error] = guesser["data"]["generateCustomerToken"]["userErrors"]
    assert error["code"] == "ACCOUNT_LOCKED"
    assert "from your address" in error["message"]
    assert owner["data"]["generateCustomerToken"]["userErrors"] == []
    assert owner["data"]["generateCustomerToken"]["customerToken"] is not None


@asynccontextmanager
async def client_at(settings: Settings, address: str) -> AsyncIterator[GraphQLClient]:
    """A client of the app from another address than the `gql` fixture's."""
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


async def test_expired_token_is_unauthenticated(gql: GraphQLClient) -> None:
    customer = await make_customer()
    token = await customer_token(customer)
    await AccessToken.all().update(expires_at=utcnow() - timedelta(seconds=1))

    body = await gql(ME, token=token)

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "expired" in body["errors"][0]["message"]


async def test_revoked_token_stops_working(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer())

    first = await gql(REVOKE, token=token)
    second = await gql(REVOKE, token=token)

    assert first["data"]["revokeCustomerToken"] == {"revoked": True}
    assert error_codes(second) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(ME, token=token)) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer ",
        b"Bearer nonsense",
        b"Basic dXNlcjpwYXNz",
        b"Bearer " + b"x" * 10_000,
        b"Bearer \x01\xff\xfe",
    ],
)
async def test_garbage_tokens_are_unauthenticated(gql: GraphQLClient, authorization: bytes) -> None:
    response = await gql.http.post(
        "/graphql", json={"query": ME}, headers={"Authorization": authorization}
    )

    assert response.status_code == 200
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_admin_token_is_forbidden_on_customer_fields(gql: GraphQLClient) -> None:
    token = await admin_token(await make_admin())

    body = await gql(ME, token=token)

    assert error_codes(body) == ["FORBIDDEN"]


async def test_admin_sign_in_gives_a_four_hour_token(gql: GraphQLClient) -> None:
    await make_admin("boss")

    body = await gql(ADMIN_SIGN_IN, {"username": "boss", "password": PASSWORD})

    payload = body["data"]["generateAdminToken"]
    assert payload["userErrors"] == []
    stored = await AccessToken.get()
    assert timedelta(hours=3, minutes=59) < stored.expires_at - utcnow() <= timedelta(hours=4)
    stores = await gql("{ websites { code } storeViews { code locale } }", token=payload["token"])
    assert stores["data"]["websites"] == [{"code": "base"}]
    assert [s["code"] for s in stores["data"]["storeViews"]] == ["default", "sv", "zh"]


async def test_admin_lockout_and_uniform_errors(gql: GraphQLClient) -> None:
    await make_admin("boss")

    unknown = await gql(ADMIN_SIGN_IN, {"username": "nobody", "password": PASSWORD})
    codes = []
    for _ in range(5):
        body = await gql(ADMIN_SIGN_IN, {"username": "boss", "password": "Wrong-pass-1"})
        codes.append(body["data"]["generateAdminToken"]["userErrors"][0]["code"])

    assert unknown["data"]["generateAdminToken"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    assert codes == ["INVALID_CREDENTIALS"] * 4 + ["ACCOUNT_LOCKED"]


async def test_an_overlong_admin_username_is_an_unknown_one(gql: GraphQLClient) -> None:
    # Found by the fuzzer: Tortoise refused the filter value and the request failed INTERNAL.
    body = await gql(ADMIN_SIGN_IN, {"username": "Ṱ̺̺̕o͞" * 100, "password": PASSWORD})

    assert body["data"]["generateAdminToken"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_store_lists_refuse_customers_and_anonymous(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer())

    as_customer = await gql("{ customerGroups { code } }", token=token)
    anonymous = await gql("{ customerGroups { code } }")

    assert error_codes(as_customer) == ["FORBIDDEN"]
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
