"""The service's log, read from a real `serve` process: JSON or text lines with their fields, the
request id (echoed, made, on the request's lines and answers), one line per mail outcome without
the address's local part, quiet client disconnects, and the SMTP notice once."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from config import Settings
from mailer.sink import HOST, free_port
from models.invitation import DeliveryState, Invitation
from tests.cluster import environment
from tests.mailer.conftest import SmtpServer, eventually, make_invitation, start_server

PROBE = '{"query": "query Probe { __typename }", "operationName": "Probe"}'
JSON_HEADERS = {"content-type": "application/json"}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    handler = SmtpServer()
    controller = start_server(handler, free_port())
    yield handler
    controller.stop()


async def _serve(env: dict[str, str], out: Path, err: Path) -> asyncio.subprocess.Process:
    with out.open("wb") as stdout, err.open("wb") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "serve", cwd=ROOT, env=env, stdout=stdout, stderr=stderr
        )


async def _ready(client: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        assert process.returncode is None, "serve stopped"
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("serve did not start")


async def _stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    # (uvicorn shuts down, then raises the signal again: killed by SIGTERM, cleanly)
    assert await asyncio.wait_for(process.wait(), 30) in (0, -signal.SIGTERM)


def _cut_body(port: int) -> None:
    """A client that sends half its body and goes away (as wrk does when it stops)."""
    with socket.create_connection((HOST, port)) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Request-ID: cut-short\r\nContent-Length: 1000\r\n\r\n" + b'{"query": "{ __typ'
        )


async def test_a_json_log_has_the_fields_the_request_ids_and_one_line_per_mail(
    settings: Settings, smtp: SmtpServer, tmp_path: Path
) -> None:
    # Given `serve` logging JSON at DEBUG, its mailer sending to a real SMTP server
    port = free_port()
    env = environment(
        settings,
        INVITATIONS_PORT=str(port),
        INVITATIONS_SMTP_URL=f"smtp://{HOST}:{smtp.port}",
        INVITATIONS_MAILER_POLL_SECONDS="0.1",
        INVITATIONS_LOG_FORMAT="json",
        INVITATIONS_LOG_LEVEL="DEBUG",
        INVITATIONS_MAX_BODY_BYTES="2048",
    )
    process = await _serve(env, tmp_path / "out", tmp_path / "err")
    try:
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=10) as client:
            await _ready(client, process)
            # When requests come with a request id, without one, with one that is not sane
            sent = await client.post(
                "/graphql", content=PROBE, headers={**JSON_HEADERS, "x-request-id": "shop-42.a"}
            )
            made = await client.post("/graphql", content=PROBE, headers=JSON_HEADERS)
            refused = await client.post(
                "/graphql", content=PROBE, headers={**JSON_HEADERS, "x-request-id": "x" * 129}
            )
            too_large = await client.post("/graphql", content=b"{" * 4096, headers=JSON_HEADERS)
            # and several at once, each with its own id and operation
            names = [f"Concurrent{i}" for i in range(8)]
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/graphql",
                        json={"query": f"query {name} {{ __typename }}", "operationName": name},
                        headers={"x-request-id": f"id-{name}"},
                    )
                    for name in names
                )
            )
            # and a WebSocket is opened with an id
            async with connect(
                f"ws://{HOST}:{port}/graphql",
                subprotocols=[Subprotocol("graphql-transport-ws")],
                additional_headers={
                    "x-request-id": "socket-1",
                    "authorization": "Bearer not-a-real-token",
                },
            ) as ws:
                assert ws.response is not None
                socket_id = ws.response.headers["x-request-id"]
            # and a client goes away mid-body, and an invitation is queued
            await asyncio.to_thread(_cut_body, port)
            invitation = await make_invitation("Jane.Private+shop@mail.example.org")

            async def delivered() -> bool:
                row = await Invitation.get(id=invitation.id)
                return row.delivery_state is DeliveryState.DELIVERED

            await eventually(delivered, timeout=30)
            await asyncio.sleep(0.3)  # the outcome line follows the recorded delivery
    finally:
        await _stop(process)

    # Then the ids are answered: the client's, or a new one in place of none or a bad one
    assert sent.headers["x-request-id"] == "shop-42.a"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["x-request-id"])
    assert made.headers["x-request-id"] != refused.headers["x-request-id"]
    assert too_large.status_code == 413
    assert re.fullmatch(r"[0-9a-f]{32}", too_large.headers["x-request-id"])
    assert [a.headers["x-request-id"] for a in answers] == [f"id-{name}" for name in names]
    assert socket_id == "socket-1"
    # and every line is one JSON object with time, level, logger and message
    text = (tmp_path / "err").read_text()
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"]), line
        assert line["level"] in {"DEBUG", "INFO", "WARNING"}, line  # nothing is an error
        assert line["logger"], line
        assert line["message"], line
    by_id: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_id.setdefault(line.get("request_id", ""), []).append(line)
    # uvicorn's own lines among them, with the request's id and operation
    (access,) = by_id["shop-42.a"]
    assert access["logger"] == "uvicorn.access"
    assert access["operation"] == "Probe"
    assert '"POST /graphql HTTP/1.1" 200' in access["message"]
    assert by_id[too_large.headers["x-request-id"]][-1]["message"].endswith(" 413")
    # each of the requests at once has its lines, all with its own operation
    for name in names:
        assert by_id[f"id-{name}"], name
        assert {line.get("operation") for line in by_id[f"id-{name}"]} == {name}
    # (at DEBUG, the handshake is a dozen lines, all with its id; its token never shows)
    socket_lines = by_id["socket-1"]
    assert len(socket_lines) > 1
    assert any('"WebSocket /graphql" [accepted]' in line["message"] for line in socket_lines)
    assert "Bearer not-a-real-token" not in text
    assert any(line["message"] == "< authorization: [redacted]" for line in lines)
    # the client that went away is a DEBUG line of its request, no error and no traceback
    (cut,) = by_id["cut-short"]
    assert cut["level"] == "DEBUG"
    assert "disconnected" in cut["message"]
    assert "ClientDisconnect" not in text
    assert "Exception in ASGI application" not in text
    # one line for the mail's outcome, with its Message-ID, the domain and never the local part
    outcomes = [line for line in lines if line.get("invitation_id") == invitation.id]
    (mail,) = smtp.messages()
    assert outcomes == [
        {
            "time": outcomes[0]["time"],
            "level": "INFO",
            "logger": "invitations.mailer.outcome",
            "message": f"mail sent: invitation {invitation.id}, Message-ID {mail['Message-ID']}, "
            "to a recipient at mail.example.org",
            "invitation_id": invitation.id,
            "message_id": mail["Message-ID"],
            "outcome": "sent",
            "recipient_domain": "mail.example.org",
            "reason": None,
        }
    ]
    assert "jane.private" not in text.lower()
    # nor the invitation's link (its code), nor the secret key
    (link,) = re.findall(r"https?://\S+", mail.get_body(("plain",)).get_content())
    code = re.findall(r"[A-Za-z0-9_-]{8,}", link)[-1]
    assert code not in text
    assert env["INVITATIONS_SECRET_KEY"] not in text


async def test_text_lines_and_the_mail_sink_notice_said_once(
    settings: Settings, tmp_path: Path
) -> None:
    # Given `serve` with text lines and no SMTP server (development: the embedded sink)
    port = free_port()
    env = environment(
        settings,
        INVITATIONS_PORT=str(port),
        INVITATIONS_LOG_FORMAT="text",
        INVITATIONS_MAIL_DIR=str(tmp_path / "mail"),
    )
    env.pop("INVITATIONS_SMTP_URL", None)
    process = await _serve(env, tmp_path / "out", tmp_path / "err")
    try:
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=10) as client:
            await _ready(client, process)
            await client.post(
                "/graphql", content=PROBE, headers={**JSON_HEADERS, "x-request-id": "r-1"}
            )
    finally:
        await _stop(process)
    # Then the notice is said once, in the log
    said = (tmp_path / "out").read_text() + (tmp_path / "err").read_text()
    assert said.count("No INVITATIONS_SMTP_URL") == 1
    # and each line has the time, the level, the logger, then the request's id and operation
    lines = (tmp_path / "err").read_text().splitlines()
    for line in lines:
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING) [\w.]+ ", line)
    assert any(
        re.search(r' INFO uvicorn\.access \[r-1 Probe\] .*"POST /graphql HTTP/1\.1" 200$', line)
        for line in lines
    ), lines
