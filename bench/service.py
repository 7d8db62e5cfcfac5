"""The service desk at size (issue 14): the agent's inbox query and the month's agent metrics
over 100,000 tickets with 1,000,000 messages, the knowledge-base search over 10,000 articles, and
the SLA sweep over 1,000,000 running clocks touching only the due ones, with its ratio to the bare
due-index query (as bench/sla_sweep.py).

    .venv/bin/python bench/service.py [--tickets 100000 --messages-per-ticket 10 --agents 20 \
        --clocks 1000000 --due-percent 1 --articles 10000 --repeat 3 \
        --database-url postgresql://postgres@127.0.0.1:5432/shopflow_bench_service]

The database named by --database-url is created when missing, then WIPED: schema public is
dropped and migrated anew.

Set-up, each by one INSERT … SELECT over generate_series (the server builds the rows; no row
crosses the wire): first N running clocks for the sweep; then, after the sweep is measured and its
clocks removed, the tickets spread over November 2026 among the agents (one in five still open,
the rest resolved), their messages (one sealed body shared by all), a first-response clock each
(one in ten breached, the rest met) and a resolution clock each, and an answered survey for every
other resolved ticket; then ANALYZE; then the articles, half Chinese and half English, each a
random draw of a fixed vocabulary of service phrases, stored and indexed by `kb.service` in
batches of 500 (their terms computed in this process, as the API does).
Measured, R times each, the median printed:
  inbox     the agent's inbox as the console asks it (`service.list_tickets`: the late ticket
            ids, then a page of 50 of the agent's tickets, late first, with its count);
  metrics   the agents' month (`service.metrics.agent_month` for 2026-11): three grouped queries;
  kb        `kb.service.search`, a page of 20 best first with its count, for a common Chinese
            word (运费), a rarer two-word Chinese query (退货 运费) and a stemmed English word
            (refunds);
  sweep     bench/sla_sweep.py's sweep and bare due-index query, and their ratio.
Nothing is pinned; a busy machine makes the figures worth little.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from common import fresh_database, run
from cryptography.fernet import Fernet
from sla_sweep import bare_query, check_and_undo, full_sweep, seed
from sqlalchemy import text

from shopflow.core import auth, crypto, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.kb import service as kb
from shopflow.service import metrics, service

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/shopflow_bench_service"
MONTH = "2026-11"
MONTH_START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November in Shanghai
MONTH_SECONDS = 30 * 86400

TICKETS = """
INSERT INTO tickets (type, channel, priority, category, state, subject, assignee_id, created_at,
    updated_at, first_response_at, resolved_at, reopened)
SELECT 'inquiry', 'chat', 'normal', 'other', CASE WHEN g % 5 = 0 THEN 'open' ELSE 'resolved' END,
    'bench ticket ' || g, agents[1 + g % cardinality(agents)], at, at, at + interval '20 seconds',
    CASE WHEN g % 5 = 0 THEN NULL ELSE at + interval '1 hour' * (1 + g % 30) END, 0
FROM (SELECT g, CAST(:start AS timestamptz) + interval '1 second' * (g % :seconds) AS at,
          CAST(:agents AS bigint[]) AS agents
      FROM generate_series(1, :tickets) AS g) AS planned
"""
MESSAGES = """
INSERT INTO ticket_messages (ticket_id, kind, author, content, at)
SELECT t.id, CASE WHEN m % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'bench', :body,
    t.created_at + interval '1 minute' * m
FROM tickets AS t CROSS JOIN generate_series(1, :per_ticket) AS m
"""
CLOCKS = """
INSERT INTO sla_clocks (subject, kind, owner_id, state, started_at, deadline, stopped_at, breached_at)
SELECT 'ticket:' || id, 'ticket.first_response', assignee_id,
    CASE WHEN id % 10 = 0 THEN 'breached' ELSE 'met' END, created_at,
    created_at + interval '30 seconds',
    CASE WHEN id % 10 = 0 THEN NULL ELSE first_response_at END,
    CASE WHEN id % 10 = 0 THEN created_at + interval '30 seconds' END
FROM tickets
UNION ALL
SELECT 'ticket:' || id, 'ticket.resolution', assignee_id,
    CASE WHEN resolved_at IS NULL THEN 'running'
         WHEN resolved_at <= created_at + interval '24 hours' THEN 'met' ELSE 'breached' END,
    created_at, created_at + interval '24 hours', resolved_at,
    CASE WHEN resolved_at > created_at + interval '24 hours' THEN created_at + interval '24 hours' END
FROM tickets
"""
SURVEYS = """
INSERT INTO surveys (key, kind, order_id, ticket_id, customer_id, agent_id, sent_at, expires_at,
    answered_at, score)
SELECT 'ticket:' || id, 'ticket', NULL, id, NULL, assignee_id, resolved_at, resolved_at + interval '7 days',
    resolved_at + interval '1 day', 1 + id % 5
FROM tickets WHERE resolved_at IS NOT NULL AND id % 2 = 0
"""


async def seed_tickets(db: Database, tickets: int, per_ticket: int, agents: int) -> list[str]:
    async with db.transaction() as session:
        names = [f"agent{i:02d}" for i in range(agents)]
        ids = [(await auth.add_user(session, SYSTEM, name, "customer_service")).id for name in names]
    body = crypto.vault().seal({"body": "您好，我的包裹什么时候到？请帮我查一下物流。"})
    values = {"agents": ids, "start": MONTH_START, "seconds": MONTH_SECONDS, "tickets": tickets}
    async with db.transaction() as session:
        await session.execute(text(TICKETS), values)
        await session.execute(text(MESSAGES), {"body": body, "per_ticket": per_ticket})
        await session.execute(text(CLOCKS))
        await session.execute(text(SURVEYS))
    async with db.engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    return names


ZH_PHRASES = (
    "退货运费谁承担",
    "七天无理由退货",
    "快递什么时候到",
    "发票怎么开",
    "商品有质量问题",
    "退款多久到账",
    "如何修改收货地址",
    "会员积分怎么用",
    "优惠券不能使用",
    "包裹显示已签收但没收到",
    "换货流程",
    "尺码不合适",
    "客服工作时间",
    "订单取消后退款",
    "物流信息不更新",
    "赠品没有收到",
)
EN_WORDS = (
    "refunds",
    "returned",
    "shipping",
    "delivery",
    "invoice",
    "coupon",
    "points",
    "member",
    "exchange",
    "damaged",
    "parcel",
    "tracking",
    "address",
    "cancelled",
    "warranty",
    "size",
    "quality",
    "payment",
)
KB_QUERIES = ("运费", "退货 运费", "refunds")


async def seed_articles(db: Database, count: int, rng: random.Random) -> None:
    at = datetime.now(UTC)
    for start in range(0, count, 500):
        rows = []
        for i in range(start, min(count, start + 500)):
            if i % 2 == 0:
                title = rng.choice(ZH_PHRASES) + f"（{i}）"
                body = "，".join(rng.choices(ZH_PHRASES, k=12)) + "。"
                language = "zh_CN"
            else:
                title = " ".join(rng.choices(EN_WORDS, k=4)) + f" ({i})"
                body = " ".join(rng.choices(EN_WORDS, k=60)) + "."
                language = "en"
            row = {"kind": "faq", "category": f"c{i % 12}", "tags": [], "language": language}
            rows.append(row | {"title": title, "body": body, "created_at": at})
        async with db.transaction() as session:
            await kb.add_articles(session, rows)


async def timed(db: Database, work: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await work()
        times.append(time.perf_counter() - began)
    return times


async def measure(url: str, args: argparse.Namespace) -> None:
    db = Database.from_url(url)
    try:
        now = datetime.now(UTC)
        began = time.perf_counter()
        due = await seed(db, args.clocks, round(100 / args.due_percent), now)
        print(f"seeded {args.clocks:,} running clocks, {due:,} due, in {time.perf_counter() - began:.1f} s")
        bare: list[float] = []
        swept: list[float] = []
        for _ in range(args.repeat):
            seconds, found = await bare_query(db, now)
            assert found == due, (found, due)
            bare.append(seconds)
            seconds, breached = await full_sweep(db)
            assert breached == due, (breached, due)
            swept.append(seconds)
            await check_and_undo(db, due, args.clocks)
        async with db.transaction() as session:
            await session.execute(text("DELETE FROM sla_clocks"))

        began = time.perf_counter()
        names = await seed_tickets(db, args.tickets, args.messages_per_ticket, args.agents)
        messages = args.tickets * args.messages_per_ticket
        print(
            f"seeded {args.tickets:,} tickets, {messages:,} messages in {time.perf_counter() - began:.1f} s"
        )

        async def inbox() -> None:
            async with db.transaction() as session:
                found, total = await service.list_tickets(session, assignee=names[0], page_size=50)
                assert len(found) == 50 and total > 50, (len(found), total)

        rows: list[metrics.AgentMonth] = []

        async def month() -> None:
            async with db.transaction() as session:
                _, found = await metrics.agent_month(session, MONTH)
                rows[:] = found

        await inbox()  # warm: statements prepared, caches filled
        inboxes = await timed(db, inbox, args.repeat)
        months = await timed(db, month, args.repeat)

        began = time.perf_counter()
        await seed_articles(db, args.articles, random.Random(14))
        print(f"seeded {args.articles:,} articles with their terms in {time.perf_counter() - began:.1f} s")
        searches: dict[str, tuple[list[float], int]] = {}
        for wanted in KB_QUERIES:
            found_total = [0]

            async def search(wanted: str = wanted, found_total: list[int] = found_total) -> None:
                async with db.transaction() as session:
                    articles, found_total[0] = await kb.search(session, wanted, None, None, 1, 20)
                    assert articles, wanted

            await search()  # warm
            searches[wanted] = (await timed(db, search, args.repeat), found_total[0])
    finally:
        await db.dispose()
    assert sum(row.counts.handled for row in rows) == args.tickets, [r.counts for r in rows]
    query, sweep = statistics.median(bare), statistics.median(swept)
    inbox_ms, month_ms = statistics.median(inboxes) * 1000, statistics.median(months) * 1000
    print(f"inbox (page of 50, late first):  {inbox_ms:8.1f} ms  (runs: {_ms(inboxes)})")
    print(f"agents' month ({len(rows)} agents):     {month_ms:8.1f} ms  (runs: {_ms(months)})")
    flagged = sum(row.flagged for row in rows)
    print(f"  {flagged} of {len(rows)} agents above {policy.current().staff.response_timeout_rate_percent}%")
    for wanted, (times, total) in searches.items():
        label = f"kb search {wanted!r} ({total:,} found):"
        print(f"{label:<33}{statistics.median(times) * 1000:8.1f} ms  (runs: {_ms(times)})")
    print(f"bare due-index query:            {query * 1000:8.1f} ms  ({due:,} ids; runs: {_ms(bare)})")
    print(f"SLA sweep:                       {sweep * 1000:8.1f} ms  ({due:,} breached; runs: {_ms(swept)})")
    print(f"ratio sweep / bare query: {sweep / query:.1f}")


def _ms(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.1f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets")
    parser.add_argument("--messages-per-ticket", type=int, default=10, help="messages of each ticket")
    parser.add_argument("--agents", type=int, default=20, help="customer-service agents")
    parser.add_argument("--clocks", type=int, default=1_000_000, help="running clocks for the sweep")
    parser.add_argument("--due-percent", type=float, default=1.0, help="share of them past their deadline")
    parser.add_argument("--articles", type=int, default=10_000, help="knowledge-base articles")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs of each")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL database to WIPE and use")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql", "postgres:")):
        parser.error("the benchmark seeds with generate_series: give a PostgreSQL --database-url")
    if args.tickets < 100 or args.agents < 1:
        parser.error("at least 100 tickets and one agent")
    policy.install(policy.Policy())
    crypto.install(Fernet.generate_key())
    fresh_database(args.database_url)
    print(f"database: {args.database_url}")
    run(measure(args.database_url, args))


if __name__ == "__main__":
    main()
