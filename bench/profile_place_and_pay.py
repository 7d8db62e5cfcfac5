"""Where a paid order's CPU goes: place -> pay -> sandbox callback in this one process (the app
called through httpx's ASGI transport, as the sandbox delivers its callback), on PostgreSQL.

    .venv/bin/python bench/profile_place_and_pay.py [--orders 300 --top 30 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_profile] [--statements]

The database named by --database-url is WIPED (created first when missing).
Prints the CPU time of this process per step over --orders sequences, then a cProfile summary
of --orders more (the functions taking most time, cumulative and own). --statements instead logs
the statements of one sequence: it sets `log_statement = 'all'` on that database only and reads
them back from the server's log (--server-log, readable by this user), each step's between two
marker queries.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import re
import secrets
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from common import run
from cryptography.fernet import Fernet
from order_intake import Store, order_bodies, prepare

from shopflow.app import create_app
from shopflow.core.settings import Settings

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_profile"
STEPS = ("place", "pay", "callback")


async def sequence(client: httpx.AsyncClient, body: bytes, times: dict[str, float]) -> None:
    """One place -> pay -> callback; adds each step's CPU time of this process (app and client)."""
    clock = time.process_time
    began = clock()
    reply = await client.post("/api/v1/orders", content=body)
    order = reply.json()
    assert reply.status_code == 201 and order["status"] == "confirmed", reply.text
    placed = clock()
    reply = await client.post(f"/api/v1/orders/{order['id']}/payments", json={"method": "alipay"})
    assert reply.status_code == 201, reply.text
    paid = clock()
    reply = await client.post(
        f"/api/v1/sandbox/payments/{reply.json()['payment_id']}/complete", json={"outcome": "success"}
    )
    assert reply.status_code == 200 and reply.json()["deliveries"][0]["status_code"] == 200, reply.text
    ended = clock()
    for step, seconds in zip(STEPS, (placed - began, paid - placed, ended - paid), strict=True):
        times[step] += seconds


def _read_from(path: Path, offset: int) -> str:
    with path.open() as found:
        found.seek(offset)
        return found.read()


async def statements(url: str, client: httpx.AsyncClient, body: bytes, log: Path) -> None:
    """One sequence's statements per step, from the server's log between marker queries."""
    marker = await asyncpg.connect(url)
    tag = secrets.token_hex(4)
    try:
        offset = await asyncio.to_thread(lambda: log.stat().st_size)
        await marker.execute(f"SELECT 'mark-{tag}-place'")
        reply = await client.post("/api/v1/orders", content=body)
        await marker.execute(f"SELECT 'mark-{tag}-pay'")
        reply = await client.post(f"/api/v1/orders/{reply.json()['id']}/payments", json={"method": "alipay"})
        await marker.execute(f"SELECT 'mark-{tag}-callback'")
        payment_id = reply.json()["payment_id"]
        await client.post(f"/api/v1/sandbox/payments/{payment_id}/complete", json={"outcome": "success"})
        await marker.execute(f"SELECT 'mark-{tag}-end'")
    finally:
        await marker.close()
    text = await asyncio.to_thread(_read_from, log, offset)
    step = None
    counts: dict[str, int] = {}
    for line in text.splitlines():
        mark = re.search(rf"mark-{tag}-(\w+)", line)
        if mark:
            step = mark.group(1)
            if step != "end":
                print(f"--- {step}")
            continue
        statement = re.search(r"LOG:  (?:statement|execute [^:]*): (.*)", line)
        if step in STEPS and statement:
            counts[step] = counts.get(step, 0) + 1
            print(f"  {statement.group(1)[:150]}")
    print("statements per step: " + ", ".join(f"{s} {counts.get(s, 0)}" for s in STEPS))


async def main_async(args: argparse.Namespace, store: Store) -> None:
    settings = Settings(
        database_url=args.database_url,
        secret_key=Fernet.generate_key().decode(),
        sandbox=True,
        sandbox_secret=secrets.token_urlsafe(32),
        data_dir=Path(tempfile.mkdtemp(prefix="shopflow-profile-")),
    )
    app = create_app(settings=settings)
    bodies = order_bodies(store, random.Random(5))
    headers = {"Authorization": f"Bearer {store.token}", "Content-Type": "application/json"}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),  # as served: tokens cached while revocations are heard
        httpx.AsyncClient(transport=transport, base_url="http://shop", headers=headers) as client,
    ):
        times = dict.fromkeys(STEPS, 0.0)
        for body in bodies[:50]:  # warm-up: caches, prepared statements, the pool
            await sequence(client, body, times)
        if args.statements:
            conn = await asyncpg.connect(args.database_url)
            name = args.database_url.rsplit("/", 1)[1]
            try:
                await conn.execute(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'")
            finally:
                await conn.close()
            await app.state.db.engine.dispose()  # new connections take the setting
            await statements(args.database_url, client, bodies[50], Path(args.server_log))
            conn = await asyncpg.connect(args.database_url)
            try:
                await conn.execute(f'ALTER DATABASE "{name}" RESET log_statement')
            finally:
                await conn.close()
            return
        times = dict.fromkeys(STEPS, 0.0)
        for body in bodies[50 : 50 + args.orders]:
            await sequence(client, body, times)
        print(
            f"{args.orders} sequences, CPU ms of this process per step (app and client, one client): "
            + ", ".join(f"{s} {times[s] / args.orders * 1000:.2f}" for s in STEPS)
        )
        profiler = cProfile.Profile()
        profiler.enable()
        for body in bodies[50 + args.orders : 50 + 2 * args.orders]:
            await sequence(client, body, times)
        profiler.disable()
    if args.dump:
        profiler.dump_stats(args.dump)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--orders", type=int, default=300, help="sequences profiled")
    parser.add_argument("--top", type=int, default=30, help="functions printed")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    parser.add_argument("--statements", action="store_true", help="log one sequence's statements instead")
    parser.add_argument("--dump", help="also write the profile to this file (for pstats, snakeviz)")
    parser.add_argument("--server-log", default="/var/log/postgresql/postgresql-15-main.log")
    args = parser.parse_args()
    store = prepare(args.database_url, 60)
    run(main_async(args, store))


if __name__ == "__main__":
    main()
