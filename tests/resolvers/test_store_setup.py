"""Store setup over HTTP (admin: STORES): websites, store views, groups, senders."""

from __future__ import annotations

from typing import Any

from models.accounts import Permission
from models.config_values import ConfigValue
from models.store import CustomerGroup, StoreView, Website
from tests.helpers import GraphQLClient, admin_token, error_codes, make_admin

CREATE_WEBSITE = """
mutation($i: CreateWebsiteInput!) {
  createWebsite(input: $i) {
    website { code name defaultGroup { code } storeViews { code } }
    userErrors { code field message }
  }
}"""
UPDATE_WEBSITE = """
mutation($id: ID!, $i: UpdateWebsiteInput!) {
  updateWebsite(id: $id, input: $i) {
    website { name defaultGroup { code } }
    userErrors { code field }
  }
}"""
CREATE_STORE_VIEW = """
mutation($i: CreateStoreViewInput!) {
  createStoreView(input: $i) {
    storeView { code locale isDefault baseUrl sortOrder invitationUrlTemplate website { code } }
    userErrors { code field message }
  }
}"""
UPDATE_STORE_VIEW = """
mutation($id: ID!, $i: UpdateStoreViewInput!) {
  updateStoreView(id: $id, input: $i) {
    storeView { code name isDefault baseUrl invitationUrlTemplate }
    userErrors { code field message }
  }
}"""
CREATE_GROUP = """
mutation($code: String!) {
  createCustomerGroup(input: {code: $code}) { customerGroup { code } userErrors { code field } }
}"""
STORE_VIEWS = "{ storeViews { code isDefault baseUrl sortOrder } }"
SENDERS = """
query($scope: SettingsScope) { emailSenders(scope: $scope) { identity name email } }"""
UPDATE_SENDERS = """
mutation($scope: SettingsScope, $input: [EmailSenderInput!]!) {
  updateEmailSenders(scope: $scope, input: $input) {
    senders { identity name email }
    userErrors { code field message }
  }
}"""


async def _token(*permissions: Permission) -> str:
    admin = await make_admin(permissions=list(permissions) or [Permission.STORES])
    return await admin_token(admin)


def _store_view(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "de",
        "name": "Deutsch",
        "websiteId": "1",
        "locale": "de_DE",
        "baseUrl": "https://eu.shop.example/de/",
        **overrides,
    }


async def test_a_website_is_created_with_its_default_group(gql: GraphQLClient) -> None:
    token = await _token()
    group = await CustomerGroup.get(code="Wholesale")

    body = await gql(
        CREATE_WEBSITE,
        {"i": {"code": "eu", "name": "EU Website", "defaultGroupId": str(group.id)}},
        token=token,
    )

    payload = body["data"]["createWebsite"]
    assert payload["userErrors"] == []
    assert payload["website"] == {
        "code": "eu",
        "name": "EU Website",
        "defaultGroup": {"code": "Wholesale"},
        "storeViews": [],
    }


async def test_a_bad_website_is_refused_whole(gql: GraphQLClient) -> None:
    token = await _token()

    body = await gql(
        CREATE_WEBSITE,
        {"i": {"code": "Not A Code", "name": " ", "defaultGroupId": "999"}},
        token=token,
    )
    taken = await gql(
        CREATE_WEBSITE, {"i": {"code": "base", "name": "Again", "defaultGroupId": "1"}}, token=token
    )

    errors = body["data"]["createWebsite"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_INPUT", ["input", "code"]),
        ("INVALID_INPUT", ["input", "name"]),
        ("NOT_FOUND", ["input", "defaultGroupId"]),
    ]
    assert [(e["code"], e["field"]) for e in taken["data"]["createWebsite"]["userErrors"]] == [
        ("ALREADY_EXISTS", ["input", "code"])
    ]
    assert await Website.all().count() == 1


async def test_a_website_is_updated_and_a_bad_id_is_refused(gql: GraphQLClient) -> None:
    token = await _token()
    retailer = await CustomerGroup.get(code="Retailer")

    body = await gql(
        UPDATE_WEBSITE,
        {"id": "1", "i": {"name": "Main", "defaultGroupId": str(retailer.id)}},
        token=token,
    )
    missing = await gql(UPDATE_WEBSITE, {"id": "77", "i": {"name": "X"}}, token=token)

    assert body["data"]["updateWebsite"]["website"] == {
        "name": "Main",
        "defaultGroup": {"code": "Retailer"},
    }
    assert missing["data"]["updateWebsite"]["userErrors"] == [
        {"code": "NOT_FOUND", "field": ["id"]}
    ]


async def test_a_store_view_is_created_and_listed_publicly(gql: GraphQLClient) -> None:
    token = await _token()

    body = await gql(CREATE_STORE_VIEW, {"i": _store_view(sortOrder=7)}, token=token)
    public = await gql(STORE_VIEWS)

    payload = body["data"]["createStoreView"]
    assert payload["userErrors"] == []
    assert payload["storeView"] == {
        "code": "de",
        "locale": "de_DE",
        "isDefault": False,
        "baseUrl": "https://eu.shop.example/de/",
        "sortOrder": 7,
        "invitationUrlTemplate": "{base_url}customer/account/create/?invitation={code}",
        "website": {"code": "base"},
    }
    assert public["data"]["storeViews"][-1] == {
        "code": "de",
        "isDefault": False,
        "baseUrl": "https://eu.shop.example/de/",
        "sortOrder": 7,
    }


async def test_the_url_template_is_not_public(gql: GraphQLClient) -> None:
    body = await gql("{ storeViews { code invitationUrlTemplate } }")

    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_every_rule_of_a_store_view_is_a_user_error_at_its_input(gql: GraphQLClient) -> None:
    token = await _token()
    bad = _store_view(
        code="default",
        name="",
        websiteId="abc",
        locale="xx_QQ",
        baseUrl="ftp://shop.example/",
        invitationUrlTemplate="{base_url}register",
    )

    body = await gql(CREATE_STORE_VIEW, {"i": bad}, token=token)
    relative = await gql(
        CREATE_STORE_VIEW, {"i": _store_view(baseUrl="/de/", locale="german")}, token=token
    )

    errors = body["data"]["createStoreView"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_INPUT", ["input", "name"]),
        ("INVALID_INPUT", ["input", "locale"]),
        ("INVALID_INPUT", ["input", "baseUrl"]),
        ("INVALID_INPUT", ["input", "invitationUrlTemplate"]),
        ("INVALID_INPUT", ["input", "websiteId"]),
    ]
    assert [e["field"] for e in relative["data"]["createStoreView"]["userErrors"]] == [
        ["input", "locale"],
        ["input", "baseUrl"],
    ]
    assert await StoreView.all().count() == 3


async def test_a_taken_store_view_code_is_already_exists(gql: GraphQLClient) -> None:
    token = await _token()

    body = await gql(CREATE_STORE_VIEW, {"i": _store_view(code="sv")}, token=token)

    assert body["data"]["createStoreView"]["userErrors"][0]["code"] == "ALREADY_EXISTS"


async def test_the_default_moves(gql: GraphQLClient) -> None:
    token = await _token()
    await gql(CREATE_STORE_VIEW, {"i": _store_view(isDefault=True)}, token=token)
    views = (await gql(STORE_VIEWS))["data"]["storeViews"]
    sv = await StoreView.get(code="sv")
    renamed = await gql(
        UPDATE_STORE_VIEW, {"id": str(sv.id), "i": {"name": "Svenska 2"}}, token=token
    )

    assert [v["code"] for v in views if v["isDefault"]] == ["de"]
    assert (await StoreView.get(code="default")).is_default is False
    assert renamed["data"]["updateStoreView"]["storeView"]["name"] == "Svenska 2"


async def test_the_default_cannot_be_unset(gql: GraphQLClient) -> None:
    token = await _token()
    default = await StoreView.get(code="default")

    body = await gql(
        UPDATE_STORE_VIEW, {"id": str(default.id), "i": {"isDefault": False}}, token=token
    )

    assert [(e["code"], e["field"]) for e in body["data"]["updateStoreView"]["userErrors"]] == [
        ("INVALID_INPUT", ["input", "isDefault"])
    ]
    assert (await StoreView.get(code="default")).is_default is True


async def test_a_new_url_is_checked_and_used(gql: GraphQLClient) -> None:
    token = await _token()
    sv = await StoreView.get(code="sv")

    bad = await gql(
        UPDATE_STORE_VIEW,
        {"id": str(sv.id), "i": {"baseUrl": "https://shop.example/sv", "name": "\u0007"}},
        token=token,
    )
    good = await gql(
        UPDATE_STORE_VIEW,
        {
            "id": str(sv.id),
            "i": {
                "baseUrl": "https://shop.example/sv/",
                "invitationUrlTemplate": "{base_url}konto?inbjudan={code}",
            },
        },
        token=token,
    )
    unknown = await gql(UPDATE_STORE_VIEW, {"id": "999", "i": {"sortOrder": 1}}, token=token)

    assert [e["field"] for e in bad["data"]["updateStoreView"]["userErrors"]] == [
        ["input", "name"],
        ["input", "baseUrl"],
    ]
    assert good["data"]["updateStoreView"]["storeView"]["baseUrl"] == "https://shop.example/sv/"
    row = await StoreView.get(code="sv")
    assert row.invitation_url("abc") == "https://shop.example/sv/konto?inbjudan=abc"
    assert unknown["data"]["updateStoreView"]["userErrors"][0]["field"] == ["id"]


async def test_customer_groups_are_created_once(gql: GraphQLClient) -> None:
    token = await _token()

    created = await gql(CREATE_GROUP, {"code": "VIP"}, token=token)
    again = await gql(CREATE_GROUP, {"code": "VIP"}, token=token)
    empty = await gql(CREATE_GROUP, {"code": " "}, token=token)

    assert created["data"]["createCustomerGroup"] == {
        "customerGroup": {"code": "VIP"},
        "userErrors": [],
    }
    assert again["data"]["createCustomerGroup"]["userErrors"] == [
        {"code": "ALREADY_EXISTS", "field": ["input", "code"]}
    ]
    assert empty["data"]["createCustomerGroup"]["userErrors"][0]["code"] == "INVALID_INPUT"


async def test_store_setup_needs_the_stores_permission(gql: GraphQLClient) -> None:
    token = await _token(Permission.INVITATIONS)

    body = await gql(CREATE_GROUP, {"code": "VIP"}, token=token)

    assert error_codes(body) == ["FORBIDDEN"]
    assert not await CustomerGroup.exists(code="VIP")


async def test_senders_are_scoped_and_inherited(gql: GraphQLClient) -> None:
    token = await _token()
    sv = await StoreView.get(code="sv")
    website_scope = {"type": "WEBSITE", "id": "1"}

    await gql(
        UPDATE_SENDERS,
        {
            "scope": website_scope,
            "input": [{"identity": "GENERAL", "name": "Shop", "email": "Hello@Shop.EXAMPLE"}],
        },
        token=token,
    )
    body = await gql(
        UPDATE_SENDERS,
        {
            "scope": {"type": "STORE_VIEW", "id": str(sv.id)},
            "input": [{"identity": "SALES", "name": "Försäljning", "email": "salj@shop.example"}],
        },
        token=token,
    )
    default = await gql(SENDERS, {}, token=token)

    senders = {s["identity"]: s for s in body["data"]["updateEmailSenders"]["senders"]}
    assert senders["GENERAL"] == {
        "identity": "GENERAL",
        "name": "Shop",
        "email": "Hello@shop.example",
    }
    assert senders["SALES"]["name"] == "Försäljning"
    assert default["data"]["emailSenders"][0] == {
        "identity": "GENERAL",
        "name": "Owner",
        "email": "owner@example.com",
    }


async def test_bad_senders_are_refused_whole(gql: GraphQLClient) -> None:
    token = await _token()
    rows_before = await ConfigValue.all().count()

    body = await gql(
        UPDATE_SENDERS,
        {
            "input": [
                {"identity": "GENERAL", "name": "Shop", "email": "hello@shop.example"},
                {"identity": "GENERAL", "name": "", "email": "not an address"},
            ]
        },
        token=token,
    )
    scope = await gql(
        UPDATE_SENDERS,
        {"scope": {"type": "WEBSITE", "id": "42"}, "input": []},
        token=token,
    )

    errors = body["data"]["updateEmailSenders"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("DUPLICATE_INPUT", ["input", "1", "identity"]),
        ("INVALID_INPUT", ["input", "1", "name"]),
        ("INVALID_EMAIL", ["input", "1", "email"]),
    ]
    assert scope["data"]["updateEmailSenders"]["userErrors"][0]["field"] == ["scope", "id"]
    assert await ConfigValue.all().count() == rows_before
