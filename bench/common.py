"""What every benchmark shares: an event loop runner and a freshly migrated database."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import uvloop
from sqlalchemy import text

from shopflow.core.db import create_engine, upgrade_schema

T = TypeVar("T")

# One sample customer for every benchmark's orders.
CUSTOMER = {"name": "张三", "phone": "13800138000", "email": "zhang@example.cn"}
ADDRESS = {
    "name": "张三",
    "phone": "13800138000",
    "province": "上海",
    "city": "上海市",
    "district": "浦东新区",
    "street": "世纪大道100号",
    "postcode": "200120",
}
CONTACT = {"customer": CUSTOMER, "shipping_address": ADDRESS}


def run(coro: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


async def _drop_schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def fresh_database(url: str) -> None:
    """WIPE the database at `url` and build the schema with the migrations."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        run(_drop_schema(url))
    upgrade_schema(url)
