"""Delivery against a real SMTP server: outcomes, retries, outages and status changes."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from config import DeliveryPolicy
from domain.clock import utcnow
from domain.codes import code_for
from mailer import metrics, worker
from mailer.sink import HOST, free_port
from mailer.transport import Timeouts
from mailer.worker import NOT_OPEN
from models.invitation import (
    SYSTEM_ACTOR,
    DeliveryState,
    Invitation,
    InvitationStatus,
    InvitationStatusChange,
)
from tests.helpers import TEST_SECRET, make_customer
from tests.mailer.conftest import (
    SmtpServer,
    configured,
    drain,
    make_invitation,
    make_invitations,
    make_mailer,
    start_server,
)


async def test_a_delivery_marks_the_invitation_sent_with_a_system_history_row(
    mailer, smtp: SmtpServer
) -> None:
    inviter = await make_customer(firstname="Alice", lastname="Doe")
    invitation = await make_invitation(inviter=inviter, message="Come and see!")

    await drain(mailer)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.DELIVERED
    assert row.status is InvitationStatus.SENT
    assert row.sent_at is not None
    assert row.attempts == 1
    assert row.lease_id is None
    history = await InvitationStatusChange.filter(invitation_id=row.id)
    assert [(h.status, h.actor) for h in history] == [(InvitationStatus.SENT, SYSTEM_ACTOR)]
    [message] = smtp.messages()
    assert message["Message-ID"] == row.message_id
    assert message["X-Invitation-Id"] == str(row.id)
    assert message["To"] == "bob@example.com"
    assert message["From"] == "Owner <owner@example.com>"
    assert message["Date"]
    assert "Alice Doe" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert code_for(row.code_nonce, secret=TEST_SECRET) in text
    assert "Come and see!" in text
    assert "Default Store View" in text


async def test_a_451_is_retried_with_the_same_message_id_then_delivered(
    mailer, smtp: SmtpServer
) -> None:
    invitation = await make_invitation()
    smtp.rcpt_replies.append("451 4.7.1 Greylisted, try again later")

    first = await mailer.run_once()

    row = await Invitation.get(id=invitation.id)
    assert first.claimed == 1
    assert row.delivery_state is DeliveryState.QUEUED
    assert row.attempts == 1
    assert row.last_error is not None
    assert "451" in row.last_error
    assert row.status is InvitationStatus.NOT_SENT
    first_message_id = row.message_id
    assert first_message_id

    await drain(mailer)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.DELIVERED
    assert row.attempts == 2
    assert [m["Message-ID"] for m in smtp.messages()] == [first_message_id]


async def test_a_refusal_is_one_warning_line_with_the_address_masked(
    mailer, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a server whose refusal quotes the address
    invitation = await make_invitation("Carol.Secret@example.net")
    smtp.rcpt_replies.append("550 5.1.1 <carol.secret@example.net>: Recipient address rejected")
    caplog.set_level(logging.INFO, "invitations.mailer.outcome")

    await drain(mailer)

    # Then one line says it failed, with the domain and the reply, never the local part
    [line] = [r for r in caplog.records if r.name == "invitations.mailer.outcome"]
    assert (line.levelname, line.outcome, line.invitation_id) == (
        "WARNING",
        "failed",
        invitation.id,
    )
    assert line.recipient_domain == "example.net"
    assert line.reason == "550 5.1.1 <…@example.net>: Recipient address rejected"
    assert "carol.secret" not in caplog.text.lower()


async def test_a_550_fails_at_once_with_the_server_reply(mailer, smtp: SmtpServer) -> None:
    invitation = await make_invitation()
    smtp.rcpt_replies.append("550 5.1.1 No such user here")

    await drain(mailer)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.FAILED
    assert row.last_error == "550 5.1.1 No such user here"
    assert row.attempts == 1
    assert row.status is InvitationStatus.NOT_SENT
    assert smtp.received == []


async def test_a_refusal_after_data_is_a_refusal_too(mailer, smtp: SmtpServer) -> None:
    invitation = await make_invitation()
    smtp.data_replies.append("554 5.7.1 Message rejected as spam")

    await drain(mailer)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.FAILED
    assert row.last_error == "554 5.7.1 Message rejected as spam"


async def test_transient_refusals_fail_after_the_last_attempt(mailer, smtp: SmtpServer) -> None:
    invitation = await make_invitation()
    smtp.rcpt_replies.extend(["452 4.2.2 Mailbox full"] * 3)

    await drain(mailer)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.FAILED
    assert row.attempts == 3
    assert row.last_error is not None
    assert "452 4.2.2 Mailbox full" in row.last_error
    assert smtp.received == []


async def test_an_outage_uses_no_attempts_and_everything_goes_out_once_it_ends(settings) -> None:
    port = free_port()
    down = configured(settings, smtp_url=f"smtp://{HOST}:{port}")
    worker = make_mailer(down)
    invitations = await make_invitations(5)

    result = await worker.run_once()

    assert result.claimed == 5
    assert result.server_unreachable
    rows = await Invitation.filter(id__in=[i.id for i in invitations])
    assert {(r.delivery_state, r.attempts, r.lease_id) for r in rows} == {
        (DeliveryState.QUEUED, 0, None)
    }
    assert all(r.last_error is None for r in rows)

    server = SmtpServer()
    controller = start_server(server, port)
    try:
        await drain(worker)
    finally:
        await worker.transport.close()
        controller.stop()

    rows = await Invitation.filter(id__in=[i.id for i in invitations])
    assert {(r.delivery_state, r.attempts) for r in rows} == {(DeliveryState.DELIVERED, 1)}
    delivered_to = sorted(str(m["To"]) for m in server.messages())
    assert delivered_to == sorted(i.email for i in invitations)


async def test_a_connection_the_server_closed_while_idle_costs_no_attempt(settings) -> None:
    server = SmtpServer()
    controller = start_server(server, free_port(), timeout=0.2)
    worker = make_mailer(configured(settings, smtp_url=f"smtp://{HOST}:{server.port}"), lanes=1)
    try:
        first = await make_invitation("first@example.com")
        await drain(worker)
        await asyncio.sleep(0.4)  # the server hangs up on the idle pooled connection
        second = await make_invitation("second@example.com")
        await drain(worker)
    finally:
        await worker.transport.close()
        controller.stop()

    rows = await Invitation.filter(id__in=[first.id, second.id])
    assert {(r.delivery_state, r.attempts) for r in rows} == {(DeliveryState.DELIVERED, 1)}
    assert len(server.received) == 2


async def test_a_connection_lost_after_data_may_duplicate_with_the_same_message_id(
    mailer, smtp: SmtpServer
) -> None:
    invitation = await make_invitation()
    smtp.drops_after_data = 1

    await drain(mailer)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.DELIVERED
    assert row.attempts == 2
    message_ids = [m["Message-ID"] for m in smtp.messages()]
    assert message_ids == [row.message_id, row.message_id]


async def test_a_server_too_slow_after_data_gets_the_message_again_with_its_message_id(
    mailer_settings, smtp: SmtpServer
) -> None:
    worker = make_mailer(mailer_settings, Timeouts(connect=2, command=2, data=0.2))
    invitation = await make_invitation()
    smtp.data_delays.append(0.5)

    first = await worker.run_once()

    row = await Invitation.get(id=invitation.id)
    assert first.claimed == 1
    assert row.delivery_state is DeliveryState.QUEUED
    assert row.last_error is not None
    assert "lost while it held the message" in row.last_error
    await drain(worker)
    await worker.transport.close()
    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.DELIVERED
    assert [m["Message-ID"] for m in smtp.messages()] == [row.message_id, row.message_id]


async def test_at_most_once_parks_a_lost_send_as_unknown(settings, smtp: SmtpServer) -> None:
    worker = make_mailer(
        configured(
            settings,
            smtp_url=f"smtp://{HOST}:{smtp.port}",
            mailer_delivery=DeliveryPolicy.AT_MOST_ONCE,
        )
    )
    invitation = await make_invitation()
    smtp.drops_after_data = 1

    await drain(worker)
    await worker.transport.close()

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.UNKNOWN
    assert row.last_error is not None
    assert "lost while it held the message" in row.last_error
    assert len(smtp.received) == 1


async def test_an_invitation_canceled_while_queued_is_not_sent(mailer, smtp: SmtpServer) -> None:
    canceled = await make_invitation("c@example.com", status=InvitationStatus.CANCELED)
    accepted = await make_invitation("a@example.com", status=InvitationStatus.ACCEPTED)
    expired = await make_invitation("e@example.com", expires_at=utcnow() - timedelta(minutes=1))
    open_one = await make_invitation("o@example.com")

    await drain(mailer)

    for invitation in (canceled, accepted, expired):
        row = await Invitation.get(id=invitation.id)
        assert row.delivery_state is DeliveryState.FAILED
        assert row.last_error == NOT_OPEN
        assert row.attempts == 0
        assert row.sent_at is None
    assert (await Invitation.get(id=open_one.id)).delivery_state is DeliveryState.DELIVERED
    assert [str(m["To"]) for m in smtp.messages()] == ["o@example.com"]


async def test_a_resend_of_a_sent_invitation_keeps_its_status_and_history(
    mailer, smtp: SmtpServer
) -> None:
    invitation = await make_invitation(status=InvitationStatus.SENT, send_number=2)

    await drain(mailer)

    row = await Invitation.get(id=invitation.id)
    assert row.delivery_state is DeliveryState.DELIVERED
    assert row.status is InvitationStatus.SENT
    assert row.sent_at is not None
    assert await InvitationStatusChange.filter(invitation_id=row.id).count() == 0
    assert [m["Message-ID"] for m in smtp.messages()] == [row.message_id]


async def test_a_refusal_on_a_reused_connection_is_one_attempt_and_is_not_asked_again_at_once(
    mailer, smtp: SmtpServer
) -> None:
    # Given a pooled connection (one message went out on it) and a greylisting server
    await make_invitation("first@example.com")
    await drain(mailer)
    greylisted = await make_invitation("greylisted@example.com")
    smtp.rcpt_replies.extend(["451 4.7.1 Greylisted, try again later"] * 2)

    # When the mailer sends it once
    await mailer.run_once()

    # Then the server saw one try: the refusal is an attempt, to be retried later
    row = await Invitation.get(id=greylisted.id)
    assert (row.delivery_state, row.attempts) == (DeliveryState.QUEUED, 1)
    assert list(smtp.rcpt_replies) == ["451 4.7.1 Greylisted, try again later"]

    await drain(mailer)

    row = await Invitation.get(id=greylisted.id)
    assert (row.delivery_state, row.attempts) == (DeliveryState.DELIVERED, 3)


async def test_the_queue_depth_gauge_is_counted_at_most_once_a_second(
    mailer, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three queued invitations, a batch size of one, and an interval no slow machine
    # outlasts between two batches
    monkeypatch.setattr(worker, "QUEUE_DEPTH_SECONDS", 60.0)
    await make_invitations(3)
    mailer.settings = configured(mailer.settings, mailer_batch_size=1)

    # When the mailer sends one, then another right after
    await mailer.run_once()
    counted_first = metrics.QUEUE_DEPTH._value.get()
    await mailer.run_once()

    # Then the queue was counted before the first send only (the second came within a second)
    assert counted_first == 3  # (counted right after the claim: the claimed row still waits)
    assert metrics.QUEUE_DEPTH._value.get() == 3

    # And once the interval is over, the next batch counts again
    mailer._next_depth = 0.0
    await mailer.run_once()
    assert metrics.QUEUE_DEPTH._value.get() == 1
    assert len(smtp.received) == 3
