"""The invitation e-mail: pure functions from what a send needs to the bytes on the wire.

Templates live in mailer/templates/<template>/<locale>/ (subject.txt, body.txt, body.html) and are
compiled once per process. Every header value passes through `one_line`, so nothing a customer
typed (a name, a message) can start a header of its own.
"""

from __future__ import annotations

import binascii
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup

from models.identities import Sender
from models.invitation_settings import BUILT_IN_TEMPLATE, KNOWN_TEMPLATES

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_LOCALE = "en_US"


@dataclass(frozen=True, slots=True)
class InvitationMail:
    """Everything one invitation e-mail says, already looked up."""

    invitation_id: int
    recipient: str
    sender: Sender
    inviter_name: str | None
    message: str | None
    url: str
    store_name: str
    locale: str
    message_id: str
    date: datetime
    template: str = BUILT_IN_TEMPLATE


@dataclass(frozen=True, slots=True)
class Rendered:
    """The three rendered parts of a mail."""

    subject: str
    text: str
    html: str


def one_line(value: str) -> str:
    """The value with every control or line-breaking character turned into one space."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def _lines(value: str) -> list[str]:
    return value.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _nl2br(value: str) -> Markup:
    # Markup.join escapes each line: the message stays plain text, its line breaks visible.
    return Markup("<br>\n").join(_lines(value))


# Autoescape for the HTML part only: the text part and the subject are not HTML, and escaping
# them would show "&lt;" to the reader.
_ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)
_ENVIRONMENT.filters["nl2br"] = _nl2br


@functools.cache
def _templates(template: str, locale: str) -> tuple[Template, Template, Template]:
    if template not in KNOWN_TEMPLATES:
        template = BUILT_IN_TEMPLATE
    if not (TEMPLATES / template / locale).is_dir():
        locale = DEFAULT_LOCALE
    base = f"{template}/{locale}"
    return (
        _ENVIRONMENT.get_template(f"{base}/subject.txt"),
        _ENVIRONMENT.get_template(f"{base}/body.txt"),
        _ENVIRONMENT.get_template(f"{base}/body.html"),
    )


def render(mail: InvitationMail) -> Rendered:
    subject_template, text_template, html_template = _templates(mail.template, mail.locale)
    values = {
        "inviter": one_line(mail.inviter_name) if mail.inviter_name else None,
        "store": one_line(mail.store_name),
        "url": mail.url,
        "message": "\n".join(_lines(mail.message)).strip() if mail.message else None,
    }
    subject = one_line(subject_template.render(values))
    return Rendered(
        subject=subject,
        text=text_template.render(values),
        html=html_template.render(values, subject=subject),
    )


def build(mail: InvitationMail) -> bytes:
    """The complete message; ValueError when an address cannot be put in a header.

    Written out directly rather than through email.message.EmailMessage, which spends about
    2 ms per message re-parsing every header: the mailer's throughput is bound by it.
    """
    rendered = render(mail)
    boundary = f"=_invitation_{secrets.token_hex(12)}"
    sender = formataddr((one_line(mail.sender.name), _address(mail.sender.email)), "utf-8")
    headers = (
        f"Subject: {_header_text(rendered.subject)}",
        f"From: {sender}",
        f"To: {_address(mail.recipient)}",
        f"Date: {format_datetime(mail.date)}",
        f"Message-ID: {_address(mail.message_id)}",
        f"X-Invitation-Id: {mail.invitation_id}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    )
    parts = (
        "\r\n".join(headers).encode("ascii"),
        b"",
        f"--{boundary}".encode(),
        _text_part("plain", rendered.text),
        f"--{boundary}".encode(),
        _text_part("html", rendered.html),
        f"--{boundary}--".encode(),
        b"",
    )
    return b"\r\n".join(parts)


def _header_text(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _text_part(subtype: str, text: str) -> bytes:
    # Quoted-printable keeps mostly-ASCII mail readable in an .eml file; it also encodes a lone
    # "." line and trailing spaces, which SMTP would otherwise alter.
    body = binascii.b2a_qp("\n".join(_lines(text)).encode(), istext=True).replace(b"\n", b"\r\n")
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return head.encode("ascii") + body


def _address(value: str) -> str:
    # An address is never repaired: a changed address would be somebody else's.
    if value != one_line(value) or not value:
        raise ValueError(f"refusing a header value with control characters: {value!r}")
    return value
