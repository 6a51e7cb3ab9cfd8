"""Store scope, masking, GraphQL limits and the production profile, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app import create_app
from config import Settings
from resolvers import store
from tests.helpers import (
    PASSWORD,
    GraphQLClient,
    admin_token,
    error_codes,
    make_admin,
    make_customer,
)

SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  generateCustomerToken(email: $email, password: $password) {
    customerToken { token } userErrors { code }
  }
}
"""
INTROSPECTION = "{ __schema { queryType { name } } }"


async def test_store_header_selects_a_store_view_of_the_same_website(gql: GraphQLClient) -> None:
    await make_customer("alice@example.com")

    body = await gql(SIGN_IN, {"email": "alice@example.com", "password": PASSWORD}, store="sv")

    assert body["data"]["generateCustomerToken"]["customerToken"] is not None


@pytest.mark.parametrize("code", ["nope", "x" * 500, "default\r\nX-Evil: 1"[:7] + "'--"])
async def test_unknown_store_code_is_a_clear_error(gql: GraphQLClient, code: str) -> None:
    body = await gql(SIGN_IN, {"email": "a@example.com", "password": PASSWORD}, store=code)

    assert body["data"] is None
    assert error_codes(body) == ["BAD_REQUEST"]
    assert "Store header" in body["errors"][0]["message"]


async def test_unexpected_errors_are_masked_as_internal(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def explode(info: object) -> list[object]:
        raise RuntimeError("secret database detail")

    monkeypatch.setattr(store, "websites", explode)
    # The field's resolver was bound when the schema was built: patch the bound function instead.
    from api.schema import Query

    field = next(f for f in Query.__strawberry_definition__.fields if f.name == "websites")
    monkeypatch.setattr(field.base_resolver, "wrapped_func", explode)
    token = await admin_token(await make_admin())

    body = await gql("{ websites { code } }", token=token)

    assert error_codes(body) == ["INTERNAL"]
    assert "secret" not in str(body)


async def test_depth_limit(settings: Settings) -> None:
    # The schema has no cycles yet, so a small limit shows the rule at work.
    shallow = Settings(**{**settings.model_dump(), "max_query_depth": 1})
    transport = httpx.ASGITransport(app=create_app(shallow, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        gql = GraphQLClient(client)
        ok = await gql("{ customer { id email } }")
        too_deep = await gql("{ customer { website { id } } }")
        via_fragment = await gql(
            "query { customer { ...F } } fragment F on Customer { website { id } group { code } }"
        )

    assert error_codes(ok) == ["UNAUTHENTICATED"]
    for refused in (too_deep, via_fragment):
        assert refused["data"] is None
        assert "exceeds maximum operation depth of 1" in refused["errors"][0]["message"]


async def test_alias_limit(gql: GraphQLClient) -> None:
    many = "{ " + " ".join(f"a{i}: __typename" for i in range(100)) + " }"

    body = await gql(many)

    assert body["data"] is None
    assert "aliases" in body["errors"][0]["message"]


async def test_token_limit(gql: GraphQLClient) -> None:
    many = "{ " + " ".join("__typename" for _ in range(5000)) + " }"

    body = await gql(many)

    assert body["data"] is None
    assert "token" in body["errors"][0]["message"].lower()


async def test_development_serves_graphiql_and_introspection(gql: GraphQLClient) -> None:
    page = await gql.http.get("/graphql", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert (await gql(INTROSPECTION))["data"]["__schema"]["queryType"]["name"] == "Query"


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[GraphQLClient]:
    prod = Settings(
        env="production",
        database_url=settings.database_url,
        secret_key="p" * 48,
        smtp_url="smtp://127.0.0.1:2525",
    )
    transport = httpx.ASGITransport(app=create_app(prod, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield GraphQLClient(client)


async def test_production_switches_off_graphiql_introspection_and_suggestions(
    production: GraphQLClient,
) -> None:
    page = await production.http.get("/graphql", headers={"Accept": "text/html"})
    introspection = await production(INTROSPECTION)
    typo = await production("{ custome { id } }")

    assert page.status_code != 200 or "graphiql" not in page.text.lower()
    assert introspection["data"] is None
    assert "introspection" in introspection["errors"][0]["message"].lower()
    assert "Did you mean" not in typo["errors"][0]["message"]


async def test_queries_over_get_are_refused(production: GraphQLClient, gql: GraphQLClient) -> None:
    for client in (production, gql):
        response = await client.http.get(
            "/graphql", params={"query": "{ __typename }"}, headers={"Accept": "application/json"}
        )
        assert response.status_code in (400, 405)


@pytest.mark.parametrize("secret", ["development-only-secret-key-change-me", "short"])
def test_production_refuses_a_default_or_short_secret(secret: str) -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(env="production", secret_key=secret)


def test_production_refuses_the_test_password_profile() -> None:
    with pytest.raises(ValueError, match="tests only"):
        Settings(env="production", secret_key="p" * 48, password_hash_profile="cheapest")


async def test_health_readiness_and_metrics(gql: GraphQLClient) -> None:
    assert (await gql.http.get("/healthz")).json() == {"status": "ok"}
    assert (await gql.http.get("/readyz")).json() == {"status": "ok"}
    metrics = await gql.http.get("/metrics")
    assert metrics.status_code == 200
    assert "python_info" in metrics.text
