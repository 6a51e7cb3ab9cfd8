"""A real server for live-update tests (uvicorn in this process, on a free port) and a
graphql-transport-ws client on a real WebSocket."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app import create_app
from cli.process import server_config
from config import Settings
from events import BROKER
from mailer.sink import HOST, free_port
from tests.helpers import TEST_SECRET

PROTOCOL = "graphql-transport-ws"
ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def live_server(settings: Settings, *, as_served: bool = False) -> AsyncIterator[str]:
    """The app served by uvicorn on this event loop (the tests' database); yields its ws:// URL.

    Under uvicorn's defaults, or (`as_served`) as `invitations serve` configures it.
    """
    port = free_port()
    app = create_app(settings, manage_database=False)
    if as_served:
        config = server_config(settings.model_copy(update={"host": HOST, "port": port}), app)
        config.log_level = "warning"
    else:
        config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"ws://{HOST}:{port}/graphql"
    finally:
        server.should_exit = True
        await task


class Closed(Exception):
    """The server closed the socket."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class LiveClient:
    """One graphql-transport-ws connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        try:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        except ConnectionClosed as closed:
            raise Closed(closed.rcvd.code if closed.rcvd else None) from None
        return message

    async def nothing_within(self, seconds: float) -> None:
        try:
            message = await self.receive(timeout=seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected nothing, got {message}")

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, *, wait: bool = True
    ) -> str:
        """Start a subscription; with `wait`, return once this process's broker holds it (for a
        server in this process, and a subscription it accepts)."""
        before = BROKER.subscriber_count
        operation_id = str(next(self._ids))
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(
            json.dumps({"id": operation_id, "type": "subscribe", "payload": payload})
        )
        for _ in range(500 if wait else 0):
            if BROKER.subscriber_count > before:
                break
            await asyncio.sleep(0.01)
        return operation_id

    async def send_raw(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next_invitation(self, field: str, timeout: float = 5.0) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        invitation: dict[str, Any] = message["payload"]["data"][field]
        return invitation


@asynccontextmanager
async def live_client(
    url: str,
    *,
    token: str | None = None,
    header_token: str | None = None,
    origin: str | None = None,
    payload: dict[str, Any] | None = None,
) -> AsyncIterator[LiveClient]:
    """A connection acknowledged by the server; `token` goes in the connection_init payload
    (or give the whole `payload`)."""
    headers = {"Authorization": f"Bearer {header_token}"} if header_token else {}
    async with connect(
        url,
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers=headers,
        origin=origin,  # type: ignore[arg-type]
        open_timeout=5,
    ) as ws:
        client = LiveClient(ws)
        if payload is None:
            payload = {"authorization": f"Bearer {token}"} if token else {}
        await client.send_raw({"type": "connection_init", "payload": payload})
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        yield client


async def refused_code(
    url: str, *, token: str | None = None, header_token: str | None = None
) -> int | None:
    """The close code of a connection whose connection_init the server refuses."""
    try:
        async with live_client(url, token=token, header_token=header_token):
            pass
    except Closed as closed:
        return closed.code
    raise AssertionError("the connection was accepted")


@asynccontextmanager
async def server_process(settings: Settings, **environment: str) -> AsyncIterator[str]:
    """`invitations serve` in a process of its own (with these INVITATIONS_ variables besides the
    tests' database); yields its base URL once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "INVITATIONS_DATABASE_URL": settings.database_url,
        "INVITATIONS_SECRET_KEY": TEST_SECRET,
        "INVITATIONS_PORT": str(port),
        "INVITATIONS_MAILER_IN_PROCESS": "false",
        **{f"INVITATIONS_{name.upper()}": value for name, value in environment.items()},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "serve",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://{HOST}:{port}"
    try:
        # A loaded machine can take many seconds to import the app: wait long, then fail loudly.
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(base_url=base) as http:
            while True:
                assert process.returncode is None, "the server process died"
                assert time.monotonic() < deadline, "the server did not answer within 90 s"
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
