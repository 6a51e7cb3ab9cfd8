"""Mailer fixtures: a real SMTP server (aiosmtpd) that can refuse or drop, and row factories."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from config import DeliveryPolicy, Settings
from domain.clock import utcnow
from domain.codes import new_nonce
from mailer.sink import HOST, free_port
from mailer.transport import SmtpConfig, SmtpTransport, Timeouts
from mailer.worker import BatchResult, Mailer
from models.accounts import Customer
from models.invitation import Invitation, InvitationStatus
from models.store import StoreView


@dataclass
class SmtpServer:
    """An aiosmtpd handler with a script: replies to use next, and connections to drop."""

    received: list[bytes] = field(default_factory=list)
    rcpt_replies: deque[str] = field(default_factory=deque)
    data_replies: deque[str] = field(default_factory=deque)
    # Store the message, then drop the connection instead of answering 250.
    drops_after_data: int = 0
    # Seconds to sit on the next messages before answering (one entry per message).
    data_delays: deque[float] = field(default_factory=deque)
    # Called (in the server's thread) when a message arrives.
    on_data: Callable[[], object] | None = None
    port: int = 0

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_replies:
            return self.data_replies.popleft()
        self.received.append(envelope.original_content)
        if self.on_data is not None:
            self.on_data()
        if self.data_delays:
            await asyncio.sleep(self.data_delays.popleft())
        if self.drops_after_data:
            self.drops_after_data -= 1
            server.transport.abort()
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [parse(raw) for raw in self.received]


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def start_server(handler: SmtpServer, port: int, **smtp_options: Any) -> Controller:
    handler.port = port
    controller = Controller(handler, hostname=HOST, port=port, **smtp_options)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    handler = SmtpServer()
    controller = start_server(handler, free_port())
    yield handler
    controller.stop()


@pytest.fixture
def mailer_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return configured(settings, smtp_url=f"smtp://{HOST}:{smtp.port}")


def configured(settings: Settings, **changes: Any) -> Settings:
    """The test settings with mailer defaults that keep tests fast, and these changes."""
    values = {
        **settings.model_dump(),
        "mailer_retry_base_seconds": 0.0,
        "mailer_max_attempts": 3,
        "mailer_poll_seconds": 0.05,
        "mailer_lease_seconds": 30.0,
        "mailer_connections": 2,
        "mailer_delivery": DeliveryPolicy.AT_LEAST_ONCE,
    }
    return Settings(**{**values, **changes})


@pytest.fixture
async def mailer(mailer_settings: Settings) -> AsyncIterator[Mailer]:
    worker = make_mailer(mailer_settings)
    yield worker
    await worker.transport.close()


def make_mailer(
    settings: Settings, timeouts: Timeouts | None = None, *, lanes: int | None = None
) -> Mailer:
    assert settings.smtp_url
    transport = SmtpTransport(
        SmtpConfig.from_url(settings.smtp_url),
        connections=settings.mailer_connections,
        timeouts=timeouts or Timeouts(connect=2, command=2, data=2),
    )
    return Mailer(settings, transport, lanes=lanes)


async def drain(mailer: Mailer, *, batches: int = 20) -> list[BatchResult]:
    """Run batches until nothing is due (bounded, so a bug cannot loop forever)."""
    results = []
    for _ in range(batches):
        result = await mailer.run_once()
        results.append(result)
        if result.claimed == 0:
            return results
    raise AssertionError(f"still claiming after {batches} batches: {results}")


async def make_invitation(
    email: str = "bob@example.com",
    *,
    store: str = "default",
    inviter: Customer | None = None,
    message: str | None = None,
    status: InvitationStatus = InvitationStatus.NOT_SENT,
    **fields: Any,
) -> Invitation:
    store_view = await StoreView.get(code=store)
    now = utcnow()
    return await Invitation.create(
        email=email,
        email_key=email.lower(),
        message=message,
        status=status,
        created_at=now,
        updated_at=now,
        store_view_id=store_view.id,
        website_id=store_view.website_id,
        inviter=inviter,
        code_nonce=new_nonce(),
        **fields,
    )


async def make_invitations(count: int, **fields: Any) -> list[Invitation]:
    return [await make_invitation(f"guest{i}@example.com", **fields) for i in range(count)]


async def eventually(check: Any, timeout: float = 5.0) -> None:
    """Wait until check() is true (for servers living in another thread or process)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
