"""The production profile beyond tests/schema/test_guards.py: introspection in every form, masked
errors, and the browser origins allowed for CORS and WebSockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Message

from app import create_app
from config import Settings
from tests.helpers import GraphQLClient, admin_token, error_codes, make_admin

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.net"


def production_settings(settings: Settings, **overrides: Any) -> Settings:
    return Settings(
        env="production",
        database_url=settings.database_url,
        secret_key="p" * 48,
        smtp_url="smtp://127.0.0.1:2525",
        cors_origins=[SHOP],
        **overrides,
    )


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[GraphQLClient]:
    app = create_app(production_settings(settings), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example.com") as client:
        yield GraphQLClient(client)


@pytest.mark.parametrize(
    "document",
    [
        '{ __type(name: "Query") { fields { name } } }',
        "{ __schema { types { name } } }",
        "query { ...F } fragment F on Query { __schema { queryType { name } } }",
        "{ a: __schema { queryType { name } } }",
    ],
)
async def test_production_refuses_introspection_in_every_form(
    production: GraphQLClient, document: str
) -> None:
    body = await production(document)

    assert body["data"] is None
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_production_still_answers_typename(production: GraphQLClient) -> None:
    # Clients (Apollo, urql) add __typename everywhere; it reveals nothing beyond the query.
    assert await production("{ __typename }") == {"data": {"__typename": "Query"}}


async def test_production_suggests_no_types_or_arguments(production: GraphQLClient) -> None:
    scoped = "query($s: SettingsScope) { invitationSettings(scope: $s) { enabled } }"
    typos: list[tuple[str, dict[str, Any]]] = [
        ("query($s: SettingsScop) { invitationSettings(scope: $s) { enabled } }", {}),
        ("{ invitationSettings(scop: null) { enabled } }", {}),
        ("{ storefrontInvitationSettings { enable } }", {}),
        ("{ invitationSettings(scope: {type: WEBSIT}) { enabled } }", {}),
        (scoped, {"s": {"type": "WEBSIT"}}),
        (scoped, {"s": {"typ": "WEBSITE"}}),
    ]

    messages = [(await production(typo, v))["errors"][0]["message"] for typo, v in typos]

    assert all("Did you mean" not in message for message in messages), messages
    assert all("WEBSITE'" not in m and "'scope'" not in m for m in messages), messages


async def test_production_masks_unexpected_errors(
    production: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(info: object) -> list[object]:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    from api.schema import Query

    field = next(f for f in Query.__strawberry_definition__.fields if f.name == "websites")
    monkeypatch.setattr(field.base_resolver, "wrapped_func", explode)
    token = await admin_token(await make_admin())

    body = await production("{ websites { code } }", token=token)

    assert error_codes(body) == ["INTERNAL"]
    assert body["errors"][0]["message"] == "Internal server error."
    assert "hunter2" not in str(body)
    assert "db.internal" not in str(body)


async def test_production_refuses_queries_over_get_even_as_json(production: GraphQLClient) -> None:
    response = await production.http.get(
        "/graphql",
        params={"query": "mutation { revokeCustomerToken { revoked } }"},
        headers={"Accept": "application/json"},
    )

    assert response.status_code in (400, 405)


# ---------------------------------------------------------------- CORS


async def test_cors_preflight_from_an_allowed_origin_is_answered(production: GraphQLClient) -> None:
    response = await production.http.options(
        "/graphql",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, store",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_cors_preflight_from_another_origin_is_refused(production: GraphQLClient) -> None:
    response = await production.http.options(
        "/graphql",
        headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_a_page_of_another_origin_cannot_read_answers(production: GraphQLClient) -> None:
    allowed = await production.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": SHOP}
    )
    refused = await production.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": EVIL}
    )

    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert "access-control-allow-origin" not in refused.headers


async def test_by_default_no_other_origin_is_allowed(gql: GraphQLClient) -> None:
    response = await gql.http.options(
        "/graphql", headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"}
    )

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_allowed_origins_are_read_comma_separated_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "INVITATIONS_CORS_ORIGINS", "https://Shop.Example.com:443, http://a.test:8080"
    )

    assert Settings().cors_origins == ["http://a.test:8080", "https://shop.example.com"]
    with pytest.raises(ValueError, match="Invalid origin"):
        Settings(cors_origins=["https://shop.example.com/path"])


# ---------------------------------------------------------------- WebSocket handshakes


async def handshake(app: Any, headers: dict[str, str]) -> Message:
    """Opens a WebSocket to /graphql and returns the app's first answer (accept or close)."""
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"sec-websocket-protocol", b"graphql-transport-ws")],
        "client": ("203.0.113.9", 50000),
        "server": ("api.example.com", 443),
        "subprotocols": ["graphql-transport-ws"],
        "state": {},
    }
    incoming: asyncio.Queue[Message] = asyncio.Queue()
    await incoming.put({"type": "websocket.connect"})
    sent: asyncio.Queue[Message] = asyncio.Queue()
    task = asyncio.create_task(app(scope, incoming.get, sent.put))
    first = await asyncio.wait_for(sent.get(), timeout=5)
    await incoming.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, timeout=5)
    return first


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (SHOP, True),
        (None, True),  # not a browser: no ambient credentials to abuse
        ("https://api.example.com", True),  # the API's own origin
        (EVIL, False),
        ("null", False),
    ],
)
async def test_websocket_handshakes_from_other_origins_are_refused(
    settings: Settings, origin: str | None, accepted: bool
) -> None:
    app = create_app(production_settings(settings), manage_database=False)
    headers = {"host": "api.example.com"}
    if origin is not None:
        headers["origin"] = origin

    first = await handshake(app, headers)

    assert first["type"] == ("websocket.accept" if accepted else "websocket.close")
