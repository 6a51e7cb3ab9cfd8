"""The grid's e-mail searches through the trigram index find exactly what the LIKE scan finds.

Hostile addresses and needles (LIKE's and FTS5's special characters, quotes, backslashes,
case, Unicode with and without case folding, needles of 0 to 2 characters, at the start or end of
an address) are searched through the grid (its page and totalCount) and compared with the scan
of today's LIKE alone and with Python's `in`. The index follows every write: inserts, updates of
an address (ORM, a bulk UPDATE, raw SQL), deletes, a rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from domain import codes
from domain.clock import utcnow
from domain.grid import MAX_PAGE_SIZE, GridFilter, SortField, grid_page
from domain.sql import numbered
from models import email_search
from models.accounts import Customer
from models.invitation import Invitation
from models.store import StoreView

ADDRESSES = [
    "ann@example.com",
    "ANN.Smith@Example.COM",
    "a%b@example.com",
    "a_b@example.com",
    "axb@example.com",
    "back\\slash@example.com",
    'quo"te@example.com',
    "it's@example.com",
    "straße@example.de",
    "ÉCOLE@example.fr",
    "ωμέγα@example.gr",
    "日本語@example.jp",
    "x*y?z[1]@example.com",
    "near(a b)^-:@example.com",
    "c@d.e",
    "ab@ab.ab",
]
NEEDLES = [
    "%",
    "_",
    "\\",
    "\\%",
    "a%b",
    "a_b",
    "A_B",
    "a%",
    '"',
    'quo"te',
    '""',
    "'",
    "it's",
    "ß",
    "STRASSE",
    "straße",
    "école",
    "ÉCOLE",
    "é",
    "ωμέ",
    "ΩΜΈΓΑ",
    "日本",
    "日本語",
    "*",
    "x*y",
    "?z[",
    "[1]",
    "near(a",
    "^-:",
    "AND",
    "ann",
    "ANN",
    "an",
    "a",
    "",
    "  ann  ",
    "ann@",
    "@example.com",
    ".com",
    "com",
    "example",
    "e",
    "zzz",
    "c@d",
    "ab@ab.ab",
    "ab@ab.abx",
]


def _key(address: str) -> str:
    return address.casefold()


async def _invite(address: str, *, invitee: Customer | None = None) -> Invitation:
    view = await StoreView.get(code="default")
    now = utcnow()
    return await Invitation.create(
        email=address,
        email_key=_key(address),
        created_at=now,
        updated_at=now,
        store_view_id=view.id,
        website_id=view.website_id,
        invitee_id=invitee.id if invitee else None,
        code_nonce=codes.new_nonce(),
    )


async def _customer(address: str) -> Customer:
    view = await StoreView.get(code="default").prefetch_related("website")
    return await Customer.create(
        website_id=view.website_id,
        group_id=view.website.default_group_id,
        email=address,
        email_key=_key(address),
        firstname="I",
        lastname="Nvitee",
        password_hash="x",
        created_at=utcnow(),
    )


async def _grid(where: GridFilter) -> tuple[set[int], int]:
    """Every id the grid shows for `where` (it fits one page here), and its totalCount."""
    page = await grid_page(
        where=where, sort=SortField.ID, reverse=True, first=MAX_PAGE_SIZE, after=None, now=utcnow()
    )
    assert not page.has_next_page
    return {row.id for row in page.rows}, await page.total_count()


async def _scan(**like: str) -> set[int]:
    """Today's path: the LIKE alone."""
    return set(await Invitation.filter(**like).values_list("id", flat=True))


def _expected(rows: Iterable[tuple[int, str | None]], needle: str) -> set[int]:
    folded = needle.strip().casefold()
    return {row_id for row_id, key in rows if key is not None and folded in key}


async def _keys() -> list[tuple[int, str | None]]:
    return [(row.id, row.email_key) for row in await Invitation.all()]


async def _invitee_keys() -> list[tuple[int, str | None]]:
    rows = await Invitation.all().values_list("id", "invitee__email_key")
    return [(row_id, key) for row_id, key in rows]


async def _assert_search_exact(needle: str) -> None:
    folded = needle.strip().casefold()
    ids, total = await _grid(GridFilter(email=needle))
    assert ids == await _scan(email_key__contains=folded) == _expected(await _keys(), needle), (
        needle
    )
    assert total == len(ids), needle
    ids, total = await _grid(GridFilter(invitee=needle))
    assert (
        ids
        == await _scan(invitee__email_key__contains=folded)
        == _expected(await _invitee_keys(), needle)
    ), needle
    assert total == len(ids), needle


async def _integrity() -> None:
    """SQLite: FTS5 checks its index against the table (rank 1: external content too)."""
    client = connections.get("default")
    if email_search._is_postgres(client):
        return
    for table in email_search.SEARCHED:
        search = f"{table}_search"
        await client.execute_query(
            f"INSERT INTO {search} ({search}, rank) VALUES ('integrity-check', 1)"  # noqa: S608
        )


async def test_hostile_needles_find_what_the_like_scan_finds() -> None:
    # Given invitations of hostile addresses, each accepted by a customer of another one
    for n, address in enumerate(ADDRESSES):
        invitee = await _customer(ADDRESSES[(n + 3) % len(ADDRESSES)])
        await _invite(address, invitee=invitee)
    await _invite("nobody@example.com")

    # When / then: every needle finds through the grid what the LIKE scan and Python find
    found_any = 0
    for needle in NEEDLES:
        await _assert_search_exact(needle)
        found_any += bool((await _grid(GridFilter(email=needle)))[0])
    assert found_any > len(NEEDLES) // 2
    await _integrity()


async def test_the_search_combines_with_other_filters_and_sorts() -> None:
    for address in ADDRESSES:
        await _invite(address)
    view = await StoreView.get(code="default")
    where = GridFilter(email="example", website_ids=[str(view.website_id)])
    ids, total = await _grid(where)
    assert ids == _expected(await _keys(), "example")
    assert total == len(ids) > 10
    page = await grid_page(
        where=where, sort=SortField.EMAIL, reverse=False, first=3, after=None, now=utcnow()
    )
    expected = sorted(a for a in ADDRESSES if "example" in _key(a))[:3]
    assert [row.email for row in page.rows] == expected
    assert await page.total_count() == total


async def test_the_index_follows_every_write() -> None:
    # Given an invitation and an invitee
    first = await _invite("Old.Address@example.com")
    invitee = await _customer("amy.pond@example.com")
    second = await _invite("second@example.com", invitee=invitee)

    async def found(**search: str) -> set[int]:
        ids, total = await _grid(GridFilter(**search))
        assert total == len(ids)
        return ids

    assert await found(email="old.addr") == {first.id}
    assert await found(invitee="y.po") == {second.id}

    # When the address changes through the ORM, then the old one is gone and the new one found
    first.email, first.email_key = "New.Place@example.com", "new.place@example.com"
    await first.save()
    assert await found(email="old.addr") == set()
    assert await found(email="w.pla") == {first.id}

    # ... through a bulk UPDATE, and raw SQL
    await Invitation.filter(id=second.id).update(email="x", email_key="bulk.changed@example.com")
    assert await found(email="k.chan") == {second.id}
    assert await found(email="second") == set()
    client = connections.get("default")
    await client.execute_query(
        numbered(client, "UPDATE invitation SET email_key = ? WHERE id = ?"),
        ["raw.sql@example.com", second.id],
    )
    assert await found(email="raw.sq") == {second.id}
    assert await found(email="k.chan") == set()

    # ... and an update of other columns leaves the search as it was
    await Invitation.filter(id=second.id).update(attempts=3)
    assert await found(email="raw.sq") == {second.id}

    # When the invitee's address changes, then the invitee search follows
    await Customer.filter(id=invitee.id).update(email_key="rory@example.com")
    assert await found(invitee="y.po") == set()
    assert await found(invitee="rory") == {second.id}

    # When a transaction that wrote rolls back, then the search is as before it
    async def write_then_fail() -> None:
        async with in_transaction():
            await _invite("ghost@example.com")
            await Invitation.filter(id=first.id).update(email_key="gone@example.com")
            assert await found(email="ghost") != set()
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        await write_then_fail()
    assert await found(email="ghost") == set()
    assert await found(email="w.pla") == {first.id}

    # When rows are deleted, then they are no longer found
    await Invitation.filter(id=first.id).delete()
    assert await found(email="w.pla") == set()
    assert await found(email="example") == {second.id}
    await _integrity()


async def test_the_search_reads_the_trigram_index_unless_the_needle_is_short() -> None:
    # Given invitations of hostile addresses
    for address in ADDRESSES:
        await _invite(address)
    client = connections.get("default")
    if email_search._is_postgres(client):
        # Then PostgreSQL serves the grid's LIKE (as Tortoise spells it) from the GIN index, with
        # the same rows as its default plan (a scan of this small table)
        for needle in NEEDLES:
            default = await _grid(GridFilter(email=needle))
            async with in_transaction() as transaction:
                # A sequential scan becomes a last resort: the GIN index serves the LIKE if it can.
                await transaction.execute_query("SET LOCAL enable_seqscan = off")
                await transaction.execute_query("SET LOCAL enable_indexscan = off")
                where = GridFilter(email=needle).condition(utcnow())
                sql = Invitation.filter(where).sql(params_inline=True)
                plan = " ".join(
                    row["QUERY PLAN"]
                    for row in await transaction.execute_query_dict(f"EXPLAIN {sql}")
                )
                if len(needle.strip()) >= 3 and needle.strip().isalnum():
                    assert "idx_invitation_email_key_trgm" in plan, (needle, plan)
                assert await _grid(GridFilter(email=needle)) == default, needle
        return
    # Then SQLite reads the FTS5 table for needles of 3 characters or more, and scans for others
    for needle, indexed in (("ann", True), ("example.com", True), ("an", False), ("", False)):
        where = GridFilter(email=needle, invitee=needle)
        query = Invitation.filter(where.condition(utcnow()), await where.narrowing())
        rows = await client.execute_query_dict(
            f"EXPLAIN QUERY PLAN {query.sql(params_inline=True)}"
        )
        plan = " ".join(str(row["detail"]) for row in rows)
        assert plan.count("VIRTUAL TABLE INDEX") == (2 if indexed else 0), (needle, plan)


async def test_a_needle_in_too_many_addresses_scans_with_the_same_rows() -> None:
    # Given more invitations to one domain than the index serves (models.email_search)
    view = await StoreView.get(code="default")
    now = utcnow()
    await Invitation.bulk_create(
        [
            Invitation(
                email=f"r{i}@crowd.example",
                email_key=f"r{i}@crowd.example",
                created_at=now,
                updated_at=now,
                store_view_id=view.id,
                website_id=view.website_id,
                code_nonce=codes.new_nonce(),
            )
            for i in range(email_search.MIN_PROBE)
        ]
    )
    await _invite("lone@elsewhere.example")
    # Then the common needle scans, a rare one narrows (SQLite), and both find the LIKE's rows
    postgres = email_search._is_postgres(connections.get("default"))
    for needle, narrows in (("crowd.example", False), ("r99@", True), ("lone@", True)):
        found = await email_search.candidates("invitation", needle, id_path="id")
        assert (found is not None) is (narrows and not postgres), needle
        ids, total = await _grid(GridFilter(email=needle)) if narrows else (set(), 0)
        if narrows:
            assert ids == await _scan(email_key__contains=needle)
            assert total == len(ids) > 0
    page = await grid_page(
        where=GridFilter(email="crowd.example"),
        sort=SortField.ID,
        reverse=True,
        first=5,
        after=None,
        now=utcnow(),
    )
    assert await page.total_count() == email_search.MIN_PROBE
    assert len(page.rows) == 5
