"""Lead import (CRM-2): rows per second of `shopflow leads import` (parse, grade, dedupe by phone,
assign, first-contact clock, intake, audit, alert and outbox rows, in batches), and the ratio to
PostgreSQL's COPY of the same CSV rows into a plain table (no checks, no grading, no side rows).

    .venv/bin/python bench/leads.py [--rows 100000 --sales 5 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_leads]

The database named by --database-url is created when missing, then WIPED: schema public is
dropped and migrated anew. One in twenty rows repeats an earlier row's phone (appended to its
lead, as the form's second request is). Nothing is pinned; a busy machine makes the figures
worth little.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import tempfile
import time
from pathlib import Path

import asyncpg
from common import fresh_database, run
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from shopflow.cli.leads import BATCH
from shopflow.core import auth, crypto
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.db import Database
from shopflow.crm.leads import files, service
from shopflow.crm.leads.models import Lead

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_leads"
TAGS = ("办公设备", "母婴用品", "打印机", "碎纸机", "会议桌", "工装")
SOURCES = ("form", "chat", "phone", "fair", "import")
COPY_TABLE = "bench_leads_copy"


def make_csv(rows: int, seed: int = 13) -> str:
    pick = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(files.COLUMNS)
    for n in range(rows):
        phone = f"139{pick.randrange(n) if n and n % 20 == 0 else n:08d}"
        writer.writerow(
            (
                f"客户{n}",
                phone,
                "|".join(pick.sample(TAGS, pick.randint(1, 3))),
                pick.choice(SOURCES),
                "想要报价" if pick.random() < 0.1 else "",
                f"{pick.choice((0, 2000, 12000, 50000))}.00" if pick.random() < 0.6 else "",
                str(pick.choice((5, 20, 150, 300))) if pick.random() < 0.6 else "",
                "yes" if pick.random() < 0.3 else "",
            )
        )
    return out.getvalue()


async def ensure_database(url: str) -> None:
    """CREATE DATABASE when the server has none of that name."""
    parsed = make_url(url)
    server = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(server)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", parsed.database):
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
            print(f"created database {parsed.database}")
    finally:
        await conn.close()


async def import_run(url: str, text: str, sales: int) -> tuple[float, int, int, int]:
    """Seconds, good rows, leads stored, rows appended: the CLI's way (`shopflow leads import`)."""
    db = Database.from_url(url)
    actor = Actor(user_id=None, name="import:bench.csv", role="system")
    try:
        async with db.transaction() as session:
            for n in range(sales):
                await auth.add_user(session, SYSTEM, f"sales-{n}", "sales")
        started = time.perf_counter()
        rows, errors = files.parse(text)
        assert not errors, errors[:3]
        async with db.transaction() as session:
            owners = await service.chooser(session)
        stored = appended = 0
        for start in range(0, len(rows), BATCH):
            async with db.transaction() as session:
                done = await service.import_leads(
                    session, actor, [d for _, d in rows[start : start + BATCH]], owners
                )
            stored += done.stored
            appended += done.appended
        seconds = time.perf_counter() - started
        async with db.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(Lead)) == stored
        return seconds, len(rows), stored, appended
    finally:
        await db.dispose()


async def copy_run(url: str, path: Path) -> tuple[float, int]:
    """Seconds and rows of COPY of the same file into a plain table of text columns."""
    conn = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        columns = ", ".join(f"{name} text" for name in files.COLUMNS)
        await conn.execute(f"CREATE TABLE {COPY_TABLE} ({columns})")
        started = time.perf_counter()
        await conn.copy_to_table(COPY_TABLE, source=path, format="csv", header=True)
        seconds = time.perf_counter() - started
        return seconds, int(await conn.fetchval(f"SELECT count(*) FROM {COPY_TABLE}"))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sales", type=int, default=5, help="sales staff on duty who take the leads")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the baseline is PostgreSQL's COPY: give a postgresql:// URL")
    crypto.install(Fernet.generate_key())
    run(ensure_database(args.database_url))
    fresh_database(args.database_url)
    text = make_csv(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        path.write_text(text, encoding="utf-8")
        seconds, good, stored, appended = run(import_run(args.database_url, text, args.sales))
        copy_seconds, copied = run(copy_run(args.database_url, path))
    rate, copy_rate = good / seconds, copied / copy_seconds
    print(f"rows: {args.rows} ({stored} leads, {appended} appended to an open lead), batches of {BATCH}")
    print(f"import (shopflow leads import's path): {seconds:.2f} s, {rate:,.0f} rows/s")
    print(f"COPY of the same rows (baseline):      {copy_seconds:.2f} s, {copy_rate:,.0f} rows/s")
    print(f"import / COPY: {rate / copy_rate:.3f}")


if __name__ == "__main__":
    main()
