"""The store structure: websites, store views, customer groups."""

from __future__ import annotations

from models import store as m
from schema.context import Info
from schema.store import CustomerGroup, StoreView, Website


async def websites(info: Info) -> list[Website]:
    return [Website.from_model(row) for row in await m.Website.all().order_by("id")]


async def store_views(info: Info) -> list[StoreView]:
    rows = await m.StoreView.all().order_by("sort_order", "id")
    return [StoreView.from_model(row) for row in rows]


async def customer_groups(info: Info) -> list[CustomerGroup]:
    return [CustomerGroup.from_model(row) for row in await m.CustomerGroup.all().order_by("id")]
