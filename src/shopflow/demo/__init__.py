"""The demo store (`shopflow demo`): a department that has been trading for four weeks, with a
year of history before them (`year`, written as an import of the store's past would be).

Its history is made by the real use cases under a simulated clock (`history`), following a plan
(`plan`): orders in every state, carriers with their rules, parcels with their tracking events,
clocks met but for a realistic handful. Loading it tells no customer anything: the notices its
history queued in the outbox are marked as handled when they happened, so the worker sends none.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow import wiring
from shopflow.core import alerts, clock, sla
from shopflow.core.db import Database
from shopflow.core.events import OutboxEvent
from shopflow.demo import (
    campaigns,
    cases,
    coupons,
    kb,
    leads,
    plan,
    purchasing,
    quotes,
    risk,
    stock,
    tickets,
    traffic,
    year,
)
from shopflow.demo.history import Replay, every
from shopflow.demo.store import RULES, set_up
from shopflow.inventory import service as inventory
from shopflow.orders.service import queries

ADMIN = "admin"
MIN_ORDERS = plan.MIN_ORDERS


@dataclass(frozen=True, slots=True)
class Summary:
    orders: dict[str, int]  # per state
    carriers: int
    rules: int
    late: dict[str, int]  # clocks late now, per kind
    alerts: int  # raised while loading
    cases: int  # after-sales cases opened (ASV)
    history: int  # orders of the year before the four weeks


async def load(db: Database, order_count: int, progress_to: Console, seed: int = 7) -> Summary | None:
    """Load the demo store unless the store has warehouses already (then None). The progress
    bar, on `progress_to`, counts the simulated days."""
    wiring.connect()  # as the app: orders find their customers, refunds settle their cases
    async with db.transaction() as session:
        if await inventory.list_warehouses(session):
            return None
    rng = random.Random(seed)
    now = clock.now()
    start = now - plan.HISTORY
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=progress_to) as progress:
        past = progress.add_task("demo store: a year of history", total=year.DAYS)
        days = progress.add_task("demo store: days of trading", total=plan.HISTORY.days)
        with clock.use(clock.FakeClock(start - timedelta(days=1))):  # set up the day before opening
            async with db.transaction() as session:
                queued_before = await session.scalar(select(func.max(OutboxEvent.id))) or 0
                store = await set_up(session, rng)
                await coupons.open_offers(session, start, now)
            async with db.transaction() as session:
                history = await year.write_year(
                    session,
                    random.Random(seed + 1),  # the weeks of trading draw from `rng` as before
                    start.astimezone(clock.store_zone()).date(),
                    store.skus,
                    lambda done: progress.update(past, completed=done),
                )
        replay = Replay(rng, store, now)
        for fate in plan.plan(rng, order_count, now, store.plentiful, store.scarce):
            replay.at(fate.placed, replay.place(fate))
        for at in every(start, now - plan.LAST_WAVE, plan.WAVE_EVERY):
            replay.at(at, replay.wave)
        for at in every(start, now - plan.QUIET_END, plan.SWEEP_EVERY):
            replay.at(at, replay.sweep)
        await replay.run(db, start, lambda at: progress.update(days, completed=(at - start).days))
        progress.update(days, completed=plan.HISTORY.days)
    desk_opens = now - plan.CASES_BEFORE
    with clock.use(clock.FakeClock(desk_opens)):
        async with db.transaction() as session:
            opened = await cases.open_desk(session, desk_opens)
    async with db.transaction() as session:
        await leads.open_desk(session, now)
        await traffic.count_days(session, rng, clock.today())
        await quotes.open_book(session, now)
    async with db.transaction() as session:
        await tickets.open_desk(session, now)
    with clock.use(clock.FakeClock(now)):
        async with db.transaction() as session:
            await kb.write(session)
    async with db.transaction() as session:
        await tickets.care_for_customers(session, now)
    with clock.use(clock.FakeClock(now)):
        async with db.transaction() as session:
            await campaigns.open_campaigns(session, store, start, now)
    async with db.transaction() as session:
        await risk.open_review_desk(session, store, now)  # RSK-2: orders held for review
    async with db.transaction() as session:
        await purchasing.open_desk(session, rng, store, now)  # INV-5: suppliers, POs, the forecast
        await stock.open_stock_desk(session, store, now)  # INV-6, INV-7: counts and transfers
    async with db.transaction() as session:
        await _mark_handled(session, queued_before)
        return await _summary(session, len(store.carriers), opened, history)


async def _mark_handled(session: AsyncSession, queued_before: int) -> None:
    """The history's outbox events (ORD-8) were handled when they happened: the worker sends none."""
    stmt = (
        update(OutboxEvent)
        .where(OutboxEvent.id > queued_before, OutboxEvent.delivered_at.is_(None))
        .values(delivered_at=OutboxEvent.created_at)
    )
    await session.execute(stmt)


async def _summary(session: AsyncSession, carriers: int, opened: int, history: int) -> Summary:
    _, raised = await alerts.page(session, alerts.AlertFilter(), 0, 1)
    return Summary(
        orders=await queries.status_counts(session),
        carriers=carriers,
        rules=len(RULES),
        late=await sla.late_by_kind(session, clock.now()),
        alerts=raised,
        cases=opened,
        history=history,
    )
