"""Abuse limits over HTTP: sign-in, registration, code look-ups and sending, per client address
and per account; and the bounded lists of a request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app import create_app
from config import Settings
from models.invitation import Invitation
from tests.helpers import (
    PASSWORD,
    GraphQLClient,
    customer_token,
    error_codes,
    make_admin,
    make_customer,
)
from tests.invitation_factories import set_settings

CUSTOMER_SIGN_IN = """
mutation($email: String!, $password: String!) {
  generateCustomerToken(email: $email, password: $password) { userErrors { code } }
}
"""
ADMIN_SIGN_IN = """
mutation($username: String!, $password: String!) {
  generateAdminToken(username: $username, password: $password) { userErrors { code } }
}
"""
CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { userErrors { code } } }
"""
BY_CODE = "query($code: String!) { invitationByCode(code: $code) { status } }"
SEND = """
mutation($input: SendInvitationsInput!) {
  sendInvitations(input: $input) { invitations { email } userErrors { code field } }
}
"""

# Every limit of the app under test: small, so a test reaches it in a few requests.
PER_ADDRESS = 3
PER_ACCOUNT = 2


@dataclass
class Clients:
    """One app (one set of limits) seen from as many client addresses as a test wants."""

    app: Any

    def at(self, address: str) -> GraphQLClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 50000))
        return GraphQLClient(httpx.AsyncClient(transport=transport, base_url="http://testserver"))


@pytest.fixture
def clients(settings: Settings) -> Clients:
    limited = Settings(
        **{
            **settings.model_dump(),
            "rate_limit_sign_in_per_address": PER_ADDRESS,
            "rate_limit_sign_in_per_account": PER_ACCOUNT,
            "rate_limit_create_customer_per_address": PER_ADDRESS,
            "rate_limit_create_customer_per_account": PER_ACCOUNT,
            "rate_limit_code_lookup_per_address": PER_ADDRESS,
            "rate_limit_send_invitations_per_address": PER_ADDRESS,
            "rate_limit_send_invitations_per_account": PER_ACCOUNT,
        }
    )
    return Clients(create_app(limited, manage_database=False))


@dataclass(frozen=True)
class Attempt:
    """One try at a limited action by account number `n`, with the token it needs."""

    document: str
    variables: Callable[[int, int], dict[str, Any]]
    token: Callable[[int], Awaitable[str | None]] | None = None


async def _no_token(n: int) -> str | None:
    return None


async def _customer_token(n: int) -> str | None:
    customer = await make_customer(f"inviter{n}@example.com")
    return await customer_token(customer)


def _registration(n: int, i: int) -> dict[str, Any]:
    email = f"new{n}@example.com"
    return {"input": {"email": email, "firstname": "N", "lastname": "N", "password": PASSWORD}}


ATTEMPTS = {
    "generateCustomerToken": Attempt(
        CUSTOMER_SIGN_IN, lambda n, i: {"email": f"c{n}@example.com", "password": "wrong"}
    ),
    "generateAdminToken": Attempt(
        ADMIN_SIGN_IN, lambda n, i: {"username": f"admin{n}", "password": "wrong"}
    ),
    "createCustomer": Attempt(CREATE_CUSTOMER, _registration),
    "sendInvitations": Attempt(
        SEND,
        lambda n, i: {"input": {"emails": [f"friend{n}-{i}@example.com"]}},
        token=_customer_token,
    ),
}


@pytest.mark.parametrize("field", [*ATTEMPTS, "invitationByCode"])
async def test_one_client_address_gets_its_limit_then_rate_limited(
    clients: Clients, field: str
) -> None:
    attempt = ATTEMPTS.get(field, Attempt(BY_CODE, lambda n, i: {"code": f"guess-{n}"}))
    token_for = attempt.token or _no_token
    gql = clients.at("198.51.100.1")
    # A new account each time, so only the address is counted.
    tokens = [await token_for(n) for n in range(PER_ADDRESS + 1)]

    allowed = [
        await gql(attempt.document, attempt.variables(n, 0), token=tokens[n])
        for n in range(PER_ADDRESS)
    ]
    refused = await gql(attempt.document, attempt.variables(PER_ADDRESS, 0), token=tokens[-1])
    elsewhere = await clients.at("198.51.100.2")(
        attempt.document, attempt.variables(PER_ADDRESS, 1), token=tokens[-1]
    )

    assert all("errors" not in body for body in allowed), allowed
    assert error_codes(refused) == ["RATE_LIMITED"]
    assert refused["data"] in (None, {field: None})
    assert "try again later" in refused["errors"][0]["message"]
    assert "errors" not in elsewhere, elsewhere


@pytest.mark.parametrize("field", ATTEMPTS)
async def test_one_account_gets_its_limit_from_any_number_of_addresses(
    clients: Clients, field: str
) -> None:
    attempt = ATTEMPTS[field]
    token = await (attempt.token or _no_token)(0)
    other_token = await (attempt.token or _no_token)(1)

    allowed = [
        await clients.at(f"198.51.100.{i}")(attempt.document, attempt.variables(0, i), token=token)
        for i in range(PER_ACCOUNT)
    ]
    refused = await clients.at("198.51.100.99")(
        attempt.document, attempt.variables(0, 99), token=token
    )
    other_account = await clients.at("198.51.100.99")(
        attempt.document, attempt.variables(1, 99), token=other_token
    )

    assert all("errors" not in body for body in allowed), allowed
    assert error_codes(refused) == ["RATE_LIMITED"]
    assert "errors" not in other_account, other_account


async def test_an_account_is_counted_whatever_the_case_or_spaces_of_its_name(
    clients: Clients,
) -> None:
    await make_admin("root")
    spellings = ["root", " ROOT ", "Root"]

    bodies = [
        await clients.at(f"198.51.100.{i}")(ADMIN_SIGN_IN, {"username": u, "password": "x"})
        for i, u in enumerate(spellings)
    ]

    assert [error_codes(b) for b in bodies] == [[], [], ["RATE_LIMITED"]]


async def test_a_rate_limited_send_writes_nothing(clients: Clients) -> None:
    token = await _customer_token(0)
    gql = clients.at("198.51.100.1")
    for i in range(PER_ACCOUNT):
        await gql(SEND, {"input": {"emails": [f"f{i}@example.com"]}}, token=token)

    refused = await gql(SEND, {"input": {"emails": ["late@example.com"]}}, token=token)

    assert error_codes(refused) == ["RATE_LIMITED"]
    assert await Invitation.filter(email="late@example.com").count() == 0


def test_limits_are_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVITATIONS_RATE_LIMIT_SIGN_IN_PER_ACCOUNT", "4")
    monkeypatch.setenv("INVITATIONS_RATE_LIMIT_WINDOW_SECONDS", "300")
    monkeypatch.setenv("INVITATIONS_SENDING_PAUSED", "true")

    configured = Settings()

    assert configured.rate_limit_sign_in_per_account == 4
    assert configured.rate_limit_window_seconds == 300
    assert configured.sending_paused is True
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings(rate_limit_code_lookup_per_address=0)


# ---------------------------------------------------------------- bounded lists


async def test_sending_to_more_addresses_than_the_most_allowed_is_refused_whole(
    gql: GraphQLClient,
) -> None:
    await set_settings(max_invitations_per_send=1000)
    token = await customer_token(await make_customer())
    # About a megabyte of addresses: under the body limit, far over any setting.
    emails = [f"a{i}@example.com" for i in range(50_000)]

    body = await gql(SEND, {"input": {"emails": emails}}, token=token)

    payload = body["data"]["sendInvitations"]
    assert payload["invitations"] == []
    assert payload["userErrors"] == [{"code": "TOO_MANY_RECIPIENTS", "field": ["input", "emails"]}]
    assert await Invitation.all().count() == 0


async def test_a_body_over_the_limit_is_refused_before_graphql(gql: GraphQLClient) -> None:
    token = await customer_token(await make_customer())
    emails = [f"address-number-{i}@example.com" for i in range(100_000)]  # about 3.5 MB

    response = await gql.http.post(
        "/graphql",
        json={"query": SEND, "variables": {"input": {"emails": emails}}},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 413
    assert await Invitation.all().count() == 0
