"""The abuse limits per address and per account, in each storage (memory, database)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx
import pytest

from config import RateLimitStorage, Settings
from models.leases import RateLimitCounter
from schema.rate_limits import Action, Limit, RateLimits
from tests.helpers import error_codes
from tests.live import server_process

STORAGES = pytest.mark.parametrize("storage", list(RateLimitStorage))


@STORAGES
async def test_rate_limits_count_the_address_and_the_account_of_each_action(
    storage: RateLimitStorage,
) -> None:
    limits = RateLimits(
        {Action.CUSTOMER_SIGN_IN: Limit(per_address=3, per_account=2)},
        window_seconds=60,
        storage=storage,
    )

    async def sign_in(address: str, account: str) -> bool:
        return await limits.allow(Action.CUSTOMER_SIGN_IN, address=address, account=account)

    same_account = [await sign_in(a, "x") for a in "abc"]
    same_address = [await sign_in("d", k) for k in "pqrs"]
    unlimited = [await limits.allow(Action.CODE_LOOKUP, address="d") for _ in range(10)]

    assert same_account == [True, True, False]
    assert same_address == [True, True, True, False]
    assert unlimited == [True] * 10


@STORAGES
async def test_a_window_that_ended_allows_again(storage: RateLimitStorage) -> None:
    limits = RateLimits(
        {Action.CODE_LOOKUP: Limit(per_address=2)}, window_seconds=1, storage=storage
    )

    first = [await limits.allow(Action.CODE_LOOKUP, address="a") for _ in range(3)]
    await asyncio.sleep(2.05)  # past the end of any window the hits fell in
    later = [await limits.allow(Action.CODE_LOOKUP, address="a") for _ in range(3)]

    assert first == later == [True, True, False]


async def test_database_counters_are_small_whatever_the_client_sends() -> None:
    limits = RateLimits(
        {Action.REGISTRATION: Limit(per_address=100, per_account=1)},
        window_seconds=60,
        storage=RateLimitStorage.DATABASE,
    )
    huge = "x" * 1_000_000

    first = await limits.allow(Action.REGISTRATION, address="a" * 10_000, account=huge)
    again = await limits.allow(Action.REGISTRATION, address="b", account=huge)

    assert (first, again) == (True, False)
    keys = await RateLimitCounter.all().values_list("key", flat=True)
    assert len(keys) == 3
    assert all(len(key) == 32 for key in keys)


async def test_concurrent_hits_on_the_database_are_all_counted() -> None:
    limits = RateLimits(
        {Action.CODE_LOOKUP: Limit(per_address=25)},
        window_seconds=60,
        storage=RateLimitStorage.DATABASE,
    )

    allowed = await asyncio.gather(
        *(limits.allow(Action.CODE_LOOKUP, address="a") for _ in range(40))
    )

    assert allowed.count(True) == 25


LOOKUP = "query Look($code: String!) { invitationByCode(code: $code) { email } }"


async def test_two_replicas_on_one_database_hold_the_limit_in_total(settings: Settings) -> None:
    # Given two server processes sharing the database's counters
    shared = {"rate_limit_storage": "database", "rate_limit_code_lookup_per_address": "5"}
    async with AsyncExitStack() as stack:
        urls = await asyncio.gather(
            stack.enter_async_context(server_process(settings, **shared)),
            stack.enter_async_context(server_process(settings, **shared)),
        )
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=url)) for url in urls]

        # When one client address looks codes up through both, in turn
        codes = []
        for n in range(8):
            response = await clients[n % 2].post(
                "/graphql", json={"query": LOOKUP, "variables": {"code": f"guess-{n}"}}
            )
            assert response.status_code == 200, response.text
            codes.append(error_codes(response.json()))

    # Then the limit holds across both: 5 look-ups in all, not 5 each
    assert codes == [[]] * 5 + [["RATE_LIMITED"]] * 3
