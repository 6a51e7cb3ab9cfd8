"""The admin grid over HTTP: every filter, every sort both ways across ties and NULLs, cursors,
page sizes, bad arguments, the detail field, and a fixed number of queries per page."""

from __future__ import annotations

import base64
import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain import codes
from domain.clock import utcnow
from domain.validation import email_key
from models.accounts import Customer, Permission
from models.invitation import DeliveryState, Invitation, InvitationStatus, InvitationStatusChange
from models.store import CustomerGroup, StoreView, Website
from tests.helpers import GraphQLClient, admin_token, error_codes, make_admin, make_customer

GRID = """
query Grid($filter: InvitationFilter, $sort: InvitationSort, $first: Int, $after: String) {
  invitations(filter: $filter, sort: $sort, first: $first, after: $after) {
    totalCount
    nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

FULL_PAGE = """
query Grid($first: Int) {
  invitations(first: $first) {
    totalCount
    nodes {
      id email status message createdAt sentAt acceptedAt expiresAt
      storeView { code website { code } } website { code } inviteeGroup { code }
      inviter { email group { code } website { code } }
      invitee { email group { code } }
      history { status at actor }
      delivery { state attempts lastError nextAttemptAt messageId }
      url
    }
  }
}
"""

DETAIL = """
query One($id: ID!) {
  invitation(id: $id) {
    id email status message
    history { status actor }
    delivery { state attempts lastError messageId }
    url
  }
}
"""

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=utcnow().tzinfo)


@dataclass
class Row:
    """What the test expects of a seeded invitation."""

    id: int
    email: str
    status: InvitationStatus
    effective: InvitationStatus
    delivery: DeliveryState
    created_at: datetime
    sent_at: datetime | None
    accepted_at: datetime | None
    website_id: int
    store_view_id: int
    invitee_group_id: int | None
    inviter_id: int | None
    invitee_email: str | None


@pytest.fixture
async def token() -> str:
    return await admin_token(await make_admin())


async def seed(count: int = 41) -> list[Row]:
    """Invitations with ties and NULLs in every sortable column, on two websites."""
    rng = random.Random(5)
    groups = list(await CustomerGroup.all().order_by("id"))
    other = await Website.create(code="outlet", name="Outlet", default_group_id=groups[0].id)
    stores = list(await StoreView.all().order_by("id"))
    stores.append(
        await StoreView.create(
            code="outlet", name="Outlet", website_id=other.id, base_url="http://o.example/"
        )
    )
    inviters = [await make_customer(f"inviter{i}@example.com") for i in range(3)]
    rows: list[Row] = []
    now = utcnow()
    for n in range(count):
        store = rng.choice(stores)
        status = rng.choice(list(InvitationStatus))
        created_at = T0 + timedelta(hours=rng.randrange(6))
        sent_at = T0 + timedelta(days=1, hours=rng.randrange(4)) if rng.random() < 0.6 else None
        accepted = status is InvitationStatus.ACCEPTED
        accepted_at = T0 + timedelta(days=2, hours=rng.randrange(3)) if accepted else None
        expires_at = now - timedelta(days=1) if n % 7 == 0 else None
        # Four rows share each address (ties for EMAIL), each of another inviter.
        email = f"{['ann', 'Bob', 'c_d', 'dan%x'][n // 4 % 4]}{n // 4}@Example.com"
        inviter_id = [None, *[c.id for c in inviters]][n % 4]
        invitee: Customer | None = None
        if accepted:
            website = await Website.get(id=store.website_id)
            invitee = await make_customer(
                f"{rng.choice(['zed', 'amy'])}{n}@example.com", website=website
            )
        row = await Invitation.create(
            email=email,
            email_key=email_key(email),
            status=status,
            created_at=created_at,
            updated_at=created_at,
            sent_at=sent_at,
            accepted_at=accepted_at,
            expires_at=expires_at,
            store_view_id=store.id,
            website_id=store.website_id,
            invitee_group_id=rng.choice([None, *[g.id for g in groups]]),
            inviter_id=inviter_id,
            invitee_id=invitee.id if invitee else None,
            code_nonce=codes.new_nonce(),
            delivery_state=rng.choice(list(DeliveryState)),
        )
        open_ = status in (InvitationStatus.NOT_SENT, InvitationStatus.SENT)
        rows.append(
            Row(
                id=row.id,
                email=email,
                status=status,
                effective=InvitationStatus.EXPIRED if open_ and expires_at else status,
                delivery=row.delivery_state,
                created_at=created_at,
                sent_at=sent_at,
                accepted_at=accepted_at,
                website_id=store.website_id,
                store_view_id=store.id,
                invitee_group_id=row.invitee_group_id,
                inviter_id=row.inviter_id,
                invitee_email=invitee.email if invitee else None,
            )
        )
    return rows


async def walk(
    gql: GraphQLClient,
    token: str,
    *,
    filter: dict[str, Any] | None = None,
    sort: dict[str, Any] | None = None,
    first: int = 7,
) -> Iterator[int]:
    """Every id the grid lists, page after page; checks totalCount and pageInfo on the way."""
    ids: list[int] = []
    after = None
    total = None
    while True:
        body = await gql(
            GRID,
            {"filter": filter, "sort": sort, "first": first, "after": after},
            token=token,
        )
        assert "errors" not in body, body
        page = body["data"]["invitations"]
        total = page["totalCount"] if total is None else total
        assert page["totalCount"] == total
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        ids += [int(node["id"]) for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert total == len(ids)
    return iter(ids)


SORT_KEYS: dict[str, Callable[[Row], Any]] = {
    "ID": lambda r: r.id,
    "EMAIL": lambda r: r.email,
    "INVITEE": lambda r: r.invitee_email,
    "CREATED_AT": lambda r: r.created_at,
    "SENT_AT": lambda r: r.sent_at,
    "ACCEPTED_AT": lambda r: r.accepted_at,
    "STATUS": lambda r: r.status.value,
    "WEBSITE": lambda r: r.website_id,
    "INVITEE_GROUP": lambda r: r.invitee_group_id,
}


def expected_order(rows: list[Row], field: str, *, reverse: bool) -> list[int]:
    """NULL sorts lowest; ties by id, in the same direction."""
    key = SORT_KEYS[field]
    ordered = sorted(rows, key=lambda r: (key(r) is not None, key(r) or 0, r.id))
    if field in ("EMAIL", "INVITEE", "STATUS"):
        ordered = sorted(rows, key=lambda r: (key(r) is not None, key(r) or "", r.id))
    ids = [r.id for r in ordered]
    return ids[::-1] if reverse else ids


@pytest.mark.parametrize("reverse", [True, False])
@pytest.mark.parametrize("field", list(SORT_KEYS))
async def test_every_sort_walks_all_pages_in_order(
    gql: GraphQLClient, token: str, field: str, reverse: bool
) -> None:
    rows = await seed()

    ids = list(await walk(gql, token, sort={"field": field, "reverse": reverse}))

    assert ids == expected_order(rows, field, reverse=reverse)


async def test_default_order_is_newest_id_first(gql: GraphQLClient, token: str) -> None:
    rows = await seed(12)

    assert list(await walk(gql, token, first=5)) == sorted((r.id for r in rows), reverse=True)


def iso(moment: datetime) -> str:
    return moment.isoformat()


Check = Callable[[list[Row], Row], bool]
FILTERS: list[tuple[str, Callable[[list[Row]], dict[str, Any]], Check]] = [
    (
        "ids",
        lambda rows: {"ids": [str(rows[0].id), str(rows[3].id)]},
        lambda rows, r: r.id in (rows[0].id, rows[3].id),
    ),
    ("email", lambda rows: {"email": "DAN%X"}, lambda rows, r: "dan%x" in r.email.lower()),
    ("email wildcard is literal", lambda rows: {"email": "c_d"}, lambda rows, r: "c_d" in r.email),
    ("email no match", lambda rows: {"email": "c%d"}, lambda rows, r: False),
    (
        "invitee",
        lambda rows: {"invitee": "ZED"},
        lambda rows, r: r.invitee_email is not None and "zed" in r.invitee_email,
    ),
    ("createdByAdmin", lambda rows: {"createdByAdmin": True}, lambda rows, r: r.inviter_id is None),
    (
        "created by customers",
        lambda rows: {"createdByAdmin": False},
        lambda rows, r: r.inviter_id is not None,
    ),
    (
        "status NOT_SENT, SENT",
        lambda rows: {"status": ["NOT_SENT", "SENT"]},
        lambda rows, r: r.effective in (InvitationStatus.NOT_SENT, InvitationStatus.SENT),
    ),
    (
        "status EXPIRED",
        lambda rows: {"status": ["EXPIRED"]},
        lambda rows, r: r.effective is InvitationStatus.EXPIRED,
    ),
    (
        "status ACCEPTED, CANCELED",
        lambda rows: {"status": ["ACCEPTED", "CANCELED"]},
        lambda rows, r: r.effective in (InvitationStatus.ACCEPTED, InvitationStatus.CANCELED),
    ),
    (
        "deliveryState",
        lambda rows: {"deliveryState": ["FAILED", "UNKNOWN"]},
        lambda rows, r: r.delivery in (DeliveryState.FAILED, DeliveryState.UNKNOWN),
    ),
    (
        "sentAt",
        lambda rows: {"sentAt": {"from": iso(T0 + timedelta(days=1, hours=1))}},
        lambda rows, r: r.sent_at is not None and r.sent_at >= T0 + timedelta(days=1, hours=1),
    ),
    (
        "acceptedAt",
        lambda rows: {"acceptedAt": {"to": iso(T0 + timedelta(days=2, hours=1))}},
        lambda rows, r: (
            r.accepted_at is not None and r.accepted_at <= T0 + timedelta(days=2, hours=1)
        ),
    ),
    (
        "createdAt both ends included",
        lambda rows: {
            "createdAt": {"from": iso(T0 + timedelta(hours=1)), "to": "2026-03-01T15:00:00+00:00"}
        },
        lambda rows, r: T0 + timedelta(hours=1) <= r.created_at <= T0 + timedelta(hours=3),
    ),
    (
        "createdAt in another offset",
        lambda rows: {"createdAt": {"to": "2026-03-01T14:00:00+01:00"}},
        lambda rows, r: r.created_at <= T0 + timedelta(hours=1),
    ),
    (
        "websiteIds",
        lambda rows: {"websiteIds": [str(rows[-1].website_id)]},
        lambda rows, r: r.website_id == rows[-1].website_id,
    ),
    (
        "storeViewIds",
        lambda rows: {"storeViewIds": [str(rows[0].store_view_id)]},
        lambda rows, r: r.store_view_id == rows[0].store_view_id,
    ),
    (
        "inviteeGroupIds",
        lambda rows: {"inviteeGroupIds": ["2", "3"]},
        lambda rows, r: r.invitee_group_id in (2, 3),
    ),
    (
        "inviterCustomerId",
        lambda rows: {"inviterCustomerId": str(rows[2].inviter_id)},
        lambda rows, r: r.inviter_id == rows[2].inviter_id,
    ),
    (
        "empty lists filter nothing out",
        lambda rows: {"status": [], "ids": []},
        lambda rows, r: True,
    ),
]


@pytest.mark.parametrize(("name", "make_filter", "check"), FILTERS, ids=[f[0] for f in FILTERS])
async def test_every_filter(
    gql: GraphQLClient,
    token: str,
    name: str,
    make_filter: Callable[[list[Row]], dict[str, Any]],
    check: Check,
) -> None:
    rows = await seed()
    expected = sorted((r.id for r in rows if check(rows, r)), reverse=True)

    found = list(await walk(gql, token, filter=make_filter(rows), first=200))

    assert found == expected
    if name != "email no match":
        assert found, "the seed should give this filter something to find"


async def test_filters_combine_with_a_nullable_sort(gql: GraphQLClient, token: str) -> None:
    rows = await seed()
    wanted = [r for r in rows if r.effective is not InvitationStatus.EXPIRED and r.inviter_id]

    found = await walk(
        gql,
        token,
        filter={"createdByAdmin": False, "status": ["NOT_SENT", "SENT", "ACCEPTED", "CANCELED"]},
        sort={"field": "SENT_AT"},
        first=3,
    )

    assert list(found) == expected_order(wanted, "SENT_AT", reverse=True)


def cursor(position: list[Any]) -> str:
    raw = json.dumps(position).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        ({"first": 0}, None),
        ({"first": 201}, None),
        ({"first": -1}, None),
        ({"after": "not-a-cursor"}, None),
        ({"after": "WyJ4IiwxXQ"}, None),  # ["x",1]: a string key for the ID sort
        ({"filter": {"ids": ["abc"]}}, "INVALID_INPUT"),
        ({"filter": {"ids": ["99999999999999"]}}, "INVALID_INPUT"),
        ({"filter": {"websiteIds": ["-1"]}}, "INVALID_INPUT"),
        ({"filter": {"inviterCustomerId": "x"}}, "INVALID_INPUT"),
        ({"filter": {"ids": [str(i) for i in range(1, 1002)]}}, "INVALID_INPUT"),
        ({"filter": {"email": "x" * 400}}, "INVALID_INPUT"),
        ({"filter": {"email": "a\u0000b"}}, "INVALID_INPUT"),
        ({"filter": {"invitee": "\u0007"}}, "INVALID_INPUT"),
        ({"sort": {"field": "EMAIL"}, "after": cursor(["a\u0000", 1])}, None),
        ({"sort": {"field": "SENT_AT"}, "after": cursor(["2026-01-01T00:00:00", 1])}, None),
        ({"sort": {"field": "INVITEE_GROUP"}, "after": cursor([True, 1])}, None),
        # Ids past the 32-bit id columns, as the row id or as the sort key: PostgreSQL refuses to
        # compare them with a column, so they are refused before any query.
        ({"after": cursor([1, 2**40])}, None),
        ({"after": cursor([2**40, 1])}, None),
        ({"sort": {"field": "EMAIL"}, "after": cursor(["a@example.com", 2**40])}, None),
        ({"sort": {"field": "SENT_AT"}, "after": cursor([None, 2**40])}, None),
        ({"sort": {"field": "WEBSITE"}, "after": cursor([2**40, 1])}, None),
        (
            {"filter": {"sentAt": {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}},
            "INVALID_INPUT",
        ),
    ],
)
async def test_bad_arguments_are_bad_requests(
    gql: GraphQLClient, token: str, variables: dict[str, Any], reason: str | None
) -> None:
    body = await gql(GRID, variables, token=token)

    assert error_codes(body) == ["BAD_REQUEST"], body
    assert body["errors"][0]["extensions"].get("reason") == reason


async def test_a_cursor_of_one_sort_is_refused_by_another(gql: GraphQLClient, token: str) -> None:
    await seed(5)
    body = await gql(GRID, {"first": 2, "sort": {"field": "SENT_AT"}}, token=token)
    cursor = body["data"]["invitations"]["pageInfo"]["endCursor"]

    body = await gql(GRID, {"after": cursor, "sort": {"field": "WEBSITE"}}, token=token)

    assert error_codes(body) == ["BAD_REQUEST"]


class QueryLog(logging.Handler):
    """The statements Tortoise logs (each one it sends to the database)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(("SELECT", "%s")):
            self.statements.append(record.getMessage())


async def logged_queries(
    gql: GraphQLClient, token: str, document: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    logger = logging.getLogger("tortoise.db_client")
    log = QueryLog()
    level = logger.level
    logger.addHandler(log)
    logger.setLevel(logging.DEBUG)
    try:
        body = await gql(document, variables, token=token)
    finally:
        logger.removeHandler(log)
        logger.setLevel(level)
    assert "errors" not in body, body
    return body, log.statements


async def queries_for_a_page(gql: GraphQLClient, token: str, first: int) -> int:
    body, statements = await logged_queries(gql, token, FULL_PAGE, {"first": first})
    assert len(body["data"]["invitations"]["nodes"]) == first
    return len(statements)


async def test_total_count_is_counted_only_when_asked_for(gql: GraphQLClient, token: str) -> None:
    await seed(5)
    without = "{ invitations(first: 2) { nodes { id } } }"
    with_count = "{ invitations(first: 2) { totalCount nodes { id } } }"

    _, statements = await logged_queries(gql, token, without, {})
    body, counted = await logged_queries(gql, token, with_count, {})

    def counts(statement: str) -> bool:
        # An exact COUNT, or the sum of the summary counts (models/invitation_counts.py).
        return "COUNT(" in statement.upper() or "FROM invitation_count" in statement

    assert not [s for s in statements if counts(s)]
    assert len([s for s in counted if counts(s)]) == 1
    assert body["data"]["invitations"]["totalCount"] == 5


async def test_a_page_of_200_costs_a_fixed_number_of_queries(
    gql: GraphQLClient, token: str
) -> None:
    await seed(210)
    for row in await Invitation.all():
        await InvitationStatusChange.create(
            invitation_id=row.id, status=row.status, at=row.created_at, actor="system"
        )

    # The first request of an app also reads its store view, which is then cached.
    await queries_for_a_page(gql, token, 1)
    small = await queries_for_a_page(gql, token, 3)
    large = await queries_for_a_page(gql, token, 200)

    assert large == small
    # token, count, page, then one query per relation: store view, website, group, customers
    # (inviters and invitees together), history.
    assert large <= 10, large


async def test_detail_has_history_newest_first_delivery_and_link(
    gql: GraphQLClient, token: str
) -> None:
    row = await Invitation.create(
        email="one@example.com",
        email_key="one@example.com",
        message="Hi",
        status=InvitationStatus.SENT,
        created_at=T0,
        updated_at=T0,
        store_view_id=(await StoreView.get(code="sv")).id,
        website_id=(await Website.get(code="base")).id,
        code_nonce=codes.new_nonce(),
        delivery_state=DeliveryState.FAILED,
        attempts=3,
        last_error="550 no such user",
        message_id="<m1@example.com>",
    )
    await InvitationStatusChange.create(
        invitation_id=row.id, status=InvitationStatus.NOT_SENT, at=T0, actor="admin:root"
    )
    await InvitationStatusChange.create(
        invitation_id=row.id, status=InvitationStatus.SENT, at=T0 + timedelta(1), actor="system"
    )

    body = await gql(DETAIL, {"id": str(row.id)}, token=token)

    detail = body["data"]["invitation"]
    assert detail["history"] == [
        {"status": "SENT", "actor": "system"},
        {"status": "NOT_SENT", "actor": "admin:root"},
    ]
    assert detail["delivery"] == {
        "state": "FAILED",
        "attempts": 3,
        "lastError": "550 no such user",
        "messageId": "<m1@example.com>",
    }
    assert detail["url"].startswith("http://localhost:3000/sv/customer/account/create/?invitation=")
    await Invitation.filter(id=row.id).update(status=InvitationStatus.CANCELED)
    body = await gql(DETAIL, {"id": str(row.id)}, token=token)
    assert body["data"]["invitation"]["url"] is None


async def test_detail_of_an_unknown_id_is_null_and_of_a_malformed_one_a_bad_request(
    gql: GraphQLClient, token: str
) -> None:
    assert (await gql(DETAIL, {"id": "12345"}, token=token))["data"] == {"invitation": None}
    body = await gql(DETAIL, {"id": "1e3"}, token=token)
    assert error_codes(body) == ["BAD_REQUEST"]


async def test_an_admin_without_the_permission_sees_no_grid(gql: GraphQLClient) -> None:
    others = [p for p in Permission if p is not Permission.INVITATIONS]
    token = await admin_token(await make_admin("reports", permissions=others))

    assert error_codes(await gql(GRID, {}, token=token)) == ["FORBIDDEN"]


@pytest.mark.parametrize("reverse", [True, False])
async def test_invitee_filter_and_invitee_sort_share_the_join(
    gql: GraphQLClient, token: str, reverse: bool
) -> None:
    rows = await seed()
    wanted = [r for r in rows if r.invitee_email and "amy" in r.invitee_email]

    found = await walk(
        gql,
        token,
        filter={"invitee": "AMY"},
        sort={"field": "INVITEE", "reverse": reverse},
        first=2,
    )

    assert list(found) == expected_order(wanted, "INVITEE", reverse=reverse)
    assert len(wanted) > 2
