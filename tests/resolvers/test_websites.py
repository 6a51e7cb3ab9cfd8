"""Websites are isolated: a second website, set up over HTTP, with its own store views,
customers, codes, settings and senders."""

from __future__ import annotations

from models.accounts import Permission
from models.store import CustomerGroup, Website
from tests.helpers import (
    PASSWORD,
    GraphQLClient,
    admin_token,
    customer_token,
    make_admin,
    make_customer,
)
from tests.invitation_factories import code_of, make_invitation

CREATE_WEBSITE = """
mutation($i: CreateWebsiteInput!) {
  createWebsite(input: $i) { website { id } userErrors { code } }
}"""
CREATE_STORE_VIEW = """
mutation($i: CreateStoreViewInput!) {
  createStoreView(input: $i) { storeView { id } userErrors { code } }
}"""
SEND = """
mutation($input: SendInvitationsInput!) {
  sendInvitations(input: $input) { invitations { email website { code } } userErrors { code } }
}"""
CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { email website { code } } userErrors { code } }
}"""
SETTINGS = "{ storefrontInvitationSettings { maxInvitationsPerSend } }"
UPDATE_SETTINGS = """
mutation($scope: SettingsScope, $i: InvitationSettingsInput!) {
  updateInvitationSettings(scope: $scope, input: $i) { userErrors { code } }
}"""
SENDERS = "query($scope: SettingsScope) { emailSenders(scope: $scope) { identity email } }"
UPDATE_SENDERS = """
mutation($scope: SettingsScope, $input: [EmailSenderInput!]!) {
  updateEmailSenders(scope: $scope, input: $input) { userErrors { code } }
}"""


async def _second_website(gql: GraphQLClient, token: str) -> str:
    group = await CustomerGroup.get(code="General")
    website = await gql(
        CREATE_WEBSITE,
        {"i": {"code": "eu", "name": "EU Website", "defaultGroupId": str(group.id)}},
        token=token,
    )
    website_id: str = website["data"]["createWebsite"]["website"]["id"]
    store_view = {
        "code": "de",
        "name": "Deutsch",
        "websiteId": website_id,
        "locale": "de_DE",
        "baseUrl": "https://eu.shop.example/de/",
    }
    created = await gql(CREATE_STORE_VIEW, {"i": store_view}, token=token)
    assert created["data"]["createStoreView"]["userErrors"] == []
    return website_id


async def test_a_customer_of_one_website_may_be_invited_on_another(gql: GraphQLClient) -> None:
    token = await admin_token(await make_admin(permissions=[Permission.STORES]))
    await _second_website(gql, token)
    await make_customer("alice@example.com")  # a customer of website base
    eu_customer = await make_customer("erik@example.com", website=await Website.get(code="eu"))

    body = await gql(
        SEND,
        {"input": {"emails": ["alice@example.com"]}},
        token=await customer_token(eu_customer),
        store="de",
    )

    payload = body["data"]["sendInvitations"]
    assert payload["userErrors"] == []
    assert payload["invitations"] == [{"email": "alice@example.com", "website": {"code": "eu"}}]


async def test_a_code_of_one_website_is_refused_on_another(gql: GraphQLClient) -> None:
    token = await admin_token(await make_admin(permissions=[Permission.STORES]))
    await _second_website(gql, token)
    invitation = await make_invitation(None, "guest@example.com")  # on website base
    registration = {
        "email": "guest@example.com",
        "firstname": "Guest",
        "lastname": "Doe",
        "password": PASSWORD,
        "invitationCode": code_of(invitation),
    }

    refused = await gql(CREATE_CUSTOMER, {"input": registration}, store="de")
    accepted = await gql(CREATE_CUSTOMER, {"input": registration}, store="default")

    assert refused["data"]["createCustomer"]["userErrors"] == [{"code": "INVITATION_NOT_VALID"}]
    assert accepted["data"]["createCustomer"]["customer"]["website"] == {"code": "base"}


async def test_settings_and_senders_are_scoped_per_website(gql: GraphQLClient) -> None:
    token = await admin_token(
        await make_admin(permissions=[Permission.STORES, Permission.INVITATION_SETTINGS])
    )
    eu_id = await _second_website(gql, token)
    eu = {"type": "WEBSITE", "id": eu_id}
    await gql(UPDATE_SETTINGS, {"scope": eu, "i": {"maxInvitationsPerSend": 2}}, token=token)
    await gql(
        UPDATE_SENDERS,
        {"scope": eu, "input": [{"identity": "GENERAL", "name": "EU", "email": "eu@shop.example"}]},
        token=token,
    )

    on_eu = await gql(SETTINGS, store="de")
    on_base = await gql(SETTINGS, store="default")
    eu_senders = await gql(SENDERS, {"scope": eu}, token=token)
    base_senders = await gql(SENDERS, {"scope": {"type": "WEBSITE", "id": "1"}}, token=token)

    assert on_eu["data"]["storefrontInvitationSettings"]["maxInvitationsPerSend"] == 2
    assert on_base["data"]["storefrontInvitationSettings"]["maxInvitationsPerSend"] == 5
    assert eu_senders["data"]["emailSenders"][0] == {
        "identity": "GENERAL",
        "email": "eu@shop.example",
    }
    assert base_senders["data"]["emailSenders"][0] == {
        "identity": "GENERAL",
        "email": "owner@example.com",
    }
