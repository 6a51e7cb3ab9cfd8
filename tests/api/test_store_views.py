"""The store view look-up every request makes, cached for a few seconds."""

from __future__ import annotations

from api.store_views import StoreViewCache
from domain import stores
from models.store import StoreView
from tests.helpers import default_website


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_store_view_is_read_once_within_the_ttl() -> None:
    clock = Clock()
    cache = StoreViewCache(ttl_seconds=10, clock=clock)
    first = await cache.find("sv")
    await StoreView.filter(code="sv").update(name="Renamed")

    clock.now += 9
    cached = await cache.find("sv")
    clock.now += 2
    fresh = await cache.find("sv")

    assert first is not None
    assert cached is first
    assert fresh is not None
    assert fresh.name == "Renamed"


async def test_no_code_is_the_default_store_view() -> None:
    cache = StoreViewCache()

    store = await cache.find(None)

    assert store is not None
    assert store.code == "default"
    assert await cache.find("") is store


async def test_an_unknown_code_is_not_remembered() -> None:
    cache = StoreViewCache()
    assert await cache.find("new") is None
    website = await default_website()
    await StoreView.create(code="new", name="New", website_id=website.id, base_url="http://x/")

    found = await cache.find("new")

    assert found is not None
    assert found.code == "new"


async def test_a_change_made_by_this_process_is_seen_at_once() -> None:
    clock = Clock()
    cache = StoreViewCache(ttl_seconds=10, clock=clock)
    sv = await cache.find("sv")
    assert sv is not None

    await stores.update_store_view(store_view_id=str(sv.id), name="Svenska 2")
    await stores.create_store_view(
        code="de",
        name="Deutsch",
        website_id=str(sv.website_id),
        locale="de_DE",
        base_url="https://shop.example/de/",
        is_default=True,
    )

    renamed, default = await cache.find("sv"), await cache.find(None)
    assert renamed is not None
    assert renamed.name == "Svenska 2"
    assert default is not None
    assert default.code == "de"
