"""The e-mail itself: locales, escaping, sender identity, and header injection."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from tortoise import connections

from domain.email_templates import Variant
from domain.identities import Sender
from mailer import message
from mailer.message import InvitationMail, build, one_line, render
from mailer.worker import CANNOT_BUILD
from models.invitation import DeliveryState, Invitation
from tests.helpers import make_customer, store_view
from tests.mailer.conftest import SmtpServer, drain, make_invitation, parse


async def _config(scope: str, scope_id: int, path: str, value: str) -> None:
    # Tortoise's JSONField cannot store a bare JSON string through the ORM (it decodes the
    # value, then refuses the decoded str as JSON text), so the row is written directly.
    conn = connections.get("default")
    placeholders = "$1, $2, $3, $4" if conn.capabilities.dialect == "postgres" else "?, ?, ?, ?"
    await conn.execute_query(
        f"INSERT INTO config_value (scope, scope_id, path, value) VALUES ({placeholders})",  # noqa: S608
        [scope, scope_id, path, json.dumps(value)],
    )


def _mail(**changes: object) -> InvitationMail:
    values: dict[str, object] = {
        "invitation_id": 7,
        "recipient": "bob@example.com",
        "sender": Sender("Owner", "owner@example.com"),
        "inviter_name": "Alice Doe",
        "message": None,
        "url": "http://localhost:3000/customer/account/create/?invitation=abc",
        "store_name": "Default Store View",
        "locale": "en_US",
        "message_id": "<1.2@example.com>",
        "date": datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
    }
    values.update(changes)
    return InvitationMail(**values)  # type: ignore[arg-type]


def test_the_custom_message_is_escaped_plain_text_with_its_line_breaks() -> None:
    rendered = render(_mail(message='<script>alert("x")</script>\r\nSecond & last line'))

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<br>\nSecond &amp; last line" in (
        rendered.html
    )
    assert '<script>alert("x")</script>\nSecond & last line' in rendered.text


@pytest.mark.parametrize(
    ("locale", "subject"),
    [
        ("en_US", "Alice Doe invites you to Default Store View"),
        ("sv_SE", "Alice Doe bjuder in dig till Default Store View"),
        ("zh_CN", "Alice Doe 邀请您加入 Default Store View"),
        ("fr_FR", "Alice Doe invites you to Default Store View"),
    ],
)
def test_the_store_view_locale_chooses_the_language(locale: str, subject: str) -> None:
    assert render(_mail(locale=locale)).subject == subject


def test_without_an_inviter_the_subject_names_the_store_only() -> None:
    rendered = render(_mail(inviter_name=None))

    assert rendered.subject == "You are invited to Default Store View"
    assert "Alice" not in rendered.text


def test_header_values_lose_their_line_breaks_and_bad_addresses_are_refused() -> None:
    assert one_line("Eve\r\nBcc: victim@example.com\x00") == "Eve Bcc: victim@example.com"
    with pytest.raises(ValueError, match="control characters"):
        build(_mail(recipient="bob@example.com\r\nBcc: victim@example.com"))
    with pytest.raises(ValueError, match="control characters"):
        build(_mail(sender=Sender("Owner", "owner@example.com\nBcc: x@example.com")))


async def test_header_injection_never_reaches_the_wire(mailer, smtp: SmtpServer) -> None:
    inviter = await make_customer(firstname="Eve\r\nBcc: victim@example.com", lastname="X\nY")
    await make_invitation(inviter=inviter, message="Hi\r\nBcc: victim@example.com\r\n\r\nbody")
    refused = await make_invitation("bob@example.com\r\nBcc: victim@example.com")

    await drain(mailer)

    [raw] = smtp.received
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc") for line in header_block.split(b"\r\n"))
    message = parse(raw)
    assert message["Bcc"] is None
    assert message["Subject"] == "Eve Bcc: victim@example.com X Y invites you to Default Store View"
    row = await Invitation.get(id=refused.id)
    assert row.delivery_state is DeliveryState.FAILED
    assert row.last_error is not None
    assert row.last_error == CANNOT_BUILD


async def test_the_e_mail_speaks_the_store_views_language_and_uses_its_identity(
    mailer, smtp: SmtpServer
) -> None:
    sv = await store_view("sv")
    await _config("default", 0, "invitations/email_sender_identity", "SALES")
    await _config("store_view", sv.id, "identity/sales/name", "Svenska Butiken")
    await make_invitation("sv@example.com", store="sv", message="Line one\nLine <two>")
    await make_invitation("zh@example.com", store="zh")

    await drain(mailer)

    by_recipient = {str(m["To"]): m for m in smtp.messages()}
    swedish = by_recipient["sv@example.com"]
    assert swedish["From"] == "Svenska Butiken <sales@example.com>"
    assert swedish["Subject"] == "Du är inbjuden till Svenska"
    html = swedish.get_body(("html",)).get_content()
    assert "Line one<br>\r\nLine &lt;two&gt;" in html
    assert 'href="http://localhost:3000/sv/customer/account/create/?invitation=' in html
    chinese = by_recipient["zh@example.com"]
    assert chinese["From"] == "Sales <sales@example.com>"
    assert chinese["Subject"] == "您受邀加入 中文"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:3000/customer/account/create/?invitation=abc",
        "https://shop.example.com/accept?code=Ab-_09&next=<a href=\"x\">&q='1'",
        "https://例え.jp/招待?code=xyz",
    ],
)
@pytest.mark.parametrize("locale", ["en_US", "sv_SE", "zh_CN"])
def test_a_wording_rendered_once_gives_each_link_as_a_whole_render_would(
    url: str, locale: str
) -> None:
    mail = _mail(url=url, locale=locale, message="Hi & <welcome>\nsecond line")

    # Twice: the second comes from the cache of wordings.
    first, second = render(mail), render(mail)

    whole = message._render(
        message.variant_of(mail),
        {
            "inviter_name": "Alice Doe",
            "store_name": "Default Store View",
            "message": mail.message,
            "invitation_url": url,
        },
    )
    assert first == second == whole
    assert url in whole.text


def test_a_template_doing_more_with_the_link_is_rendered_whole() -> None:
    variant = Variant(
        locale="en_US",
        subject="Invitation",
        text="Go to {{ invitation_url | upper }}",
        html='<a href="{{ invitation_url | replace("http:", "https:") }}">go</a>',
    )

    rendered = render(_mail(url="http://shop.example.com/accept?code=abc", variant=variant))

    assert rendered.text == "Go to HTTP://SHOP.EXAMPLE.COM/ACCEPT?CODE=ABC"
    assert rendered.html == '<a href="https://shop.example.com/accept?code=abc">go</a>'


def test_a_changed_template_is_never_served_from_the_cache() -> None:
    first = Variant("en_US", "One", "One {{ invitation_url }}", "<p>{{ invitation_url }}</p>")
    second = Variant("en_US", "Two", "Two {{ invitation_url }}", "<p>{{ invitation_url }}</p>")

    before = render(_mail(variant=first))
    after = render(_mail(variant=second))

    assert (before.subject, after.subject) == ("One", "Two")
    assert after.text.startswith("Two http://localhost:3000/")


def test_the_expiry_date_is_written_for_the_locale() -> None:
    expires = datetime(2026, 12, 31, 9, 0, tzinfo=UTC)

    german = render(_mail(locale="de_DE", expires_at=expires))
    english = render(_mail(locale="en_US", expires_at=expires))

    assert "Die Einladung gilt bis 31. Dezember 2026." in german.text
    assert german.subject == "Alice Doe lädt Sie zu Default Store View ein"
    assert "valid until December 31, 2026." in english.text


def test_one_line_keeps_printable_text_and_folds_the_rest() -> None:
    assert one_line("  Alice   Doe ") == "Alice Doe"
    assert one_line("Alice\r\nBcc: x@example.com") == "Alice Bcc: x@example.com"
    assert one_line("Alice\u2028Doe\x00") == "Alice Doe"
