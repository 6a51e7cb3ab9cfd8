"""`serve` while its database is down: 503 SERVICE_UNAVAILABLE as JSON, two log lines per outage,
and normal answers within a second of the database's return."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from config import Settings
from mailer.sink import HOST, free_port
from tests.cluster import environment, needs_cluster, spawn, start_database, stop_database
from tests.helpers import customer_token, make_customer

pytestmark = needs_cluster

TYPENAME = '{"query": "{ __typename }"}'
# Reaches the database in a resolver, with no token (so not in the view's context).
SETTINGS = '{"query": "{ storefrontInvitationSettings { enabled } }"}'
GRAPHQL_RESPONSE = "application/graphql-response+json"


def _assert_unavailable(response: httpx.Response, media_type: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith(media_type)
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"]
    assert body.get("data") is None


async def _until_ok(client: httpx.AsyncClient, token: str) -> float:
    """Seconds until a signed-in request is answered normally again."""
    start = time.monotonic()
    while True:
        response = await client.post("/graphql", content=TYPENAME, headers=_headers(token))
        if response.status_code == 200:
            assert response.json() == {"data": {"__typename": "Query"}}
            return time.monotonic() - start
        _assert_unavailable(response, "application/json")
        assert time.monotonic() - start < 5, "still refused 5 s after the database came back"
        await asyncio.sleep(0.02)


def _headers(token: str | None = None, accept: str = "application/json") -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": accept}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


async def test_serve_answers_503_json_while_the_database_is_down_and_recovers_at_once(
    settings: Settings, tmp_path: Path
) -> None:
    # Given a running `serve` that has answered requests, signed in and not
    token = await customer_token(await make_customer())
    port = free_port()
    env = environment(settings, INVITATIONS_PORT=str(port), INVITATIONS_MAILER_IN_PROCESS="false")
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = await spawn(env, log, "serve")
    try:
        refused: list[int] = []  # 503s from /graphql, in each outage

        async def count(response: httpx.Response) -> None:
            if response.status_code == 503 and response.url.path == "/graphql":
                refused[-1] += 1

        async with httpx.AsyncClient(
            base_url=f"http://{HOST}:{port}", timeout=10, event_hooks={"response": [count]}
        ) as client:
            for _ in range(200):
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert (await client.post("/graphql", content=SETTINGS, headers=_headers())).json() == {
                "data": {"storefrontInvitationSettings": {"enabled": True}}
            }

            # When the database goes away, a resolver is the first to find out
            stop_database()
            refused.append(0)
            try:
                first = await client.post(
                    "/graphql", content=SETTINGS, headers=_headers(accept=GRAPHQL_RESPONSE)
                )
                # Then every answer is a 503 in the media type asked for, and /readyz is 503
                _assert_unavailable(first, GRAPHQL_RESPONSE)
                for accept in ("application/json", GRAPHQL_RESPONSE):
                    for body, token_given in (
                        (TYPENAME, None),
                        (TYPENAME, token),
                        (SETTINGS, None),
                    ):
                        response = await client.post(
                            "/graphql", content=body, headers=_headers(token_given, accept)
                        )
                        _assert_unavailable(response, accept)
                for _ in range(3):
                    assert (await client.get("/readyz")).status_code == 503
            finally:
                start_database()
            # And signed-in requests are answered normally within a second
            assert await _until_ok(client, token) < 1.0

            # When it goes away again, the token look-up in the view's context finds out first
            stop_database()
            refused.append(0)
            try:
                response = await client.post("/graphql", content=TYPENAME, headers=_headers(token))
                _assert_unavailable(response, "application/json")
                response = await client.post(
                    "/graphql", content=TYPENAME, headers=_headers(token, GRAPHQL_RESPONSE)
                )
                _assert_unavailable(response, GRAPHQL_RESPONSE)
            finally:
                start_database()
            assert await _until_ok(client, token) < 1.0
            assert (await client.get("/readyz")).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        # (uvicorn shuts down, then raises the signal again: killed by SIGTERM, cleanly)
        assert await process.wait() in (0, -signal.SIGTERM)

    # Then each outage was logged twice, with the requests it refused, and no traceback
    log = log_path.read_text()
    outage_lines = [line for line in log.splitlines() if "database " in line]
    assert len([line for line in outage_lines if "database unreachable" in line]) == 2, log
    back = [line for line in outage_lines if "database back after" in line]
    assert len(back) == 2, log
    assert [f"{n} requests refused" in line for n, line in zip(refused, back, strict=True)] == [
        True,
        True,
    ], log
    assert "Traceback" not in log
