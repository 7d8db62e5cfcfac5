"""Olist import (ORD-1, issue 15 item 6): the whole dataset loaded as order history the way
`shopflow import olist` loads it, in orders/s and rows/s, and the ratio to PostgreSQL COPY of the
same rows in the same run.

    .venv/bin/python bench/import.py [--olist ../shared/data/olist \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_import]

The database named by --database-url is WIPED: schema public is dropped and migrated anew.

Measured:
  import  staging the CSV files (the temporary SQLite database) and writing every order through
          the history writer, a transaction per batch of `cli.history.BATCH` orders: customers,
          products, SKUs, orders, lines, payments and audit rows, as the command does;
  COPY    the rows the import wrote, taken out with COPY … TO (binary, untimed), the tables
          emptied, then put back with COPY … FROM (binary) in one transaction: the floor of any
          loader (no parsing, no sealing of personal data, no lookups, no conflict checks).
rows/s counts the database rows written (every table above but the categories); orders/s the
orders. Nothing is pinned: the load average printed at the end says how busy the machine was.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import asyncpg
from common import fresh_database, run
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from shopflow.analytics.importing.olist import OlistDirectory
from shopflow.cli.history import Loaded, load
from shopflow.core import crypto, policy
from shopflow.core.audit import Actor
from shopflow.core.db import Database

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_import"
DEFAULT_OLIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "olist"
# What the import writes, parents before children (COPY back in this order).
TABLES = (
    "categories",
    "products",
    "skus",
    "customers",
    "customer_keys",
    "customer_phones",
    "orders",
    "order_lines",
    "payments",
    "audit_log",
)


async def imported(url: str, directory: Path) -> tuple[float, Loaded]:
    db = Database.from_url(url)
    actor = Actor(user_id=None, name="bench:olist", role="system")
    try:
        started = time.perf_counter()
        with OlistDirectory(directory) as source:
            source.stage()
            done = await load(db, actor, source.orders(), Loaded(errors=list(source.errors)), lambda _: None)
        return time.perf_counter() - started, done
    finally:
        await db.dispose()


async def copied(url: str) -> tuple[float, dict[str, int]]:
    """The written rows out (binary COPY, untimed), the tables emptied, and back in (timed)."""
    conn = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        dumps: dict[str, bytes] = {}
        counts: dict[str, int] = {}
        for table in TABLES:
            out = io.BytesIO()
            await conn.copy_from_table(table, output=out, format="binary")
            dumps[table] = out.getvalue()
            counts[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")  # the tables referring to them are empty
        await conn.execute("CHECKPOINT")
        started = time.perf_counter()
        async with conn.transaction():
            for table in TABLES:
                await conn.copy_to_table(table, source=io.BytesIO(dumps[table]), format="binary")
        seconds = time.perf_counter() - started
        for table in TABLES:
            assert int(await conn.fetchval(f"SELECT count(*) FROM {table}")) == counts[table], table
        return seconds, counts
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--olist", type=Path, default=DEFAULT_OLIST, help="the directory of Olist's CSV files"
    )
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    args = parser.parse_args()
    if not (args.olist / "olist_order_items_dataset.csv").is_file():
        raise SystemExit(f"no Olist items file in {args.olist} (--olist)")
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("the baseline is PostgreSQL COPY: give a postgresql:// --database-url")
    crypto.install(Fernet.generate_key())
    policy.install(policy.Policy())
    fresh_database(args.database_url)

    seconds, done = run(imported(args.database_url, args.olist))
    copy_seconds, counts = run(copied(args.database_url))
    rows = sum(counts.values()) - counts["categories"]
    orders = counts["orders"]
    print(f"olist: {done.loaded} orders loaded, {len(done.errors)} rows rejected; {rows} rows written")
    for table, n in counts.items():
        print(f"  {table:<16}{n:>9}")
    for name, took in (("import", seconds), ("COPY", copy_seconds)):
        print(f"{name:<8}{took:7.2f} s  {orders / took:9.0f} orders/s  {rows / took:9.0f} rows/s")
    print(f"ratio   import takes {seconds / copy_seconds:.1f}× the time of COPY")
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
