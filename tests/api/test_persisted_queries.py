"""Automatic persisted queries over real HTTP (uvicorn): Apollo's protocol by hand, GET with
Cache-Control, the bounds, two processes' worth of apps on one database, and persisted-only mode."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from config import Settings
from domain import persisted_queries
from models.persisted_queries import PersistedQuery
from tests.helpers import admin_token, make_admin
from tests.live import live_client, live_server

STORE_VIEWS = "query StoreViews { storeViews { code locale } }"
SETTINGS = "query Settings { storefrontInvitationSettings { enabled } }"
WEBSITES = "query Websites { websites { code } }"
CODE_LOOKUP = "query Lookup($code: String!) { invitationByCode(code: $code) { status } }"
SIGN_IN = (
    "mutation SignIn($u: String!, $p: String!) "
    "{ generateAdminToken(username: $u, password: $p) { __typename } }"
)
MY_UPDATES = "subscription Mine { myInvitationUpdates { id } }"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def extension(query: str, sha: str | None = None) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha or sha256(query)}}


@asynccontextmanager
async def served(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app served by a real uvicorn (its own view, caches and all)."""
    async with live_server(settings.model_copy(update=changes)) as ws_url:
        base = "http" + ws_url.removeprefix("ws").removesuffix("/graphql")
        async with httpx.AsyncClient(base_url=base) as client:
            yield client


async def by_hash(
    client: httpx.AsyncClient, query: str, *, accept: str | None = None, **body: Any
) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return await client.post(
        "/graphql", json={"extensions": extension(query), **body}, headers=headers
    )


async def with_query(client: httpx.AsyncClient, query: str, **body: Any) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "extensions": extension(query), **body}
    )


async def get(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None, **params: Any
) -> httpx.Response:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return await client.get(
        "/graphql",
        params={"extensions": json.dumps(extension(query)), **encoded},
        headers=headers or {},
    )


def error(response: httpx.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    first: dict[str, Any] = errors[0]
    return first


@pytest.mark.parametrize("accept", [None, "application/json", GRAPHQL_RESPONSE])
async def test_an_unknown_hash_is_not_found_then_registered_then_found(
    settings: Settings, accept: str | None
) -> None:
    async with served(settings) as client:
        miss = await by_hash(client, STORE_VIEWS, accept=accept)
        registered = await with_query(client, STORE_VIEWS)
        hit = await by_hash(client, STORE_VIEWS, accept=accept)

    # As Apollo Server answers it, whatever the media type: Apollo Client's link retries on it.
    assert miss.status_code == 200
    assert miss.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"
    assert registered.status_code == 200
    assert [v["code"] for v in registered.json()["data"]["storeViews"]] == ["default", "sv", "zh"]
    assert hit.status_code == 200
    assert hit.json() == registered.json()
    row = await PersistedQuery.get(sha256=sha256(STORE_VIEWS))
    assert row.document == STORE_VIEWS


async def test_a_hash_that_is_not_the_querys_is_refused_and_nothing_is_registered(
    settings: Settings,
) -> None:
    async with served(settings) as client:
        mismatch = await client.post(
            "/graphql",
            json={"query": STORE_VIEWS, "extensions": extension(STORE_VIEWS, sha256(SETTINGS))},
        )
        upper = await client.post(
            "/graphql", json={"extensions": extension(STORE_VIEWS, sha256(STORE_VIEWS).upper())}
        )
        bad_version = await client.post(
            "/graphql",
            json={
                "extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha256(STORE_VIEWS)}}
            },
        )
        not_hex = await client.post(
            "/graphql",
            json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}},
        )

    assert mismatch.status_code == 400
    assert "is not the SHA-256 of the query" in error(mismatch)["message"]
    assert upper.status_code == 400
    assert "lower-case hex" in error(upper)["message"]
    assert bad_version.status_code == 400
    assert "version 1" in error(bad_version)["message"]
    assert not_hex.status_code == 400
    assert "lower-case hex" in error(not_hex)["message"]
    assert await PersistedQuery.all().count() == 0


async def test_a_document_that_fails_its_checks_is_not_registered(settings: Settings) -> None:
    too_many_tokens = "{ " + "__typename " * 3000 + "}"
    invalid = "{ noSuchField }"
    async with served(settings) as client:
        big = await with_query(client, too_many_tokens)
        wrong = await with_query(client, invalid)

    assert big.status_code == 200
    assert "token" in error(big)["message"]
    assert wrong.json()["errors"]
    assert await PersistedQuery.all().count() == 0


async def test_a_public_query_by_get_may_be_cached_by_a_cdn(settings: Settings) -> None:
    async with served(settings, public_max_age_seconds=120) as client:
        await with_query(client, STORE_VIEWS)
        await with_query(client, SETTINGS)
        views = await get(client, STORE_VIEWS, operationName="StoreViews")
        in_sv = await get(client, SETTINGS, headers={"Store": "sv"})
        signed_in = await get(client, STORE_VIEWS, headers={"Authorization": "Bearer nope"})

    assert views.status_code == 200
    assert [v["code"] for v in views.json()["data"]["storeViews"]] == ["default", "sv", "zh"]
    assert views.headers["cache-control"] == "public, max-age=120"
    assert views.headers["vary"].startswith("Accept, Store, Authorization")
    assert in_sv.status_code == 200
    assert "enabled" in in_sv.json()["data"]["storefrontInvitationSettings"]
    assert in_sv.headers["cache-control"] == "public, max-age=120"
    # With a token (even a bad one) the answer is that client's own.
    assert signed_in.headers["cache-control"] == "private, no-store"


async def test_any_other_query_by_get_is_private_and_still_authorized(settings: Settings) -> None:
    token = await admin_token(await make_admin())
    async with served(settings) as client:
        await with_query(client, WEBSITES, headers={"Authorization": f"Bearer {token}"})
        anonymous = await get(client, WEBSITES)
        admin = await get(client, WEBSITES, headers={"Authorization": f"Bearer {token}"})
        unknown = await get(client, SETTINGS)

    assert anonymous.status_code == 200
    assert anonymous.json()["data"] is None
    assert error(anonymous)["extensions"]["code"] in {"UNAUTHENTICATED", "FORBIDDEN"}
    assert anonymous.headers["cache-control"] == "private, no-store"
    assert [w["code"] for w in admin.json()["data"]["websites"]] == ["base"]
    assert admin.headers["cache-control"] == "private, no-store"
    assert error(unknown)["message"] == "PersistedQueryNotFound"


async def test_a_mutation_is_never_run_by_get(settings: Settings) -> None:
    await make_admin()
    async with served(settings) as client:
        registered = await with_query(client, SIGN_IN, variables={"u": "nobody", "p": "x"})
        by_get = await get(client, SIGN_IN, variables={"u": "nobody", "p": "x"})
        plain = await client.get("/graphql", params={"query": STORE_VIEWS})

    assert registered.status_code == 200
    assert await PersistedQuery.exists(sha256=sha256(SIGN_IN))
    assert by_get.status_code == 405
    assert by_get.headers["allow"] == "POST"
    assert "mutations by POST" in error(by_get)["message"]
    # A query by GET that is not persisted is refused, as before.
    assert plain.status_code == 400
    assert "persisted queries only" in error(plain)["message"]


async def test_rate_limits_apply_to_persisted_operations(settings: Settings) -> None:
    async with served(settings, rate_limit_code_lookup_per_address=2) as client:
        first = await with_query(client, CODE_LOOKUP, variables={"code": "NOPE"})
        answers = [await by_hash(client, CODE_LOOKUP, variables={"code": "NOPE"}) for _ in range(2)]

    assert first.json()["data"] == {"invitationByCode": None}
    assert answers[0].json()["data"] == {"invitationByCode": None}
    assert error(answers[1])["extensions"]["code"] == "RATE_LIMITED"


async def test_a_query_registered_through_one_app_is_found_by_another(settings: Settings) -> None:
    async with served(settings) as first, served(settings) as second:
        miss_on_second = await by_hash(second, STORE_VIEWS)
        await with_query(first, STORE_VIEWS)
        hit_on_second = await by_hash(second, STORE_VIEWS)

    assert error(miss_on_second)["message"] == "PersistedQueryNotFound"
    assert hit_on_second.status_code == 200
    assert len(hit_on_second.json()["data"]["storeViews"]) == 3


async def test_past_the_bound_documents_run_but_are_not_registered(settings: Settings) -> None:
    async with served(settings, persisted_queries_max=2) as client:
        await with_query(client, STORE_VIEWS)
        await with_query(client, SETTINGS)
        third = await with_query(client, CODE_LOOKUP, variables={"code": "NOPE"})
        third_by_hash = await by_hash(client, CODE_LOOKUP, variables={"code": "NOPE"})
        again = await by_hash(client, STORE_VIEWS)

    assert third.status_code == 200
    assert third.json()["data"] == {"invitationByCode": None}
    notice = third.json()["extensions"]["persistedQuery"]
    assert notice["registered"] is False
    assert "2 persisted queries" in notice["message"]
    assert error(third_by_hash)["message"] == "PersistedQueryNotFound"
    assert again.json()["data"]["storeViews"]
    assert await PersistedQuery.all().count() == 2


async def test_persisted_only_runs_registered_documents_alone(settings: Settings) -> None:
    await persisted_queries.register_all([STORE_VIEWS], limit=10)
    async with served(settings, persisted_only=True) as client:
        plain_registered = await client.post("/graphql", json={"query": STORE_VIEWS})
        registered_by_hash = await by_hash(client, STORE_VIEWS)
        plain_unknown = await client.post("/graphql", json={"query": SETTINGS})
        unknown_by_hash = await by_hash(client, SETTINGS)
        unknown_with_query = await with_query(client, SETTINGS)
        unknown_by_get = await get(client, SETTINGS)

    assert plain_registered.json()["data"]["storeViews"]
    assert registered_by_hash.json()["data"]["storeViews"]
    assert plain_unknown.status_code == 403
    assert error(plain_unknown)["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert "INVITATIONS_PERSISTED_ONLY" in error(plain_unknown)["message"]
    assert error(unknown_by_hash)["message"] == "PersistedQueryNotFound"
    assert unknown_with_query.status_code == 403
    assert error(unknown_with_query)["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert error(unknown_by_get)["message"] == "PersistedQueryNotFound"
    assert await PersistedQuery.all().count() == 1


async def test_over_websocket_persisted_only_runs_registered_documents_alone(
    settings: Settings,
) -> None:
    await persisted_queries.register_all([MY_UPDATES], limit=10)
    async with (
        live_server(settings.model_copy(update={"persisted_only": True})) as url,
        live_client(url) as client,
    ):
        await client.send_raw(
            {"id": "1", "type": "subscribe", "payload": {"extensions": extension(MY_UPDATES)}}
        )
        by_hash = await client.receive()
        await client.send_raw({"id": "2", "type": "subscribe", "payload": {"query": SETTINGS}})
        unknown = await client.receive()

    # The registered subscription ran, and was refused as any would be without a customer token.
    assert by_hash["type"] == "error", by_hash
    assert by_hash["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert by_hash["payload"][0]["locations"] == [{"line": 1, "column": 21}]
    assert unknown["type"] == "error", unknown
    assert unknown["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
