"""Customer invitations over HTTP: settings, sending, the inviter's list and canceling."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta, timezone
from typing import Any

import httpx
import pytest

from domain import invitation_settings as s
from domain.clock import utcnow
from models.invitation import DeliveryState, Invitation, InvitationStatus, InvitationStatusChange
from models.store import StoreView
from tests.helpers import (
    GraphQLClient,
    admin_token,
    customer_token,
    error_codes,
    make_admin,
    make_customer,
)
from tests.invitation_factories import age, make_invitation, set_settings

SETTINGS = """
{
  storefrontInvitationSettings {
    enabled maxInvitationsPerSend allowCustomMessage registrationMode
  }
}
"""

SEND = """
mutation Send($input: SendInvitationsInput!) {
  sendInvitations(input: $input) {
    invitations {
      id email status message createdAt expiresAt
      storeView { code } website { code } inviteeGroup { code }
    }
    userErrors { code field message }
  }
}
"""

MY_INVITATIONS = """
query Mine($first: Int, $after: String, $status: [InvitationStatus!]) {
  myInvitations(first: $first, after: $after, status: $status) {
    totalCount
    nodes { id email status }
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

CANCEL = """
mutation Cancel($id: ID!) {
  cancelInvitation(id: $id) { invitation { id status } userErrors { code field message } }
}
"""


def send_input(emails: list[str], message: str | None = None) -> dict[str, Any]:
    return {"input": {"emails": emails, "message": message}}


async def post_ascii(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any], *, token: str
) -> dict[str, Any]:
    """Post with every non-ASCII character escaped, so lone surrogates reach the server."""
    response = await http.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def signed_in(email: str = "alice@example.com", **kwargs: Any) -> tuple[Any, str]:
    customer = await make_customer(email, **kwargs)
    return customer, await customer_token(customer)


# ---------------------------------------------------------------- storefront settings


async def test_storefront_settings_have_the_built_in_defaults(gql: GraphQLClient) -> None:
    body = await gql(SETTINGS)

    assert body["data"]["storefrontInvitationSettings"] == {
        "enabled": True,
        "maxInvitationsPerSend": 5,
        "allowCustomMessage": True,
        "registrationMode": "AVAILABLE_TO_ALL",
    }


async def test_storefront_settings_are_those_of_the_requested_store_view(
    gql: GraphQLClient,
) -> None:
    sv = await StoreView.get(code="sv")
    await s.write(
        s.Scope(s.ScopeType.STORE_VIEW, sv.id),
        {"enabled_on_storefront": False, "max_invitations_per_send": 2},
    )
    await set_settings(registration_mode=s.RegistrationMode.BY_INVITATION_ONLY)

    in_sv = (await gql(SETTINGS, store="sv"))["data"]["storefrontInvitationSettings"]
    in_default = (await gql(SETTINGS))["data"]["storefrontInvitationSettings"]

    assert in_sv["enabled"] is False
    assert in_sv["maxInvitationsPerSend"] == 2
    assert in_sv["registrationMode"] == "BY_INVITATION_ONLY"
    assert (in_default["enabled"], in_default["maxInvitationsPerSend"]) == (True, 5)


# ---------------------------------------------------------------- sending


async def test_send_creates_normalised_queued_invitations_with_history(
    gql: GraphQLClient,
) -> None:
    inviter, token = await signed_in(group_code="Wholesale")

    body = await gql(
        SEND,
        send_input(["  Friend@EXAMPLE.com ", "other@example.org"], "Come and see!"),
        token=token,
        store="sv",
    )

    payload = body["data"]["sendInvitations"]
    assert payload["userErrors"] == []
    first, second = payload["invitations"]
    assert (first["email"], second["email"]) == ("Friend@example.com", "other@example.org")
    assert first["status"] == "NOT_SENT"
    assert first["message"] == "Come and see!"
    assert first["storeView"] == {"code": "sv"}
    assert first["website"] == {"code": "base"}
    assert first["inviteeGroup"] == {"code": "Wholesale"}
    assert first["expiresAt"] is None
    row = await Invitation.get(id=int(first["id"]))
    assert row.email_key == "friend@example.com"
    assert row.inviter_id == inviter.id
    assert row.delivery_state is DeliveryState.QUEUED
    assert len(row.code_nonce) == 32
    history = await InvitationStatusChange.filter(invitation_id=row.id)
    assert [(h.status, h.actor) for h in history] == [
        (InvitationStatus.NOT_SENT, f"customer:{inviter.id}")
    ]


async def test_default_group_setting_and_lifetime(gql: GraphQLClient) -> None:
    await set_settings(
        referred_customer_group=s.ReferredCustomerGroup.DEFAULT_GROUP, lifetime_days=7
    )
    _, token = await signed_in(group_code="Wholesale")
    before = utcnow()

    body = await gql(SEND, send_input(["friend@example.com"]), token=token)

    invitation = body["data"]["sendInvitations"]["invitations"][0]
    assert invitation["inviteeGroup"] is None
    row = await Invitation.get(id=int(invitation["id"]))
    assert row.expires_at is not None
    assert before + timedelta(days=7) <= row.expires_at <= utcnow() + timedelta(days=7)


async def test_each_refused_address_gets_its_own_error_and_the_rest_are_created(
    gql: GraphQLClient,
) -> None:
    inviter, token = await signed_in()
    await make_customer("member@example.com")
    await make_invitation(inviter, "again@example.com", status=InvitationStatus.CANCELED)
    # Another customer's invitation to an address does not stop this one.
    await make_invitation(await make_customer("bob@example.com"), "shared@example.com")

    body = await gql(
        SEND,
        send_input(
            [
                "new@example.com",
                "not-an-address",
                "NEW@example.com",
                "Member@Example.com",
                "again@EXAMPLE.com",
            ]
        ),
        token=token,
    )
    shared = await gql(SEND, send_input(["shared@example.com"]), token=token)

    payload = body["data"]["sendInvitations"]
    assert [i["email"] for i in payload["invitations"]] == ["new@example.com"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_EMAIL", ["input", "emails", "1"]),
        ("DUPLICATE_INPUT", ["input", "emails", "2"]),
        ("CUSTOMER_EXISTS", ["input", "emails", "3"]),
        ("ALREADY_INVITED", ["input", "emails", "4"]),
    ]
    assert shared["data"]["sendInvitations"]["userErrors"] == []
    assert await Invitation.filter(inviter_id=inviter.id).count() == 3


@pytest.mark.parametrize(
    ("configured", "emails", "message", "code", "field"),
    [
        ({"enabled": False}, ["a@example.com"], None, "INVITATIONS_DISABLED", None),
        ({"enabled_on_storefront": False}, ["a@example.com"], None, "INVITATIONS_DISABLED", None),
        (
            {},
            [f"a{i}@example.com" for i in range(6)],
            None,
            "TOO_MANY_RECIPIENTS",
            ["input", "emails"],
        ),
        (
            {"max_invitations_per_send": 1},
            ["a@example.com", "b@example.com"],
            None,
            "TOO_MANY_RECIPIENTS",
            ["input", "emails"],
        ),
        (
            {"allow_custom_message": False},
            ["a@example.com"],
            "hello",
            "MESSAGE_NOT_ALLOWED",
            ["input", "message"],
        ),
        ({}, ["a@example.com"], "x" * 2001, "MESSAGE_TOO_LONG", ["input", "message"]),
        ({}, ["a@example.com"], "bad\x00byte", "INVALID_INPUT", ["input", "message"]),
        ({}, ["a@example.com"], "evil \u202etxt.exe", "INVALID_INPUT", ["input", "message"]),
    ],
)
async def test_whole_request_refusals_write_nothing(
    http: httpx.AsyncClient,
    configured: dict[str, Any],
    emails: list[str],
    message: str | None,
    code: str,
    field: list[str] | None,
) -> None:
    await set_settings(**configured)
    _, token = await signed_in()

    body = await post_ascii(http, SEND, send_input(emails, message), token=token)

    payload = body["data"]["sendInvitations"]
    assert payload["invitations"] == []
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert await Invitation.all().count() == 0


async def test_a_lone_surrogate_is_refused_at_the_http_edge(http: httpx.AsyncClient) -> None:
    _, token = await signed_in()

    response = await http.post(
        "/graphql",
        content=json.dumps({"query": SEND, "variables": send_input(["a@example.com"], "x \ud800")}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert await Invitation.all().count() == 0


async def test_a_message_of_2000_characters_with_line_breaks_is_accepted(
    gql: GraphQLClient,
) -> None:
    _, token = await signed_in()
    message = ("Hej!\r\n\tWelcome " + "é" * 2000)[:2000]

    body = await gql(SEND, send_input(["a@example.com"], message), token=token)

    assert body["data"]["sendInvitations"]["invitations"][0]["message"] == message


async def test_a_blank_message_is_no_message(gql: GraphQLClient) -> None:
    await set_settings(allow_custom_message=False)
    _, token = await signed_in()

    body = await gql(SEND, send_input(["a@example.com"], "   "), token=token)

    assert body["data"]["sendInvitations"]["invitations"][0]["message"] is None


async def test_quota_counts_the_last_24_hours(gql: GraphQLClient) -> None:
    await set_settings(daily_quota_per_customer=3)
    inviter, token = await signed_in()
    old = await make_invitation(inviter, "old@example.com")
    await age(old, timedelta(hours=25))
    for address in ("one@example.com", "two@example.com"):
        recent = await make_invitation(inviter, address, status=InvitationStatus.CANCELED)
        await age(recent, timedelta(hours=1))

    too_many = await gql(SEND, send_input(["a@example.com", "b@example.com"]), token=token)
    one = await gql(SEND, send_input(["a@example.com"]), token=token)
    another = await gql(SEND, send_input(["b@example.com"]), token=token)

    assert [(e["code"], e["field"]) for e in too_many["data"]["sendInvitations"]["userErrors"]] == [
        ("QUOTA_EXCEEDED", ["input", "emails"])
    ]
    assert one["data"]["sendInvitations"]["userErrors"] == []
    assert error_codes(another) == []
    assert another["data"]["sendInvitations"]["userErrors"][0]["code"] == "QUOTA_EXCEEDED"
    assert await Invitation.filter(inviter_id=inviter.id).count() == 4


@pytest.mark.parametrize(
    "hostile",
    [
        "x" * 100_000,
        "a\x00b@example.com",
        "\u202eevil@example.com",
        "line\r\nBcc: all@example.com",
        "<script>alert(1)</script>@example.com",
        "a@" + "b" * 300 + ".com",
        "",
        "' OR 1=1 --@example.com",
    ],
)
async def test_hostile_addresses_are_user_errors_and_never_written(
    http: httpx.AsyncClient, hostile: str
) -> None:
    _, token = await signed_in()

    body = await post_ascii(http, SEND, send_input([hostile, "fine@example.com"]), token=token)

    assert error_codes(body) == []
    payload = body["data"]["sendInvitations"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID_EMAIL", ["input", "emails", "0"])
    ]
    assert [row.email for row in await Invitation.all()] == ["fine@example.com"]


async def test_a_huge_list_is_refused_before_any_address_is_looked_at(
    gql: GraphQLClient,
) -> None:
    _, token = await signed_in()

    body = await gql(SEND, send_input(["bad"] * 5000), token=token)

    errors = body["data"]["sendInvitations"]["userErrors"]
    assert [e["code"] for e in errors] == ["TOO_MANY_RECIPIENTS"]


async def test_sending_needs_a_customer_token(gql: GraphQLClient) -> None:
    admin = await make_admin()

    anonymous = await gql(SEND, send_input(["a@example.com"]))
    as_admin = await gql(SEND, send_input(["a@example.com"]), token=await admin_token(admin))

    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    assert error_codes(as_admin) == ["FORBIDDEN"]
    assert await Invitation.all().count() == 0


async def test_concurrent_requests_inviting_one_address_create_one_invitation(
    gql: GraphQLClient,
) -> None:
    inviter, token = await signed_in()

    bodies = await asyncio.gather(
        *(gql(SEND, send_input(["same@example.com"]), token=token) for _ in range(4))
    )

    payloads = [b["data"]["sendInvitations"] for b in bodies]
    created = [p for p in payloads if p["invitations"]]
    refused = [e["code"] for p in payloads for e in p["userErrors"]]
    assert len(created) == 1
    assert refused == ["ALREADY_INVITED"] * 3
    assert await Invitation.filter(inviter_id=inviter.id).count() == 1
    assert await InvitationStatusChange.all().count() == 1


@pytest.mark.parametrize("field", ["inviter { id }", "invitee { id }", "history { status }",
                                   "delivery { state }", "url"])  # fmt: skip
async def test_admin_only_fields_are_forbidden_to_customers(gql: GraphQLClient, field: str) -> None:
    inviter, token = await signed_in()
    await make_invitation(inviter)

    body = await gql(f"{{ myInvitations {{ nodes {{ id {field} }} }} }}", token=token)

    assert "FORBIDDEN" in error_codes(body)


# ---------------------------------------------------------------- the inviter's list


async def test_my_invitations_newest_first_in_pages_and_only_mine(gql: GraphQLClient) -> None:
    inviter, token = await signed_in()
    other = await make_customer("bob@example.com")
    await make_invitation(other, "bobs-friend@example.com")
    now = utcnow()
    # Three share one creation time: the id breaks the tie, also across pages.
    times = [now - timedelta(hours=3), now, now, now, now - timedelta(hours=1)]
    rows = [
        await make_invitation(inviter, f"f{i}@example.com", created_at=t)
        for i, t in enumerate(times)
    ]
    expected = [rows[3].id, rows[2].id, rows[1].id, rows[4].id, rows[0].id]

    seen: list[int] = []
    after = None
    pages = []
    while True:
        body = await gql(MY_INVITATIONS, {"first": 2, "after": after}, token=token)
        page = body["data"]["myInvitations"]
        pages.append(page)
        seen += [int(n["id"]) for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == expected
    assert [p["totalCount"] for p in pages] == [5, 5, 5]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    first_page = pages[0]
    assert [e["node"]["id"] for e in first_page["edges"]] == [n["id"] for n in first_page["nodes"]]
    assert first_page["pageInfo"]["startCursor"] == first_page["edges"][0]["cursor"]


async def test_my_invitations_is_empty_for_a_new_customer(gql: GraphQLClient) -> None:
    _, token = await signed_in()

    body = await gql(MY_INVITATIONS, token=token)

    assert body["data"]["myInvitations"] == {
        "totalCount": 0,
        "nodes": [],
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


async def test_status_filter_reads_open_invitations_past_expiry_as_expired(
    gql: GraphQLClient,
) -> None:
    inviter, token = await signed_in()
    past, future = utcnow() - timedelta(minutes=1), utcnow() + timedelta(days=1)
    fresh = await make_invitation(inviter, "fresh@example.com", expires_at=future)
    lapsed = await make_invitation(inviter, "lapsed@example.com", expires_at=past)
    sent_lapsed = await make_invitation(
        inviter, "sent@example.com", status=InvitationStatus.SENT, expires_at=past
    )
    canceled = await make_invitation(inviter, "gone@example.com", status=InvitationStatus.CANCELED)

    async def ids(status: list[str] | None) -> set[int]:
        body = await gql(MY_INVITATIONS, {"status": status}, token=token)
        return {int(n["id"]) for n in body["data"]["myInvitations"]["nodes"]}

    assert await ids(["NOT_SENT"]) == {fresh.id}
    assert await ids(["SENT"]) == set()
    assert await ids(["EXPIRED"]) == {lapsed.id, sent_lapsed.id}
    assert await ids(["CANCELED", "NOT_SENT"]) == {canceled.id, fresh.id}
    assert await ids(None) == {fresh.id, lapsed.id, sent_lapsed.id, canceled.id}
    body = await gql(MY_INVITATIONS, {"status": ["EXPIRED"]}, token=token)
    assert {n["status"] for n in body["data"]["myInvitations"]["nodes"]} == {"EXPIRED"}
    assert body["data"]["myInvitations"]["totalCount"] == 2


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "arguments",
    [
        {"first": 0},
        {"first": -1},
        {"first": 101},
        {"first": 2**31 - 1},
        {"after": "garbage"},
        {"after": ""},
        {"after": "€€€"},
        {"after": "A" * 5000},
        {"after": _b64(b"[1, 2, 3]")},
        {"after": _b64(b'["not a date", 1]')},
        {"after": _b64(b'["2026-01-01T00:00:00", 1]')},
        {"after": _b64(b'["2026-01-01T00:00:00+00:00", -5]')},
        {"after": _b64(b'["2026-01-01T00:00:00+00:00", 99999999999999999999999]')},
        # 2**40: past the 32-bit id columns (PostgreSQL refuses to compare it with one).
        {"after": _b64(b'["2026-01-01T00:00:00+00:00", 1099511627776]')},
        {"after": _b64(b'{"a": 1}')},
        {"after": _b64(b'["0001-01-01T00:00:00+01:00", 1]')},
        {"after": _b64(b'["9999-12-31T23:59:59-01:00", 1]')},
        {"after": _b64(b"[true, 1]")},
        {"after": _b64(b'["2026-01-01T00:00:00+00:00", true]')},
    ],
)
async def test_bad_page_arguments_are_a_clear_bad_request(
    gql: GraphQLClient, arguments: dict[str, Any]
) -> None:
    _, token = await signed_in()

    body = await gql(MY_INVITATIONS, arguments, token=token)

    assert body["data"] is None
    assert error_codes(body) == ["BAD_REQUEST"]


async def test_a_cursor_with_another_offset_means_the_same_instant(gql: GraphQLClient) -> None:
    inviter, token = await signed_in()
    now = utcnow().replace(microsecond=0)
    older = await make_invitation(inviter, "older@example.com", created_at=now - timedelta(hours=1))
    newer = await make_invitation(inviter, "newer@example.com", created_at=now)
    shifted = (now + timedelta(hours=5)).replace(tzinfo=timezone(timedelta(hours=5)))
    cursor = _b64(json.dumps([shifted.isoformat(), newer.id]).encode())

    body = await gql(MY_INVITATIONS, {"after": cursor}, token=token)

    assert [int(n["id"]) for n in body["data"]["myInvitations"]["nodes"]] == [older.id]


async def test_page_size_bounds_are_inclusive(gql: GraphQLClient) -> None:
    _, token = await signed_in()

    for first in (1, 100, None):
        body = await gql(MY_INVITATIONS, {"first": first}, token=token)
        assert "errors" not in body


async def test_my_invitations_needs_a_customer_token(gql: GraphQLClient) -> None:
    body = await gql(MY_INVITATIONS)

    assert error_codes(body) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- canceling


async def test_cancel_own_open_invitation_once(gql: GraphQLClient) -> None:
    inviter, token = await signed_in()
    invitation = await make_invitation(inviter, status=InvitationStatus.SENT)

    body = await gql(CANCEL, {"id": str(invitation.id)}, token=token)
    again = await gql(CANCEL, {"id": str(invitation.id)}, token=token)

    assert body["data"]["cancelInvitation"] == {
        "invitation": {"id": str(invitation.id), "status": "CANCELED"},
        "userErrors": [],
    }
    assert [(e["code"], e["field"]) for e in again["data"]["cancelInvitation"]["userErrors"]] == [
        ("INVALID_STATUS", ["id"])
    ]
    history = await InvitationStatusChange.filter(invitation_id=invitation.id).order_by("id")
    assert [(h.status, h.actor) for h in history][-1] == (
        InvitationStatus.CANCELED,
        f"customer:{inviter.id}",
    )
    assert len(history) == 2


@pytest.mark.parametrize("status", [InvitationStatus.ACCEPTED, InvitationStatus.CANCELED])
async def test_closed_invitations_cannot_be_canceled(
    gql: GraphQLClient, status: InvitationStatus
) -> None:
    inviter, token = await signed_in()
    invitation = await make_invitation(inviter, status=status)

    body = await gql(CANCEL, {"id": str(invitation.id)}, token=token)

    assert body["data"]["cancelInvitation"]["userErrors"][0]["code"] == "INVALID_STATUS"
    assert (await Invitation.get(id=invitation.id)).status is status


async def test_an_expired_invitation_cannot_be_canceled(gql: GraphQLClient) -> None:
    inviter, token = await signed_in()
    invitation = await make_invitation(inviter, expires_at=utcnow() - timedelta(seconds=1))

    body = await gql(CANCEL, {"id": str(invitation.id)}, token=token)

    assert body["data"]["cancelInvitation"]["userErrors"][0]["code"] == "INVALID_STATUS"


@pytest.mark.parametrize(
    "raw_id", ["999999", "0", "-1", "abc", "", " ", "1e3", "99999999999999999999", "\u0661"]
)
async def test_unknown_or_malformed_ids_are_not_found(gql: GraphQLClient, raw_id: str) -> None:
    inviter, token = await signed_in()
    await make_invitation(inviter)

    body = await gql(CANCEL, {"id": raw_id}, token=token)

    assert error_codes(body) == []
    assert [(e["code"], e["field"]) for e in body["data"]["cancelInvitation"]["userErrors"]] == [
        ("NOT_FOUND", ["id"])
    ]


async def test_customers_see_and_cancel_only_their_own_invitations(gql: GraphQLClient) -> None:
    alice, _ = await signed_in()
    _, bob_token = await signed_in("bob@example.com")
    invitation = await make_invitation(alice)

    cancel = await gql(CANCEL, {"id": str(invitation.id)}, token=bob_token)
    listing = await gql(MY_INVITATIONS, token=bob_token)

    assert cancel["data"]["cancelInvitation"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert listing["data"]["myInvitations"]["totalCount"] == 0
    assert (await Invitation.get(id=invitation.id)).status is InvitationStatus.NOT_SENT
