"""A store's own template, saved over HTTP, in the mail a real SMTP server (aiosmtpd) receives."""

from __future__ import annotations

from typing import Any

from models.accounts import Permission
from models.store import StoreView
from tests.helpers import GraphQLClient, admin_token, make_admin
from tests.mailer.conftest import SmtpServer, drain, make_invitation
from tests.resolvers.test_email_templates import (
    SAVE,
    UPDATE_SENDERS,
    UPDATE_SETTINGS,
    _template,
    _variant,
)


async def test_a_saved_template_reaches_a_real_smtp_server_at_once(
    gql: GraphQLClient, mailer: Any, smtp: SmtpServer
) -> None:
    token = await admin_token(await make_admin(permissions=[Permission.STORES]))
    settings_token = await admin_token(
        await make_admin("settings", permissions=[Permission.INVITATION_SETTINGS])
    )
    sv = await StoreView.get(code="sv")
    sv_scope = {"type": "STORE_VIEW", "id": str(sv.id)}
    await gql(
        UPDATE_STORE_VIEW_URL,
        {"id": str(sv.id), "url": "https://shop.example/sv/"},
        token=token,
    )
    await gql(
        UPDATE_SENDERS,
        {
            "scope": sv_scope,
            "input": [{"identity": "GENERAL", "name": "Butiken", "email": "hej@shop.example"}],
        },
        token=token,
    )
    await gql(SAVE, {"i": _template(_variant(subject="First"))}, token=token)
    await gql(
        UPDATE_SETTINGS,
        {"scope": sv_scope, "i": {"emailTemplate": "vip_invite"}},
        token=settings_token,
    )
    await make_invitation("first@example.com", store="sv")
    await drain(mailer)
    # the template changes between two sends: the second mail must not come from the cache
    await gql(SAVE, {"i": _template(_variant(subject="Second {{ store_name }}"))}, token=token)
    await make_invitation("second@example.com", store="sv")
    await drain(mailer)

    by_recipient = {str(m["To"]): m for m in smtp.messages()}
    first, second = by_recipient["first@example.com"], by_recipient["second@example.com"]
    assert first["Subject"] == "First"
    assert second["Subject"] == "Second Svenska"
    assert second["From"] == "Butiken <hej@shop.example>"
    text = second.get_body(("plain",)).get_content()
    assert text.startswith("Join: https://shop.example/sv/customer/account/create/?invitation=")


UPDATE_STORE_VIEW_URL = """
mutation($id: ID!, $url: String!) {
  updateStoreView(id: $id, input: {baseUrl: $url}) { userErrors { code } }
}"""
