"""What every benchmark shares: an event loop runner and a freshly migrated database (created
first when the server has no database of that name)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvloop
from sqlalchemy import text
from sqlalchemy.engine import make_url

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


async def _create_if_missing(url: str) -> bool:
    """CREATE DATABASE for the PostgreSQL `url` unless it exists (asked of the server's `postgres`
    database, with the same user and host); whether it was created."""
    target = make_url(url)
    name = target.database
    if not name:
        raise SystemExit(f"the database URL names no database: {url}")
    maintenance = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(maintenance.render_as_string(hide_password=False))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:  # another bench created it meanwhile
            return False
    finally:
        await conn.close()
    return True


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database `url` names when the server has none of that name (SQLite
    creates its file by itself)."""
    if url.startswith("sqlite"):
        return
    if run(_create_if_missing(url)):
        print(f"created database {make_url(url).database}")


async def _drop_schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


def fresh_database(url: str) -> None:
    """WIPE the database at `url` (created when missing) and build the schema with the migrations."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        ensure_database(url)
        run(_drop_schema(url))
    upgrade_schema(url)
