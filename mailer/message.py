"""The invitation e-mail: pure functions from what a send needs to the bytes on the wire.

The template (the built-in one of mailer/templates/, or a store's own) renders in the sandbox of
domain/email_templates.py, bounded in time and size. Every header value passes through
`one_line`, so nothing a customer typed (a name, a message) can start a header of its own.
"""

from __future__ import annotations

import binascii
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr

import idna
from markupsafe import escape

from domain.email_templates import Variant, built_in, local_date, render_part, variables_used
from domain.identities import Sender


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
    # The template variant the store view selects; None: the built-in one of `locale`.
    variant: Variant | None = None
    expires_at: datetime | None = None


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


def variant_of(mail: InvitationMail) -> Variant:
    return mail.variant or built_in().variant_for(mail.locale)


def render(mail: InvitationMail) -> Rendered:
    """The subject, text and HTML of `mail`; RenderError (a ValueError) when the template fails.

    What an e-mail says but its link is the same for every invitation with the same wording
    (the template variant and the values it reads): that is rendered once, with a mark where the
    link goes, and each e-mail only puts its own link in. The cache is keyed by the variant's
    text itself, so a template saved a moment ago is never served from an older entry.
    """
    variant = variant_of(mail)
    values = {
        "store_name": one_line(mail.store_name),
        "inviter_name": one_line(mail.inviter_name) if mail.inviter_name else None,
        "message": "\n".join(_lines(mail.message)).strip() if mail.message else None,
        "invitee_email": mail.recipient,
        "expires_at": local_date(mail.expires_at, mail.locale) if mail.expires_at else None,
    }
    used = variables_used(variant)
    key = tuple(sorted((name, value) for name, value in values.items() if name in used))
    wording = _wording(variant, key)
    if wording is None:
        return _render(variant, {**dict(key), "invitation_url": mail.url})
    return _with_link(wording, mail.url)


# Letters and digits only: no escaping or line wrapping changes it.
_LINK_MARK = f"invitationlink{secrets.token_hex(12)}"
# A link with what HTML escaping changes, to check that a wording takes any link as it is.
_PROBE_LINK = "https://probe.invalid/invitation/accept?code=Ab-_09&store=a<b>'c\"d"
_ABSENT = dict.fromkeys(("store_name", "inviter_name", "message", "invitee_email", "expires_at"))


def _render(variant: Variant, values: dict[str, object]) -> Rendered:
    values = {**_ABSENT, **values}
    return Rendered(
        subject=one_line(render_part("subject", variant.subject, values)),
        text=render_part("text", variant.text, values),
        html=render_part("html", variant.html, values),
    )


def _with_link(wording: Rendered, url: str) -> Rendered:
    return Rendered(
        subject=wording.subject.replace(_LINK_MARK, url),
        text=wording.text.replace(_LINK_MARK, url),
        html=wording.html.replace(_LINK_MARK, str(escape(url))),
    )


@functools.lru_cache(maxsize=256)
def _wording(variant: Variant, key: tuple[tuple[str, object], ...]) -> Rendered | None:
    """The wording with the link's mark; None when a template does more with the link than
    print it (then every e-mail is rendered whole)."""
    wording = _render(variant, {**dict(key), "invitation_url": _LINK_MARK})
    probe = _render(variant, {**dict(key), "invitation_url": _PROBE_LINK})
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
