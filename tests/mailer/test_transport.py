"""SMTP URLs, the production guard, and envelope addresses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from config import Settings
from mailer.sink import HOST, free_port
from mailer.transport import NEEDS_SMTPUTF8, Permanent, SmtpConfig, SmtpTransport
from mailer.worker import CANNOT_BUILD
from models.invitation import DeliveryState, Invitation
from tests.mailer.conftest import (
    SmtpServer,
    configured,
    drain,
    make_invitation,
    make_mailer,
    start_server,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpConfig("mail.example.com", 25)),
        ("smtp://127.0.0.1:2525", SmtpConfig("127.0.0.1", 2525)),
        (
            "smtp+starttls://user%40example.com:p%3Ass@mail.example.com",
            SmtpConfig("mail.example.com", 587, False, True, "user@example.com", "p:ss"),
        ),
        (
            "smtps://u:p@mail.example.com:4650",
            SmtpConfig("mail.example.com", 4650, True, False, "u", "p"),
        ),
    ],
)
def test_smtp_urls(url: str, expected: SmtpConfig) -> None:
    assert SmtpConfig.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com:25"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not an SMTP URL"):
        SmtpConfig.from_url(url)


def test_production_refuses_to_start_without_an_smtp_server() -> None:
    with pytest.raises(ValueError, match="SMTP_URL"):
        Settings(env="production", secret_key="p" * 48)
    assert Settings(env="production", secret_key="p" * 48, smtp_url="smtp://mx:25").smtp_url


@pytest.mark.parametrize(
    ("recipient", "reason"),
    [
        ("friend@example.com>\r\nRCPT TO:<victim@example.com", "Not a plain e-mail address"),
        ("friend@example.com\nDATA", "Not a plain e-mail address"),
        ("<friend@example.com>", "Not a plain e-mail address"),
        ("no-at-sign", "Not a plain e-mail address"),
    ],
)
async def test_an_address_that_could_break_the_envelope_never_reaches_the_server(
    smtp: SmtpServer, recipient: str, reason: str
) -> None:
    transport = SmtpTransport(SmtpConfig(HOST, smtp.port), connections=1)
    try:
        with pytest.raises(Permanent, match=reason):
            await transport.send("shop@example.com", recipient, b"Subject: x\r\n\r\nbody\r\n")
        # The connection pool is unharmed: the next message goes out on it.
        await transport.send("shop@example.com", "friend@example.com", b"Subject: y\r\n\r\nok\r\n")
    finally:
        await transport.close()

    assert [m["Subject"] for m in smtp.messages()] == ["y"]


@dataclass
class EnvelopeServer(SmtpServer):
    """Also keeps each envelope: MAIL FROM options and recipients."""

    envelopes: list[tuple[list[str], list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append((list(envelope.mail_options), list(envelope.rcpt_tos)))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(params=[True, False], ids=["smtputf8", "ascii-only"])
def utf8_server(request: pytest.FixtureRequest) -> Iterator[tuple[EnvelopeServer, bool]]:
    handler = EnvelopeServer()
    controller = start_server(handler, free_port(), enable_SMTPUTF8=request.param)
    yield handler, request.param
    controller.stop()


async def test_a_non_ascii_local_part_goes_out_with_smtputf8_only_where_the_server_offers_it(
    utf8_server: tuple[EnvelopeServer, bool],
) -> None:
    server, offered = utf8_server
    transport = SmtpTransport(SmtpConfig(HOST, server.port), connections=1)
    message = "To: vän@example.com\r\nSubject: x\r\n\r\nbody\r\n".encode()
    try:
        if offered:
            await transport.send("shop@example.com", "vän@example.com", message)
        else:
            with pytest.raises(Permanent) as refused:
                await transport.send("shop@example.com", "vän@example.com", message)
            assert refused.value.reason == NEEDS_SMTPUTF8
        # Either way the pool is unharmed.
        await transport.send("shop@example.com", "friend@example.com", b"Subject: y\r\n\r\nok\r\n")
    finally:
        await transport.close()

    first = (["SMTPUTF8"], ["vän@example.com"])
    plain = ([], ["friend@example.com"])
    assert server.envelopes == ([first, plain] if offered else [plain])


async def test_a_unicode_domain_stored_before_goes_out_in_its_ascii_form(
    settings: Settings, utf8_server: tuple[EnvelopeServer, bool]
) -> None:
    server, _ = utf8_server
    worker = make_mailer(configured(settings, smtp_url=f"smtp://{HOST}:{server.port}"))
    invitation = await make_invitation("puny@bücher.example")
    try:
        await drain(worker)
    finally:
        await worker.transport.close()

    row = await Invitation.get(id=invitation.id)
    assert (row.delivery_state, row.last_error) == (DeliveryState.DELIVERED, None)
    assert server.envelopes == [([], ["puny@xn--bcher-kva.example"])]
    assert server.messages()[0]["To"] == "puny@xn--bcher-kva.example"


async def test_what_the_admin_reads_is_a_sentence_when_a_mail_cannot_go_out(
    settings: Settings,
) -> None:
    smtp = SmtpServer()
    controller = start_server(smtp, free_port(), enable_SMTPUTF8=False)
    worker = make_mailer(configured(settings, smtp_url=f"smtp://{HOST}:{smtp.port}"))
    stored_before = await make_invitation("😀@example.com")
    bad_domain = await make_invitation("x@-ü.example")
    try:
        await drain(worker)
    finally:
        await worker.transport.close()
        controller.stop()

    first = await Invitation.get(id=stored_before.id)
    assert (first.delivery_state, first.last_error) == (DeliveryState.FAILED, NEEDS_SMTPUTF8)
    second = await Invitation.get(id=bad_domain.id)
    assert (second.delivery_state, second.last_error) == (DeliveryState.FAILED, CANNOT_BUILD)
    assert smtp.received == []
