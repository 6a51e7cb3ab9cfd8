"""SMTP URLs and the production guard."""

from __future__ import annotations

import pytest

from config import Settings
from mailer.transport import SmtpConfig


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
