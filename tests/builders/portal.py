"""The customer's page: an order's link as its notices carry it, and a visitor holding it."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import httpx

from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.orders.service import queries
from shopflow.portal import service
from tests.builders import fulfillment as ful
from tests.builders.store import small_store

FORM_KEY = re.compile(r'name="csrf" value="([^"]+)"')
LINE = re.compile(r'name="qty-(\d+)"')


async def link_path(db: Database, order_id: int) -> str:
    """The path of the order's page, as a notice sent now would link it."""
    async with db.transaction() as session:
        return urlsplit(service.link(await queries.get_order(session, order_id))).path


def form_key(html: str) -> str:
    found = FORM_KEY.search(html)
    assert found is not None, "the page has no form key"
    return found[1]


async def opened(client: httpx.AsyncClient, path: str) -> tuple[str, list[str]]:
    """The page's form key and the ids of its order lines (the quantity boxes of its request form)."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return form_key(page.text), LINE.findall(page.text)


async def tracked_order(db: Database, client: httpx.AsyncClient) -> tuple[int, str]:
    """An order of the small store shipped through a wave and delivered by its carrier's pushed
    events (picked up in Shanghai, then signed for): its id and its tracking number."""
    await small_store(db)
    team = await ful.crew(db)
    secrets = await ful.carriers_with_rules(client, team.ops)
    [parcel] = await ful.shipped_order(client, team)
    at = clock.now()
    events = [
        ful.event(parcel["tracking_no"], "picked_up", at, location="上海浦东"),
        ful.event(parcel["tracking_no"], "delivered", at + timedelta(minutes=1), location="上海徐汇"),
    ]
    assert (await ful.push(client, "SF", secrets["SF"], events)).status_code == 200
    return int(parcel["order_id"]), str(parcel["tracking_no"])
