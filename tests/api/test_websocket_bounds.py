"""WebSocket messages are bounded as HTTP bodies are, and an anonymous connection may send little
before its connection_init is accepted: over a real uvicorn, with a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.websocket import MAX_BYTES_BEFORE_ACK, MAX_MESSAGES_BEFORE_ACK
from config import Settings
from tests.live import PROTOCOL, live_server

INIT = json.dumps({"type": "connection_init", "payload": {}})


@asynccontextmanager
async def socket(url: str) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=[PROTOCOL], open_timeout=5) as ws:  # type: ignore[list-item]
        yield ws


async def acknowledged(ws: ClientConnection) -> None:
    await ws.send(INIT)
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """The close code and reason, once the server closes (every other message is skipped)."""

    async def read_on() -> None:
        while True:
            await asyncio.wait_for(ws.recv(), 5)

    with pytest.raises(ConnectionClosed) as closed:
        await read_on()
    received = closed.value.rcvd
    assert received is not None
    return received.code, received.reason


def ping(padding: int) -> str:
    return json.dumps({"type": "ping", "payload": {"pad": "x" * padding}})


@pytest.fixture
async def url(settings: Settings) -> AsyncIterator[str]:
    # uvicorn's own bound (16 MiB) is left as it is: the app's holds by itself.
    async with live_server(settings) as address:
        yield address


async def test_a_message_over_the_body_limit_closes_the_connection(
    url: str, settings: Settings
) -> None:
    async with socket(url) as ws:
        await acknowledged(ws)
        await ws.send(ping(settings.max_body_bytes // 2))  # taken: answered
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"

        await ws.send(ping(settings.max_body_bytes))

        code, reason = await closed_with(ws)
    assert code == 1009
    assert reason == f"Message too big: at most {settings.max_body_bytes} bytes"


async def test_before_connection_init_a_message_is_bounded_smaller(url: str) -> None:
    async with socket(url) as ws:
        await ws.send(ping(MAX_BYTES_BEFORE_ACK))

        code, reason = await closed_with(ws)
    assert code == 1009
    assert reason == f"Message too big: at most {MAX_BYTES_BEFORE_ACK} bytes"


async def test_before_connection_init_only_a_few_messages_are_taken(url: str) -> None:
    async with socket(url) as ws:
        for _ in range(MAX_MESSAGES_BEFORE_ACK):
            await ws.send(ping(0))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"

        await ws.send(ping(0))

        assert await closed_with(ws) == (4429, "Too many messages before connection_init")


async def test_a_connection_that_never_initialises_is_closed(settings: Settings) -> None:
    quick = settings.model_copy(update={"ws_init_timeout_seconds": 0.3})
    async with live_server(quick) as address, socket(address) as ws:
        assert (await closed_with(ws))[0] == 4408


@pytest.mark.parametrize(
    "message",
    ["null", "123", '"abc"', "[]", "[" * 100 + "]" * 100, '{"type": "ping"'],
)
async def test_a_message_that_is_not_a_json_object_closes_with_4400(url: str, message: str) -> None:
    async with socket(url) as ws:
        await ws.send(message)

        assert (await closed_with(ws))[0] == 4400


async def test_served_as_serve_does_uvicorn_refuses_a_large_message_itself(
    settings: Settings,
) -> None:
    async with live_server(settings, as_served=True) as address, socket(address) as ws:
        await acknowledged(ws)
        await ws.send(ping(settings.max_body_bytes))

        code, reason = await closed_with(ws)
    assert code == 1009
    assert not reason.startswith("Message too big")  # uvicorn's words: the app never read it
