"""Webhook delivery into a real receiver (Starlette on uvicorn, on loopback) that verifies each
signature with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from config import Environment, Settings
from domain import webhooks
from domain.clock import utcnow
from mailer import metrics
from mailer.sink import HOST, free_port
from mailer.webhooks import WebhookSender, attempts_within, claim
from models.webhooks import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEndpoint,
    WebhookEventType,
)
from tests.helpers import TEST_SECRET, make_customer
from tests.invitation_factories import make_invitation
from tests.mailer.conftest import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
KEYS = webhooks.Keys(secret_key=TEST_SECRET, allow_private=True)
HANG = -1


@dataclass
class Receiver:
    """Answers with the scripted statuses (HANG: never answers), then 200; keeps each request."""

    url: str = ""
    script: deque[int] = field(default_factory=deque)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        self.arrived.set()
        status = self.script.popleft() if self.script else 200
        if status == HANG:
            await asyncio.sleep(60)
        return Response("x" * 100_000, status_code=status)

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    handler = Receiver()
    port = free_port()
    app = Starlette(routes=[Route("/hook", handler.endpoint, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the receiver did not start"
        await asyncio.sleep(0.01)
    handler.url = f"http://{HOST}:{port}/hook"
    try:
        yield handler
    finally:
        server.should_exit = True
        server.force_exit = True
        await task


@pytest.fixture
def sender_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_retry_base_seconds": 0.0,
            "webhook_timeout_seconds": 0.5,
            "mailer_poll_seconds": 0.05,
        }
    )


async def _drain(sender: WebhookSender, *, batches: int = 20) -> None:
    try:
        for _ in range(batches):
            if await sender.run_once() == 0:
                return
        raise AssertionError(f"still claiming after {batches} batches")
    finally:
        await sender.close()


async def _endpoint(url: str, events: list[WebhookEventType] | None = None) -> webhooks.Created:
    return await webhooks.create(
        url=url, events=events or list(WebhookEventType), description=None, keys=KEYS
    )


async def _event(event: WebhookEventType = WebhookEventType.INVITATION_SENT) -> int:
    alice = await make_customer("alice@example.com")
    invitation = await make_invitation(alice)
    await webhooks.record(event, [invitation.id])
    return invitation.id


async def test_every_event_type_arrives_signed_with_its_body(
    receiver: Receiver, sender_settings: Settings
) -> None:
    created = await _endpoint(receiver.url)
    alice = await make_customer("alice@example.com")
    invitation = await make_invitation(alice)
    for event in WebhookEventType:
        await webhooks.record(event, [invitation.id])
    sent_before = metrics.WEBHOOK_SENT._value.get()

    await _drain(WebhookSender(sender_settings))

    verifier = Webhook(created.secret)
    bodies = []
    for headers, body in receiver.received:
        assert headers["content-type"] == "application/json"
        verifier.verify(body, headers)  # raises on a bad signature or timestamp
        bodies.append(orjson.loads(body))
    assert sorted(b["type"] for b in bodies) == sorted(e.value for e in WebhookEventType)
    for body in bodies:
        assert set(body) == {"type", "timestamp", "data"}
        assert set(body["data"]["invitation"]) == {
            "id", "email", "status", "storeView", "website", "inviterCustomerId",
            "inviteeCustomerId", "createdAt", "sentAt", "acceptedAt", "expiresAt",
        }  # fmt: skip
        assert body["data"]["invitation"]["id"] == str(invitation.id)
    rows = await WebhookDelivery.all()
    assert {(r.state, r.attempts, r.last_status_code) for r in rows} == {
        (WebhookDeliveryState.DELIVERED, 1, 200)
    }
    assert metrics.WEBHOOK_SENT._value.get() - sent_before == len(WebhookEventType)


async def test_a_500_then_200_sends_the_same_webhook_id_twice(
    receiver: Receiver, sender_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "invitations.webhooks.outcome")
    created = await _endpoint(receiver.url)
    await _event()
    receiver.script.extend([500])
    retried_before = metrics.WEBHOOK_RETRIED._value.get()

    await _drain(WebhookSender(sender_settings))

    [first, second] = receiver.ids()
    assert first == second
    [row] = await WebhookDelivery.all()
    assert (row.state, row.attempts, row.webhook_id) == (WebhookDeliveryState.DELIVERED, 2, first)
    assert metrics.WEBHOOK_RETRIED._value.get() - retried_before == 1
    # and each attempt is one line: endpoint, event, outcome, status code (never the URL)
    attempts = [r for r in caplog.records if r.name == "invitations.webhooks.outcome"]
    assert [(r.endpoint_id, r.event_id, r.outcome, r.status_code) for r in attempts] == [
        (created.endpoint.id, first, "retrying", 500),
        (created.endpoint.id, first, "delivered", 200),
    ]
    assert receiver.url not in caplog.text


async def test_410_disables_the_endpoint(receiver: Receiver, sender_settings: Settings) -> None:
    created = await _endpoint(receiver.url)
    await _event()
    receiver.script.extend([410])

    await _drain(WebhookSender(sender_settings))

    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert endpoint.enabled is False
    assert endpoint.disabled_reason == "The receiver answered 410 Gone."
    [row] = await WebhookDelivery.all()
    assert (row.state, row.last_status_code) == (WebhookDeliveryState.FAILED, 410)
    # Events for a disabled endpoint are not recorded.
    invitation = await make_invitation(None, "later@example.com")
    await webhooks.record(WebhookEventType.INVITATION_SENT, [invitation.id])
    assert await WebhookDelivery.all().count() == 1


async def test_a_hanging_receiver_is_cut_at_the_timeout_and_retried(
    receiver: Receiver, sender_settings: Settings
) -> None:
    await _endpoint(receiver.url)
    await _event()
    receiver.script.extend([HANG])
    started = time.monotonic()

    await _drain(WebhookSender(sender_settings))

    assert time.monotonic() - started < 5
    assert len(receiver.received) == 2
    [row] = await WebhookDelivery.all()
    assert (row.state, row.attempts) == (WebhookDeliveryState.DELIVERED, 2)


async def test_during_a_rotation_both_secrets_sign(
    receiver: Receiver, sender_settings: Settings
) -> None:
    created = await _endpoint(receiver.url)
    new = await webhooks.rotate_secret(raw_id=str(created.endpoint.id), keys=KEYS)
    await _event()

    await _drain(WebhookSender(sender_settings))

    [(headers, body)] = receiver.received
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(created.secret).verify(body, headers)
    Webhook(new).verify(body, headers)
    # Once the overlap is over, only the new secret signs.
    await WebhookEndpoint.filter(id=created.endpoint.id).update(
        previous_secret_expires_at=utcnow() - timedelta(seconds=1)
    )
    invitation = await make_invitation(None, "two@example.com")
    await webhooks.record(WebhookEventType.INVITATION_SENT, [invitation.id])
    await _drain(WebhookSender(sender_settings))
    headers, body = receiver.received[1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(body, headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(created.secret).verify(body, headers)


async def test_a_private_address_is_refused_at_delivery_in_production(
    receiver: Receiver, sender_settings: Settings
) -> None:
    await _endpoint(receiver.url)  # created while private networks were allowed
    await _event()
    production = sender_settings.model_copy(update={"env": Environment.PRODUCTION})
    sender = WebhookSender(production)

    assert await sender.run_once() == 1
    await sender.close()

    assert receiver.received == []
    [row] = await WebhookDelivery.all()
    assert row.state is WebhookDeliveryState.PENDING
    assert row.last_error is not None
    assert row.last_error.startswith("Not sent: The host '127.0.0.1' resolves to a loopback")


async def test_five_days_of_failures_disable_the_endpoint(
    receiver: Receiver, sender_settings: Settings
) -> None:
    created = await _endpoint(receiver.url)
    await _event()
    await WebhookEndpoint.filter(id=created.endpoint.id).update(
        failing_since=utcnow() - timedelta(days=5, minutes=1)
    )
    receiver.script.extend([503])

    await _drain(WebhookSender(sender_settings))

    endpoint = await WebhookEndpoint.get(id=created.endpoint.id)
    assert endpoint.enabled is False
    assert endpoint.disabled_reason == "Every delivery failed for 5 days."
    assert len(receiver.received) == 1  # its pending delivery waits, unclaimed, while disabled


async def test_a_success_ends_the_failure_streak(
    receiver: Receiver, sender_settings: Settings
) -> None:
    created = await _endpoint(receiver.url)
    await _event()
    receiver.script.extend([500])

    sender = WebhookSender(sender_settings)
    await sender.run_once()
    assert (await WebhookEndpoint.get(id=created.endpoint.id)).failing_since is not None
    await _drain(sender)

    assert (await WebhookEndpoint.get(id=created.endpoint.id)).failing_since is None


async def test_retries_end_in_failed_once_the_window_is_spent(
    receiver: Receiver, sender_settings: Settings
) -> None:
    await _endpoint(receiver.url)
    await _event()
    short = sender_settings.model_copy(
        update={"webhook_retry_base_seconds": 1.0, "webhook_retry_window_seconds": 2.5}
    )
    receiver.script.extend([500] * 10)
    sender = WebhookSender(short)
    assert sender.max_attempts == 2
    failed_before = metrics.WEBHOOK_FAILED._value.get()

    await WebhookDelivery.all().update(next_attempt_at=None)
    await sender.run_once()
    await WebhookDelivery.all().update(next_attempt_at=None)
    await _drain(sender)

    [row] = await WebhookDelivery.all()
    assert (row.state, row.attempts, row.last_status_code) == (
        WebhookDeliveryState.FAILED, 2, 500,
    )  # fmt: skip
    assert row.last_error == "The receiver answered HTTP 500."
    assert metrics.WEBHOOK_FAILED._value.get() - failed_before == 1


async def test_a_delivery_leased_by_a_dead_worker_is_sent_after_its_lease(
    receiver: Receiver, sender_settings: Settings
) -> None:
    await _endpoint(receiver.url)
    await _event()
    [taken] = await claim(10, lease_seconds=2.0)  # a worker that then dies without a word

    assert await WebhookSender(sender_settings).run_once() == 0
    await asyncio.sleep(2.1)
    await _drain(WebhookSender(sender_settings))

    assert receiver.ids() == [taken.webhook_id]
    [row] = await WebhookDelivery.all()
    assert row.state is WebhookDeliveryState.DELIVERED


def test_about_three_days_of_retries() -> None:
    attempts = attempts_within(3 * 24 * 3600, 30)
    assert 15 <= attempts <= 30


async def test_sigkill_of_the_worker_mid_delivery_loses_nothing(
    receiver: Receiver, sender_settings: Settings, smtp: SmtpServer
) -> None:
    await _endpoint(receiver.url)
    await _event()
    receiver.script.extend([HANG])
    env = {
        **os.environ,
        "INVITATIONS_DATABASE_URL": sender_settings.database_url,
        "INVITATIONS_SMTP_URL": f"smtp://{HOST}:{smtp.port}",
        "INVITATIONS_SECRET_KEY": TEST_SECRET,
        "INVITATIONS_MAILER_POLL_SECONDS": "0.1",
        "INVITATIONS_MAILER_LEASE_SECONDS": "0.5",
        "INVITATIONS_WEBHOOK_TIMEOUT_SECONDS": "1",
        "INVITATIONS_MAILER_BATCH_SIZE": "1",
        "INVITATIONS_WEBHOOK_CONCURRENCY_PER_ENDPOINT": "1",
        # The event's invitation is queued: sent, it would add an invitation.sent delivery of its
        # own, racing the kill. This test is about the one webhook under way.
        "INVITATIONS_SENDING_PAUSED": "true",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "worker", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.wait_for(receiver.arrived.wait(), timeout=30)
    finally:
        worker.send_signal(signal.SIGKILL)
    assert await worker.wait() == -signal.SIGKILL
    [row] = await WebhookDelivery.all()
    assert row.state is WebhookDeliveryState.PENDING and row.lease_id is not None  # noqa: PT018

    await asyncio.sleep(1.6)  # the dead worker's lease (lease seconds + 1 x timeout) runs out
    await _drain(WebhookSender(sender_settings))

    [first, second] = receiver.ids()
    assert first == second == row.webhook_id
    [row] = await WebhookDelivery.all()
    assert row.state is WebhookDeliveryState.DELIVERED
    assert smtp.received == []  # sending was paused in the worker
