"""E-mail templates over HTTP (admin: STORES): saving, refusing, the sandbox, previews, and
the mail a real SMTP server receives."""

from __future__ import annotations

from typing import Any

import pytest

from domain.invitation_settings import BUILT_IN_TEMPLATE
from models.accounts import Permission
from models.store import EmailTemplate, StoreView
from tests.helpers import GraphQLClient, admin_token, make_admin

SAVE = """
mutation($i: EmailTemplateInput!) {
  saveEmailTemplate(input: $i) {
    template { code name builtIn variants { locale subject } }
    userErrors { code field message }
  }
}"""
DELETE = """
mutation($code: String!) {
  deleteEmailTemplate(code: $code) { deleted userErrors { code field } }
}"""
TEMPLATES = "{ emailTemplates { code builtIn variants { locale } } }"
PREVIEW = """
query($code: String!, $store: ID!, $message: String) {
  previewInvitationEmail(templateCode: $code, storeViewId: $store, message: $message) {
    from subject text html
  }
}"""
UPDATE_SETTINGS = """
mutation($scope: SettingsScope, $i: InvitationSettingsInput!) {
  updateInvitationSettings(scope: $scope, input: $i) { userErrors { code field } }
}"""
UPDATE_SENDERS = """
mutation($scope: SettingsScope, $input: [EmailSenderInput!]!) {
  updateEmailSenders(scope: $scope, input: $input) { userErrors { code } }
}"""


def _variant(locale: str = "en_US", **parts: str) -> dict[str, str]:
    return {
        "locale": locale,
        "subject": "{{ store_name }} invites you",
        "text": "Join: {{ invitation_url }}",
        "html": '<p><a href="{{ invitation_url }}">{{ store_name }}</a></p>',
        **parts,
    }


def _template(*variants: dict[str, str], code: str = "vip_invite") -> dict[str, Any]:
    return {"code": code, "name": "VIP invitation", "variants": list(variants) or [_variant()]}


@pytest.fixture
async def token() -> str:
    return await admin_token(await make_admin(permissions=[Permission.STORES]))


async def _refusal(gql: GraphQLClient, token: str, *variants: dict[str, str]) -> list[dict]:
    body = await gql(SAVE, {"i": _template(*variants)}, token=token)
    payload = body["data"]["saveEmailTemplate"]
    assert payload["template"] is None
    assert not await EmailTemplate.exists(code="vip_invite")
    errors: list[dict] = payload["userErrors"]
    return errors


async def test_a_template_is_saved_listed_and_replaced(gql: GraphQLClient, token: str) -> None:
    saved = await gql(SAVE, {"i": _template(_variant(), _variant("de_DE"))}, token=token)
    replaced = await gql(SAVE, {"i": _template(_variant(subject="New"))}, token=token)
    listed = await gql(TEMPLATES, token=token)

    assert saved["data"]["saveEmailTemplate"]["userErrors"] == []
    assert saved["data"]["saveEmailTemplate"]["template"]["builtIn"] is False
    assert replaced["data"]["saveEmailTemplate"]["template"]["variants"] == [
        {"locale": "en_US", "subject": "New"}
    ]
    templates = listed["data"]["emailTemplates"]
    assert templates[0]["code"] == BUILT_IN_TEMPLATE
    assert templates[0]["builtIn"] is True
    assert {v["locale"] for v in templates[0]["variants"]} >= {"en_US", "sv_SE", "zh_CN", "de_DE"}
    assert templates[1]["code"] == "vip_invite"


async def test_the_built_in_template_is_read_only(gql: GraphQLClient, token: str) -> None:
    save = await gql(SAVE, {"i": _template(code=BUILT_IN_TEMPLATE)}, token=token)
    delete = await gql(DELETE, {"code": BUILT_IN_TEMPLATE}, token=token)

    assert save["data"]["saveEmailTemplate"]["userErrors"][0]["code"] == "NOT_ALLOWED"
    assert delete["data"]["deleteEmailTemplate"]["userErrors"] == [
        {"code": "NOT_ALLOWED", "field": ["code"]}
    ]


async def test_a_template_without_the_link_is_refused(gql: GraphQLClient, token: str) -> None:
    errors = await _refusal(
        gql,
        token,
        _variant(text="No link here"),
        _variant("de_DE", html="{% if false %}{{ invitation_url }}{% endif %}"),
    )

    assert [(e["code"], e["field"]) for e in errors] == [
        ("TEMPLATE_INVALID", ["input", "variants", "0", "text"]),
        ("TEMPLATE_INVALID", ["input", "variants", "1", "html"]),
    ]
    assert "invitation_url" in errors[0]["message"]
    assert errors[1]["message"].startswith("Variant de_DE, html")


async def test_a_syntax_error_names_the_variant_and_the_line(
    gql: GraphQLClient, token: str
) -> None:
    errors = await _refusal(gql, token, _variant(text="Hello\n{{ invitation_url }}\n{% if %}"))

    assert errors[0]["code"] == "TEMPLATE_INVALID"
    assert errors[0]["message"].startswith("Variant en_US, text, line 3:")


async def test_unknown_variables_and_other_rules_are_refused(
    gql: GraphQLClient, token: str
) -> None:
    body = await gql(
        SAVE,
        {
            "i": {
                "code": "Bad Code",
                "name": "",
                "variants": [
                    _variant("de_DE", subject="{{ secret_key }}"),
                    _variant("de_DE"),
                    _variant("xx_XX"),
                ],
            }
        },
        token=token,
    )

    errors = body["data"]["saveEmailTemplate"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_INPUT", ["input", "code"]),
        ("INVALID_INPUT", ["input", "name"]),
        ("INVALID_INPUT", ["input", "variants"]),
        ("TEMPLATE_INVALID", ["input", "variants", "0", "subject"]),
        ("INVALID_INPUT", ["input", "variants", "1", "locale"]),
        ("INVALID_INPUT", ["input", "variants", "2", "locale"]),
    ]
    assert "unknown variable 'secret_key'" in errors[3]["message"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{ invitation_url.__class__.__mro__ }}", "unsafe"),
        ("{{ ''.__class__.__base__.__subclasses__() }}", "unsafe"),
        ("{{ invitation_url.format(1) }}", "unsafe"),
        ("{% for a in range(9999) %}{% for b in range(9999) %}{% endfor %}{% endfor %}", "loop"),
        ("{{ 'x' * 100000000 }}", "longer than"),
        ("{{ 9 ** 9 ** 9 }}", "power"),
        ("{{ 'x'.ljust(5000) }}", "unsafe"),
        ("{{ 'x'.zfill(10**8) }}", "number above"),
        ("{% for a in range(5000) %}{{ 'x' * 90000 }}{% endfor %}", "more than"),
        ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "recursion"),
        (
            "{% macro d(n) %}{% if n %}{{ d(n - 1) }}{{ d(n - 1) }}{% endif %}{% endmacro %}"
            "{{ d(40) }}",
            # The call limit, or on a slow machine the time limit, whichever comes first.
            ("calls", "longer than"),
        ),
        ("{{ lipsum(1000) }}", "unknown variable"),
        ("{{ '%99999999s' % invitation_url }}", "formatting"),
        ("{{ invitation_url | center(10) }}", "No filter named 'center'"),
    ],
)
async def test_the_sandbox_refuses_hostile_templates(
    gql: GraphQLClient, token: str, text: str, reason: str | tuple[str, ...]
) -> None:
    errors = await _refusal(gql, token, _variant(text=text + " {{ invitation_url }}"))

    assert errors[0]["code"] == "TEMPLATE_INVALID"
    reasons = (reason,) if isinstance(reason, str) else reason
    assert any(r in errors[0]["message"] for r in reasons), errors[0]["message"]


async def test_a_template_in_use_is_not_deleted(gql: GraphQLClient, token: str) -> None:
    settings_token = await admin_token(
        await make_admin("settings", permissions=[Permission.INVITATION_SETTINGS])
    )
    await gql(SAVE, {"i": _template()}, token=token)
    selected = await gql(
        UPDATE_SETTINGS, {"i": {"emailTemplate": "vip_invite"}}, token=settings_token
    )
    unknown = await gql(UPDATE_SETTINGS, {"i": {"emailTemplate": "nope"}}, token=settings_token)

    in_use = await gql(DELETE, {"code": "vip_invite"}, token=token)
    await gql(UPDATE_SETTINGS, {"i": {"emailTemplate": BUILT_IN_TEMPLATE}}, token=settings_token)
    deleted = await gql(DELETE, {"code": "vip_invite"}, token=token)
    missing = await gql(DELETE, {"code": "vip_invite"}, token=token)

    assert selected["data"]["updateInvitationSettings"]["userErrors"] == []
    assert unknown["data"]["updateInvitationSettings"]["userErrors"][0]["field"] == [
        "input",
        "emailTemplate",
    ]
    assert in_use["data"]["deleteEmailTemplate"] == {
        "deleted": False,
        "userErrors": [{"code": "IN_USE", "field": ["code"]}],
    }
    assert deleted["data"]["deleteEmailTemplate"] == {"deleted": True, "userErrors": []}
    assert missing["data"]["deleteEmailTemplate"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_preview_uses_the_store_views_locale_sender_and_link(
    gql: GraphQLClient, token: str
) -> None:
    sv = await StoreView.get(code="sv")
    await gql(
        SAVE, {"i": _template(_variant(), _variant("sv_SE", subject="Välkommen"))}, token=token
    )
    await gql(
        UPDATE_SENDERS,
        {
            "scope": {"type": "STORE_VIEW", "id": str(sv.id)},
            "input": [{"identity": "GENERAL", "name": "Butiken", "email": "hej@shop.example"}],
        },
        token=token,
    )

    body = await gql(
        PREVIEW, {"code": "vip_invite", "store": str(sv.id), "message": "<b>hi</b>"}, token=token
    )
    missing = await gql(PREVIEW, {"code": "nope", "store": str(sv.id)}, token=token)

    shown = body["data"]["previewInvitationEmail"]
    assert shown["from"] == "Butiken <hej@shop.example>"
    assert shown["subject"] == "Välkommen"
    assert (
        "http://localhost:3000/sv/customer/account/create/?invitation=SAMPLE-code" in shown["text"]
    )
    assert missing["errors"][0]["extensions"]["reason"] == "NOT_FOUND"
