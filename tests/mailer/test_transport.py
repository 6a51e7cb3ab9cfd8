"""SMTP URLs, the production guard, and envelope addresses."""

from __future__ import annotations

import pytest

from config import Settings
from mailer.sink import HOST
from mailer.transport import Permanent, SmtpConfig, SmtpTransport
from tests.mailer.conftest import SmtpServer


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
        ("friend@example.com>\r\nRCPT TO:<victim@example.com", "not a plain e-mail address"),
        ("friend@example.com\nDATA", "not a plain e-mail address"),
        ("<friend@example.com>", "not a plain e-mail address"),
        ("no-at-sign", "not a plain e-mail address"),
        ("vän@example.com", "SMTPUTF8"),
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
