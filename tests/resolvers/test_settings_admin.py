"""The scoped invitation settings through the admin API: inheritance, partial writes, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from models.accounts import Permission
from models.config_values import ConfigValue
from tests.helpers import GraphQLClient, admin_token, error_codes, make_admin, store_view

ALL_FIELDS = """
  enabled enabledOnStorefront referredCustomerGroup registrationMode allowCustomMessage
  maxInvitationsPerSend emailSenderIdentity emailTemplate lifetimeDays dailyQuotaPerCustomer
"""
SETTINGS = f"""
query Settings($scope: SettingsScope) {{ invitationSettings(scope: $scope) {{ {ALL_FIELDS} }} }}
"""
UPDATE = f"""
mutation Update($scope: SettingsScope, $input: InvitationSettingsInput!) {{
  updateInvitationSettings(scope: $scope, input: $input) {{
    settings {{ {ALL_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

BUILT_IN = {
    "enabled": True,
    "enabledOnStorefront": True,
    "referredCustomerGroup": "SAME_AS_INVITER",
    "registrationMode": "AVAILABLE_TO_ALL",
    "allowCustomMessage": True,
    "maxInvitationsPerSend": 5,
    "emailSenderIdentity": "GENERAL",
    "emailTemplate": "invitation_default",
    "lifetimeDays": None,
    "dailyQuotaPerCustomer": None,
}


@pytest.fixture
async def token() -> str:
    return await admin_token(await make_admin(permissions=[Permission.INVITATION_SETTINGS]))


async def scopes() -> dict[str, dict[str, str]]:
    view = await store_view("sv")
    return {
        "default": {"type": "DEFAULT"},
        "website": {"type": "WEBSITE", "id": str(view.website_id)},
        "sv": {"type": "STORE_VIEW", "id": str(view.id)},
        "zh": {"type": "STORE_VIEW", "id": str((await store_view("zh")).id)},
    }


async def read(gql: GraphQLClient, token: str, scope: dict[str, str] | None) -> dict[str, Any]:
    body = await gql(SETTINGS, {"scope": scope}, token=token)
    assert "errors" not in body, body
    settings: dict[str, Any] = body["data"]["invitationSettings"]
    return settings


async def update(
    gql: GraphQLClient, token: str, scope: dict[str, str] | None, values: dict[str, Any]
) -> dict[str, Any]:
    body = await gql(UPDATE, {"scope": scope, "input": values}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["updateInvitationSettings"]
    return payload


async def test_without_stored_values_every_scope_shows_the_built_in_defaults(
    gql: GraphQLClient, token: str
) -> None:
    for scope in [None, *(await scopes()).values()]:
        assert await read(gql, token, scope) == BUILT_IN


async def test_a_store_view_inherits_what_it_does_not_set_from_its_website_and_the_default(
    gql: GraphQLClient, token: str
) -> None:
    s = await scopes()
    await update(gql, token, s["default"], {"maxInvitationsPerSend": 7, "lifetimeDays": 30})
    await update(
        gql, token, s["website"], {"maxInvitationsPerSend": 9, "allowCustomMessage": False}
    )
    await update(gql, token, s["sv"], {"allowCustomMessage": True, "emailSenderIdentity": "SALES"})

    default, website = await read(gql, token, None), await read(gql, token, s["website"])
    sv, zh = await read(gql, token, s["sv"]), await read(gql, token, s["zh"])

    assert default == BUILT_IN | {"maxInvitationsPerSend": 7, "lifetimeDays": 30}
    assert website == default | {"maxInvitationsPerSend": 9, "allowCustomMessage": False}
    assert sv == website | {"allowCustomMessage": True, "emailSenderIdentity": "SALES"}
    assert zh == website


async def test_an_update_writes_only_the_fields_given_and_returns_the_effective_settings(
    gql: GraphQLClient, token: str
) -> None:
    s = await scopes()
    await update(gql, token, s["website"], {"registrationMode": "BY_INVITATION_ONLY"})

    payload = await update(gql, token, s["website"], {"dailyQuotaPerCustomer": 3})

    assert payload["userErrors"] == []
    assert payload["settings"] == BUILT_IN | {
        "registrationMode": "BY_INVITATION_ONLY",
        "dailyQuotaPerCustomer": 3,
    }
    stored = await ConfigValue.filter(scope="website").values_list("path", "value")
    assert sorted(stored) == [
        ("invitations/daily_quota_per_customer", 3),
        ("invitations/registration_mode", "BY_INVITATION_ONLY"),
    ]


async def test_an_explicit_null_lifts_an_inherited_lifetime_or_quota_and_omission_keeps_it(
    gql: GraphQLClient, token: str
) -> None:
    s = await scopes()
    await update(gql, token, None, {"lifetimeDays": 14, "dailyQuotaPerCustomer": 10})

    payload = await update(gql, token, s["sv"], {"lifetimeDays": None})

    assert payload["userErrors"] == []
    assert payload["settings"]["lifetimeDays"] is None
    assert payload["settings"]["dailyQuotaPerCustomer"] == 10
    assert (await read(gql, token, s["zh"]))["lifetimeDays"] == 14
    assert (await read(gql, token, s["default"]))["lifetimeDays"] == 14


async def test_the_default_scope_ignores_an_id(gql: GraphQLClient, token: str) -> None:
    payload = await update(gql, token, {"type": "DEFAULT", "id": "999"}, {"enabled": False})

    assert payload["userErrors"] == []
    assert (await read(gql, token, None))["enabled"] is False


async def test_enabled_is_read_from_the_default_scope_everywhere(
    gql: GraphQLClient, token: str
) -> None:
    s = await scopes()
    await update(gql, token, None, {"enabled": False})

    assert (await read(gql, token, s["sv"]))["enabled"] is False


@pytest.mark.parametrize(
    ("scope_name", "values", "field"),
    [
        ("default", {"maxInvitationsPerSend": 0}, "maxInvitationsPerSend"),
        ("default", {"maxInvitationsPerSend": -3}, "maxInvitationsPerSend"),
        ("default", {"maxInvitationsPerSend": 1001}, "maxInvitationsPerSend"),
        ("default", {"maxInvitationsPerSend": None}, "maxInvitationsPerSend"),
        ("default", {"emailTemplate": "no_such_template"}, "emailTemplate"),
        ("default", {"emailTemplate": None}, "emailTemplate"),
        ("default", {"lifetimeDays": 0}, "lifetimeDays"),
        ("default", {"lifetimeDays": -1}, "lifetimeDays"),
        ("default", {"lifetimeDays": 3651}, "lifetimeDays"),
        ("default", {"dailyQuotaPerCustomer": 0}, "dailyQuotaPerCustomer"),
        ("default", {"enabled": None}, "enabled"),
        ("default", {"enabledOnStorefront": None}, "enabledOnStorefront"),
        ("default", {"referredCustomerGroup": None}, "referredCustomerGroup"),
        ("default", {"registrationMode": None}, "registrationMode"),
        ("default", {"allowCustomMessage": None}, "allowCustomMessage"),
        ("default", {"emailSenderIdentity": None}, "emailSenderIdentity"),
        ("website", {"enabled": False}, "enabled"),
        ("sv", {"enabled": True}, "enabled"),
    ],
)
async def test_a_bad_value_is_a_user_error_at_its_path_and_nothing_is_saved(
    gql: GraphQLClient, token: str, scope_name: str, values: dict[str, Any], field: str
) -> None:
    scope = (await scopes())[scope_name]
    # A good value beside the bad one is not saved either.
    payload = await update(gql, token, scope, {"allowCustomMessage": False, **values})

    assert payload["settings"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_INPUT", ["input", field])
    ]
    assert payload["userErrors"][0]["message"]
    assert await ConfigValue.all().count() == 0


async def test_every_problem_is_reported_at_once(gql: GraphQLClient, token: str) -> None:
    website = (await scopes())["website"]
    values = {"enabled": False, "maxInvitationsPerSend": 0, "emailTemplate": "x", "lifetimeDays": 0}

    payload = await update(gql, token, website, values)

    assert sorted(e["field"][1] for e in payload["userErrors"]) == [
        "emailTemplate",
        "enabled",
        "lifetimeDays",
        "maxInvitationsPerSend",
    ]
    assert await ConfigValue.all().count() == 0


@pytest.mark.parametrize(
    ("scope", "code"),
    [
        ({"type": "WEBSITE"}, "INVALID_INPUT"),
        ({"type": "STORE_VIEW", "id": None}, "INVALID_INPUT"),
        ({"type": "WEBSITE", "id": "abc"}, "INVALID_INPUT"),
        ({"type": "WEBSITE", "id": "-1"}, "INVALID_INPUT"),
        ({"type": "WEBSITE", "id": "0"}, "INVALID_INPUT"),
        ({"type": "STORE_VIEW", "id": "99999999999999999999"}, "INVALID_INPUT"),
        ({"type": "WEBSITE", "id": "999"}, "NOT_FOUND"),
        ({"type": "STORE_VIEW", "id": "999"}, "NOT_FOUND"),
    ],
)
async def test_a_bad_scope_is_refused_at_scope_id(
    gql: GraphQLClient, token: str, scope: dict[str, str], code: str
) -> None:
    payload = await update(gql, token, scope, {"maxInvitationsPerSend": 2})

    assert payload["settings"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, ["scope", "id"])]
    assert await ConfigValue.all().count() == 0

    body = await gql(SETTINGS, {"scope": scope}, token=token)

    assert body["data"] is None
    assert error_codes(body) == ["BAD_REQUEST"]
    assert body["errors"][0]["extensions"]["field"] == ["scope", "id"]
    assert body["errors"][0]["extensions"]["reason"] == code


async def test_an_unknown_enum_value_is_a_graphql_validation_error(
    gql: GraphQLClient, token: str
) -> None:
    body = await gql(UPDATE, {"input": {"registrationMode": "NOBODY"}}, token=token)

    assert body.get("data") is None
    assert body["errors"]
    assert await ConfigValue.all().count() == 0


async def test_writing_a_setting_again_replaces_its_value(gql: GraphQLClient, token: str) -> None:
    await update(gql, token, None, {"emailSenderIdentity": "SALES", "lifetimeDays": 5})

    payload = await update(
        gql, token, None, {"emailSenderIdentity": "SUPPORT", "lifetimeDays": None}
    )

    assert payload["settings"]["emailSenderIdentity"] == "SUPPORT"
    assert payload["settings"]["lifetimeDays"] is None
    assert await ConfigValue.all().count() == 2
