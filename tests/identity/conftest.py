"""Fixtures of the identity tests: a provider serving its JWKS on loopback, and the app
configured to trust it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app import create_app
from config import Settings
from tests.helpers import GraphQLClient, error_codes
from tests.identity.provider import AUDIENCE, ISSUER, Provider, SigningKey, serve_jwks


@pytest.fixture
def provider() -> Iterator[Provider]:
    with serve_jwks(Provider(keys=[SigningKey.rsa()])) as served:
        yield served


def provider_settings(settings: Settings, url: str, refetch_seconds: float = 60) -> Settings:
    return Settings(
        **{
            **settings.model_dump(),
            "customer_jwt_issuer": ISSUER,
            "customer_jwt_jwks_url": url,
            "customer_jwt_audience": AUDIENCE,
            "admin_jwt_issuer": ISSUER + "-staff",
            "admin_jwt_jwks_url": url,
            "admin_jwt_audience": AUDIENCE,
            "jwt_keys_refetch_seconds": refetch_seconds,
        }
    )


@pytest.fixture
async def client(settings: Settings, provider: Provider) -> AsyncIterator[GraphQLClient]:
    app = create_app(provider_settings(settings, provider.url), manage_database=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


def refused_because(body: dict[str, object], words: str) -> None:
    assert error_codes(body) == ["UNAUTHENTICATED"], body
    message = body["errors"][0]["message"]  # type: ignore[index]
    assert words in message, message
