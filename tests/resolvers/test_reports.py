"""The private-sales reports over HTTP: calendar periods in a time zone, rates, filters, limits."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.codes import new_nonce
from models.accounts import Customer, Permission
from models.invitation import Invitation, InvitationStatus
from models.store import StoreView, Website
from tests.helpers import (
    GraphQLClient,
    admin_token,
    error_codes,
    make_admin,
    make_customer,
    store_view,
)

ROW = "periodStart invited sent accepted discarded acceptanceRate discardRate"
REPORT = f"""
query Report($filter: ReportFilter!) {{
  invitationsReport(filter: $filter) {{ rows {{ {ROW} }} totals {{ {ROW} }} }}
}}
"""
CUSTOMERS = """
query Customers($filter: ReportFilter!, $first: Int) {
  invitedCustomersReport(filter: $filter, first: $first) {
    customer { id email } invitationsSent invitationsAccepted
  }
}
"""

NEW_YORK, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")
_numbers = itertools.count()


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


async def invitation(
    created_at: datetime,
    *,
    status: InvitationStatus = InvitationStatus.SENT,
    delivered: bool = True,
    view: StoreView | None = None,
    inviter: Customer | None = None,
) -> Invitation:
    """An invitation row written directly, as if it had lived its life up to `status`."""
    view = view or await store_view()
    email = f"friend{next(_numbers)}@example.com"
    accepted = status is InvitationStatus.ACCEPTED
    return await Invitation.create(
        email=email,
        email_key=email,
        created_at=created_at,
        updated_at=created_at,
        sent_at=created_at if delivered or accepted else None,
        accepted_at=created_at if accepted else None,
        status=status,
        store_view_id=view.id,
        website_id=view.website_id,
        inviter_id=inviter.id if inviter else None,
        code_nonce=new_nonce(),
    )


@pytest.fixture
async def token() -> str:
    return await admin_token(await make_admin(permissions=[Permission.INVITATION_REPORTS]))


async def report(gql: GraphQLClient, token: str, **filter_: Any) -> dict[str, Any]:
    body = await gql(REPORT, {"filter": filter_}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["invitationsReport"]
    return result


def counts(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(row["periodStart"], row["invited"]) for row in rows]


async def test_days_follow_local_midnight_across_a_month_end_and_empty_days_are_zeros(
    gql: GraphQLClient, token: str
) -> None:
    await invitation(local(NEW_YORK, 2026, 1, 29, 23, 59, 59))  # before the range
    await invitation(local(NEW_YORK, 2026, 1, 31, 23, 59, 59))  # 2026-02-01 04:59:59 UTC
    await invitation(local(NEW_YORK, 2026, 2, 1, 0, 0, 0))
    await invitation(local(NEW_YORK, 2026, 2, 1, 19, 30))  # 2026-02-02 00:30 UTC
    await invitation(local(NEW_YORK, 2026, 2, 3, 0, 0, 0))  # after the range

    result = await report(
        gql, token, **{"from": "2026-01-30", "to": "2026-02-02", "timezone": "America/New_York"}
    )

    assert counts(result["rows"]) == [
        ("2026-01-30", 0),
        ("2026-01-31", 1),
        ("2026-02-01", 2),
        ("2026-02-02", 0),
    ]
    assert result["rows"][0] == {
        "periodStart": "2026-01-30",
        "invited": 0,
        "sent": 0,
        "accepted": 0,
        "discarded": 0,
        "acceptanceRate": 0.0,
        "discardRate": 0.0,
    }
    assert result["totals"]["invited"] == 3
    assert result["totals"]["periodStart"] == "2026-01-30"


async def test_the_same_instants_fall_on_other_days_in_utc(gql: GraphQLClient, token: str) -> None:
    await invitation(local(NEW_YORK, 2026, 1, 31, 23, 59, 59))
    await invitation(local(NEW_YORK, 2026, 2, 1, 19, 30))

    result = await report(gql, token, **{"from": "2026-01-31", "to": "2026-02-02"})

    assert counts(result["rows"]) == [("2026-01-31", 0), ("2026-02-01", 1), ("2026-02-02", 1)]


async def test_months_follow_the_local_new_year_in_tokyo(gql: GraphQLClient, token: str) -> None:
    await invitation(local(TOKYO, 2025, 12, 31, 23, 59, 59))  # 14:59:59 UTC on Dec 31
    await invitation(local(TOKYO, 2026, 1, 1, 0, 0, 0))  # 15:00 UTC on Dec 31
    await invitation(local(TOKYO, 2026, 1, 31, 12, 0))
    await invitation(local(TOKYO, 2026, 3, 1, 0, 0))  # after the range

    months = await report(
        gql,
        token,
        **{"from": "2025-11-01", "to": "2026-02-28", "period": "MONTH", "timezone": "Asia/Tokyo"},
    )
    years = await report(
        gql,
        token,
        **{"from": "2025-01-01", "to": "2026-12-31", "period": "YEAR", "timezone": "Asia/Tokyo"},
    )

    assert counts(months["rows"]) == [
        ("2025-11-01", 0),
        ("2025-12-01", 1),
        ("2026-01-01", 2),
        ("2026-02-01", 0),
    ]
    assert counts(years["rows"]) == [("2025-01-01", 1), ("2026-01-01", 3)]


async def test_the_first_and_last_periods_are_clipped_to_the_range(
    gql: GraphQLClient, token: str
) -> None:
    await invitation(local(TOKYO, 2026, 1, 9, 23, 0))  # January, but before the range
    await invitation(local(TOKYO, 2026, 1, 10, 0, 0))
    await invitation(local(TOKYO, 2026, 2, 20, 0, 0))
    await invitation(local(TOKYO, 2026, 2, 21, 0, 0))  # February, but after the range

    result = await report(
        gql,
        token,
        **{"from": "2026-01-10", "to": "2026-02-20", "period": "MONTH", "timezone": "Asia/Tokyo"},
    )

    assert counts(result["rows"]) == [("2026-01-01", 1), ("2026-02-01", 1)]


async def test_days_are_local_days_across_a_dst_change(gql: GraphQLClient, token: str) -> None:
    # New York springs forward on 2026-03-08: that day has 23 hours.
    await invitation(local(NEW_YORK, 2026, 3, 8, 0, 0))
    await invitation(local(NEW_YORK, 2026, 3, 8, 23, 59))
    await invitation(local(NEW_YORK, 2026, 3, 9, 0, 0))

    result = await report(
        gql, token, **{"from": "2026-03-08", "to": "2026-03-09", "timezone": "America/New_York"}
    )

    assert counts(result["rows"]) == [("2026-03-08", 2), ("2026-03-09", 1)]


async def test_a_day_whose_midnight_does_not_exist_starts_when_its_clocks_start(
    gql: GraphQLClient, token: str
) -> None:
    # São Paulo jumped from 2018-11-04 00:00 straight to 01:00.
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    await invitation(local(sao_paulo, 2018, 11, 3, 23, 59, 59))
    await invitation(datetime(2018, 11, 4, 3, 0, tzinfo=UTC))  # 01:00 local, the first instant
    await invitation(local(sao_paulo, 2018, 11, 4, 23, 59))

    result = await report(
        gql, token, **{"from": "2018-11-03", "to": "2018-11-04", "timezone": "America/Sao_Paulo"}
    )

    assert counts(result["rows"]) == [("2018-11-03", 1), ("2018-11-04", 2)]


async def test_sent_accepted_discarded_and_the_rates(gql: GraphQLClient, token: str) -> None:
    day = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    await invitation(day, status=InvitationStatus.ACCEPTED)
    await invitation(day, status=InvitationStatus.CANCELED, delivered=False)
    await invitation(day, status=InvitationStatus.SENT)
    await invitation(day, status=InvitationStatus.NOT_SENT, delivered=False)
    await invitation(day.replace(day=5), status=InvitationStatus.ACCEPTED)
    await invitation(day.replace(day=5), status=InvitationStatus.SENT)
    await invitation(day.replace(day=5), status=InvitationStatus.CANCELED)

    result = await report(gql, token, **{"from": "2026-05-04", "to": "2026-05-05"})

    first, second = result["rows"]
    assert first == {
        "periodStart": "2026-05-04",
        "invited": 4,
        "sent": 2,
        "accepted": 1,
        "discarded": 1,
        "acceptanceRate": 25.0,
        "discardRate": 25.0,
    }
    assert (second["invited"], second["sent"], second["acceptanceRate"]) == (3, 3, 33.33)
    assert result["totals"] == {
        "periodStart": "2026-05-04",
        "invited": 7,
        "sent": 5,
        "accepted": 2,
        "discarded": 2,
        "acceptanceRate": 28.57,
        "discardRate": 28.57,
    }


async def other_website() -> StoreView:
    base = await Website.get(code="base")
    website = await Website.create(code="eu", name="EU", default_group_id=base.default_group_id)
    return await StoreView.create(
        code="eu_en", name="EU", website_id=website.id, base_url="http://eu.example/"
    )


async def test_website_and_store_view_filters(gql: GraphQLClient, token: str) -> None:
    day = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    eu, sv = await other_website(), await store_view("sv")
    await invitation(day, view=eu)
    await invitation(day, view=sv)
    await invitation(day, view=sv)
    await invitation(day)
    span = {"from": "2026-05-04", "to": "2026-05-04"}

    everything = await report(gql, token, **span)
    eu_only = await report(gql, token, **span, websiteIds=[str(eu.website_id)])
    base_only = await report(gql, token, **span, websiteIds=[str(sv.website_id)])
    sv_only = await report(gql, token, **span, storeViewIds=[str(sv.id)])
    both = await report(
        gql, token, **span, websiteIds=[str(eu.website_id)], storeViewIds=[str(sv.id)]
    )
    unfiltered = await report(gql, token, **span, websiteIds=[], storeViewIds=[])
    unknown = await report(gql, token, **span, websiteIds=["999"])

    assert everything["totals"]["invited"] == 4
    assert eu_only["totals"]["invited"] == 1
    assert base_only["totals"]["invited"] == 3
    assert sv_only["totals"]["invited"] == 2
    assert both["totals"]["invited"] == 0
    assert unfiltered["totals"]["invited"] == 4
    assert unknown["totals"]["invited"] == 0


@pytest.mark.parametrize(
    ("filter_", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, ["filter", "timezone"]),
        ({"timezone": ""}, ["filter", "timezone"]),
        ({"timezone": "../../etc/passwd"}, ["filter", "timezone"]),
        ({"timezone": "America"}, ["filter", "timezone"]),
        ({"timezone": "x" * 500}, ["filter", "timezone"]),
        ({"from": "2026-02-02", "to": "2026-02-01"}, ["filter", "from"]),
        ({"from": "2016-01-01", "to": "2026-12-31"}, ["filter", "to"]),
        ({"from": "0001-01-01", "to": "0001-01-02"}, ["filter", "from"]),
        ({"from": "9999-12-30", "to": "9999-12-31"}, ["filter", "from"]),
        ({"from": "1900-01-01", "to": "2026-12-31", "period": "MONTH"}, ["filter", "to"]),
        ({"from": "1900-01-01", "to": "2026-12-31", "period": "YEAR"}, ["filter", "to"]),
        ({"websiteIds": ["1", "abc"]}, ["filter", "websiteIds", "1"]),
        ({"storeViewIds": ["99999999999"]}, ["filter", "storeViewIds", "0"]),
        ({"storeViewIds": ["1"] * 1001}, ["filter", "storeViewIds"]),
    ],
)
async def test_a_bad_filter_is_a_clear_top_level_error(
    gql: GraphQLClient, token: str, filter_: dict[str, Any], field: list[str]
) -> None:
    full = {"from": "2026-01-01", "to": "2026-01-31"} | filter_

    for query in (REPORT, CUSTOMERS):
        body = await gql(query, {"filter": full}, token=token)

        assert body["data"] is None
        assert error_codes(body) == ["BAD_REQUEST"]
        assert body["errors"][0]["extensions"]["field"] == field
        assert body["errors"][0]["message"]


async def test_the_longest_ranges_are_accepted(gql: GraphQLClient, token: str) -> None:
    await invitation(datetime(2026, 5, 4, 12, 0, tzinfo=UTC))

    days = await report(gql, token, **{"from": "2017-01-01", "to": "2027-01-08"})
    years = await report(gql, token, **{"from": "1927-01-01", "to": "2026-12-31", "period": "YEAR"})

    assert len(days["rows"]) == 3660
    assert days["totals"]["invited"] == 1
    assert len(years["rows"]) == 100
    assert years["totals"]["invited"] == 1


async def test_an_invalid_date_is_a_graphql_validation_error(
    gql: GraphQLClient, token: str
) -> None:
    body = await gql(REPORT, {"filter": {"from": "2026-02-30", "to": "2026-03-01"}}, token=token)

    assert body["data"] is None
    assert body["errors"]


async def customers_report(
    gql: GraphQLClient, token: str, first: int | None = None, **filter_: Any
) -> list[dict[str, Any]]:
    variables: dict[str, Any] = {"filter": {"from": "2026-05-01", "to": "2026-05-31"} | filter_}
    if first is not None:
        variables["first"] = first
    body = await gql(CUSTOMERS, variables, token=token)
    assert "errors" not in body, body
    rows: list[dict[str, Any]] = body["data"]["invitedCustomersReport"]
    return rows


async def test_invited_customers_most_sent_first(gql: GraphQLClient, token: str) -> None:
    ann, bob, cid = (
        await make_customer("ann@example.com"),
        await make_customer("bob@example.com"),
        await make_customer("cid@example.com"),
    )
    may = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    for status in (InvitationStatus.SENT, InvitationStatus.ACCEPTED):
        await invitation(may, status=status, inviter=ann)
    for status in (InvitationStatus.SENT, InvitationStatus.ACCEPTED, InvitationStatus.ACCEPTED):
        await invitation(may, status=status, inviter=bob)
    await invitation(may, status=InvitationStatus.NOT_SENT, delivered=False, inviter=bob)
    await invitation(may, status=InvitationStatus.NOT_SENT, delivered=False, inviter=cid)
    await invitation(may.replace(month=4), inviter=cid)  # before the range
    await invitation(may.replace(month=6), inviter=ann)  # after the range
    await invitation(may)  # by an admin

    rows = await customers_report(gql, token)

    assert [
        (r["customer"]["email"], r["invitationsSent"], r["invitationsAccepted"]) for r in rows
    ] == [("bob@example.com", 3, 2), ("ann@example.com", 2, 1), ("cid@example.com", 0, 0)]
    assert [r["customer"]["email"] for r in await customers_report(gql, token, first=1)] == [
        "bob@example.com"
    ]


async def test_invited_customers_filtered_by_place_and_zone(gql: GraphQLClient, token: str) -> None:
    ann = await make_customer("ann@example.com")
    eu_view = await other_website()
    await invitation(local(TOKYO, 2026, 6, 1, 0, 30), inviter=ann)  # May 31 in UTC
    await invitation(datetime(2026, 5, 10, tzinfo=UTC), inviter=ann, view=eu_view)

    in_utc = await customers_report(gql, token)
    in_tokyo = await customers_report(gql, token, timezone="Asia/Tokyo")
    eu_only = await customers_report(gql, token, websiteIds=[str(eu_view.website_id)])

    assert [r["invitationsSent"] for r in in_utc] == [2]
    assert [r["invitationsSent"] for r in in_tokyo] == [1]
    assert [r["invitationsSent"] for r in eu_only] == [1]


@pytest.mark.parametrize("first", [0, -1, 1001])
async def test_first_is_bounded(gql: GraphQLClient, token: str, first: int) -> None:
    body = await gql(
        CUSTOMERS,
        {"filter": {"from": "2026-05-01", "to": "2026-05-31"}, "first": first},
        token=token,
    )

    assert body["data"] is None
    assert error_codes(body) == ["BAD_REQUEST"]
    assert body["errors"][0]["extensions"]["field"] == ["first"]
