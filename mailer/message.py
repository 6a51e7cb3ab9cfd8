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

import idna
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import Markup, escape

from domain.identities import Sender
from domain.invitation_settings import BUILT_IN_TEMPLATE, KNOWN_TEMPLATES

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
    if value.isprintable():  # the common case, without a look at each character
        return " ".join(value.split())
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
    """The subject, text and HTML of `mail`.

    What an e-mail says but its link is the same for every invitation with the same wording
    (template, locale, inviter, store, message): that is rendered once, with a mark where the link
    goes, and each e-mail only puts its own link in.
    """
    inviter = one_line(mail.inviter_name) if mail.inviter_name else None
    message = "\n".join(_lines(mail.message)).strip() if mail.message else None
    wording = _wording(mail.template, mail.locale, inviter, one_line(mail.store_name), message)
    if wording is None:
        return _render(
            mail.template, mail.locale, inviter, one_line(mail.store_name), message, mail.url
        )
    return _with_link(wording, mail.url)


# Letters and digits only: no escaping or line wrapping changes it.
_LINK_MARK = f"invitationlink{secrets.token_hex(12)}"
# A link with what HTML escaping changes, to check that a wording takes any link as it is.
_PROBE_LINK = "https://probe.invalid/invitation/accept?code=Ab-_09&store=a<b>'c\"d"


def _render(
    template: str, locale: str, inviter: str | None, store: str, message: str | None, url: str
) -> Rendered:
    subject_template, text_template, html_template = _templates(template, locale)
    values = {"inviter": inviter, "store": store, "url": url, "message": message}
    subject = one_line(subject_template.render(values))
    return Rendered(
        subject=subject,
        text=text_template.render(values),
        html=html_template.render(values, subject=subject),
    )


def _with_link(wording: Rendered, url: str) -> Rendered:
    return Rendered(
        subject=wording.subject.replace(_LINK_MARK, url),
        text=wording.text.replace(_LINK_MARK, url),
        html=wording.html.replace(_LINK_MARK, str(escape(url))),
    )


@functools.lru_cache(maxsize=256)
def _wording(
    template: str, locale: str, inviter: str | None, store: str, message: str | None
) -> Rendered | None:
    """The wording with the link's mark; None when a template does more with the link than
    print it (then every e-mail is rendered whole)."""
    wording = _render(template, locale, inviter, store, message, _LINK_MARK)
    probe = _render(template, locale, inviter, store, message, _PROBE_LINK)
    return wording if _with_link(wording, _PROBE_LINK) == probe else None


def build(mail: InvitationMail) -> bytes:
    """The complete message; ValueError when an address cannot be put in a header.

    Written out directly rather than through email.message.EmailMessage, which spends about
    2 ms per message re-parsing every header: the mailer's throughput is bound by it.
    """
    rendered = render(mail)
    # Both parts are quoted-printable, where "=" only ever starts "=XX" or a soft line break:
    # a boundary starting with "=_" cannot occur in them, so it needs no randomness.
    boundary = f"=_invitation_{mail.invitation_id}"
    sender = formataddr((one_line(mail.sender.name), _address(mail.sender.email)), "utf-8")
    headers = (
        f"Subject: {_header_text(rendered.subject)}",
        f"From: {sender}",
        f"To: {envelope_address(_address(mail.recipient))}",
        f"Date: {format_datetime(mail.date)}",
        f"Message-ID: {_address(mail.message_id)}",
        f"X-Invitation-Id: {mail.invitation_id}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    )
    head = "\r\n".join(headers)
    parts = (
        # Only an address with a non-ASCII local part puts UTF-8 in a header (RFC 6532): the
        # transport sends such a message only to a server that offers SMTPUTF8.
        head.encode("ascii" if head.isascii() else "utf-8"),
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


def envelope_address(address: str) -> str:
    """The address with its domain in ASCII (IDNA) form, as SMTP carries it.

    Addresses are stored that way; this also covers rows stored before they were.
    ValueError (idna.IDNAError) when the domain is not a valid IDNA name.
    """
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"


def _address(value: str) -> str:
    # An address is never repaired: a changed address would be somebody else's.
    if value != one_line(value) or not value:
        raise ValueError(f"refusing a header value with control characters: {value!r}")
    return value
