"""Every query of the risk domain. Intake's facts (velocity counters, blocklist, the customer's
profile and history) are read by one statement (`intake_facts`); on PostgreSQL the velocity
counters are upserted by the same statement."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    ScalarSelect,
    delete,
    func,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import crypto
from shopflow.core.db import driver_connection, insert_for
from shopflow.crm.models import Customer
from shopflow.orders.models import Order, OrderStatus
from shopflow.risk.models import (
    BlockEntry,
    CounterKind,
    ReviewState,
    RiskCounter,
    RiskReview,
    RiskRule,
    RiskScore,
)

# A customer's orders that count as a clean completed history (the blocklist's exemption).
COMPLETED = (OrderStatus.COMPLETED, OrderStatus.CLOSED)


async def current_rules(session: AsyncSession) -> list[RiskRule]:
    """The latest version of every rule that has rows (and of the thresholds)."""
    latest = select(func.max(RiskRule.id)).group_by(RiskRule.code)
    return list((await session.scalars(select(RiskRule).where(RiskRule.id.in_(latest)))).all())


async def rule_versions(session: AsyncSession, code: str) -> list[RiskRule]:
    stmt = select(RiskRule).where(RiskRule.code == code).order_by(RiskRule.version.desc())
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True, slots=True)
class Counted:
    """A velocity counter to read over its window (`since`) and count this order in (`minute`)."""

    kind: CounterKind
    key: str
    since: datetime


@dataclass(frozen=True, slots=True)
class Facts:
    counts: dict[CounterKind, int]  # before this order
    blocked: tuple[str, ...]  # the kinds found on the blocklist
    profile: dict[str, Any] | None  # the customer's personal data (None: no customer)
    earlier_orders: bool  # the customer placed an order before this one
    completed: int  # the customer's completed orders, counted up to the exemption's number


def _counted_sum(counted: Counted) -> ScalarSelect[Any]:
    return (
        select(func.coalesce(func.sum(RiskCounter.count), 0))
        .where(
            RiskCounter.kind == counted.kind,
            RiskCounter.key == counted.key,
            RiskCounter.minute >= counted.since,
        )
        .scalar_subquery()
    )


def _blocked(kind: str, value_key: str, at: datetime) -> ColumnElement[bool]:
    return (
        select(BlockEntry.id)
        .where(
            BlockEntry.kind == kind,
            BlockEntry.value_key == value_key,
            BlockEntry.removed_at.is_(None),
            BlockEntry.expires_at > at,
        )
        .exists()
    )


@lru_cache(maxsize=64)
def _facts_pg(counters: int, blocks: int, customer: bool) -> str:
    """`intake_facts` on PostgreSQL for `counters` counters (at least one), `blocks` values and,
    if `customer`, the customer's facts: one statement whose CTE upserts the counters (its
    subqueries read the rows as they were before it). Parameters: $1 the minute, $2 now, then
    kind, key, since of each counter, kind, key of each value, then the customer, the order and
    the completed orders' limit."""
    sums, rows = [], []
    for i in range(counters):
        kind, key, since = (f"${3 + 3 * i + n}" for n in range(3))
        sums.append(
            f"(SELECT coalesce(sum(count), 0) FROM risk_counters"
            f" WHERE kind = {kind} AND key = {key} AND minute >= {since}) AS n{i}"
        )
        rows.append(f"({kind}, {key}, $1, 1)")
    first = 3 + 3 * counters
    found = [
        f"EXISTS (SELECT 1 FROM risk_blocks WHERE kind = ${first + 2 * i}"
        f" AND value_key = ${first + 2 * i + 1} AND removed_at IS NULL AND expires_at > $2) AS b{i}"
        for i in range(blocks)
    ]
    facts = []
    if customer:
        c, o, limit = (f"${first + 2 * blocks + n}" for n in range(3))
        done = ", ".join(f"'{status}'" for status in COMPLETED)
        facts = [
            f"(SELECT personal FROM customers WHERE id = {c}) AS profile",
            f"(SELECT secret FROM customers WHERE id = {c}) AS profile_secret",
            f"EXISTS (SELECT 1 FROM orders WHERE customer_id = {c} AND id <> {o}) AS earlier",
            f"(SELECT count(*) FROM (SELECT 1 FROM orders WHERE customer_id = {c} AND status IN ({done})"
            f" LIMIT {limit}) d) AS done",
        ]
    return (
        f"WITH upserted AS (INSERT INTO risk_counters (kind, key, minute, count) VALUES {', '.join(rows)}"
        " ON CONFLICT (kind, key, minute) DO UPDATE SET count = risk_counters.count + 1 RETURNING 1) "
        f"SELECT {', '.join([*sums, *found, *facts, '(SELECT count(*) FROM upserted) AS upserted'])}"
    )


def _upsert(session: AsyncSession, counted: Sequence[Counted], minute: datetime) -> Any:
    rows = [{"kind": c.kind, "key": c.key, "minute": minute, "count": 1} for c in counted]
    stmt = insert_for(session, RiskCounter).values(rows)
    return stmt.on_conflict_do_update(
        index_elements=["kind", "key", "minute"], set_={"count": RiskCounter.count + stmt.excluded.count}
    )


async def intake_facts(
    session: AsyncSession,
    *,
    counted: Sequence[Counted],
    minute: datetime,
    blocks: Sequence[tuple[str, str]],
    customer_id: int | None,
    order_id: int,
    completed_enough: int,
    at: datetime,
) -> Facts:
    """RSK-1's facts of a new order in one statement: each velocity counter's sum over its window
    (before this order), which of `blocks` (kind, value key) are blocked, and the customer's
    profile, earlier orders and completed orders (up to `completed_enough`). Every counter of
    `counted` is then counted for this order at `minute`: on PostgreSQL by the same statement,
    sent through the driver (a measured hot path: SQLAlchemy compiles this statement anew each
    time); elsewhere by SQLAlchemy, and a second statement."""
    driver = await driver_connection(session)
    if driver is not None:
        parameters: list[Any] = [minute, at]
        for c in counted:
            parameters += [c.kind.value, c.key, c.since]
        for kind, key in blocks:
            parameters += [kind, key]
        if customer_id is not None:
            parameters += [customer_id, order_id, completed_enough]
        sql = _facts_pg(len(counted), len(blocks), customer_id is not None)
        row: Mapping[str, Any] = await driver.fetchrow(sql, *parameters)
        return _facts(row, counted, blocks, _profile(row) if customer_id is not None else None)
    columns: list[Any] = [_counted_sum(c).label(f"n{i}") for i, c in enumerate(counted)]
    columns += [_blocked(kind, key, at).label(f"b{i}") for i, (kind, key) in enumerate(blocks)]
    if customer_id is not None:
        done = select(Order.id).where(Order.customer_id == customer_id, Order.status.in_(COMPLETED))
        columns += [
            # Sealed with the customer's own key: read as stored, opened with their secret.
            select(type_coerce(Customer.personal, LargeBinary))
            .where(Customer.id == customer_id)
            .scalar_subquery()
            .label("profile"),
            select(Customer.secret)
            .where(Customer.id == customer_id)
            .scalar_subquery()
            .label("profile_secret"),
            select(Order.id)
            .where(Order.customer_id == customer_id, Order.id != order_id)
            .exists()
            .label("earlier"),
            select(func.count())
            .select_from(done.limit(completed_enough).subquery())
            .scalar_subquery()
            .label("done"),
        ]
    columns.append(literal(1).label("one"))
    found = (await session.execute(select(*columns))).one()._mapping
    if counted:
        await session.execute(_upsert(session, counted, minute))
    return _facts(found, counted, blocks, _profile(found) if customer_id is not None else None)


def _profile(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The customer's profile, opened with their own key (`core.crypto`)."""
    sealed = row["profile"]
    return None if sealed is None else crypto.vault().open_for(row["profile_secret"], bytes(sealed))


def _facts(
    row: Mapping[str, Any],
    counted: Sequence[Counted],
    blocks: Sequence[tuple[str, str]],
    profile: dict[str, Any] | None,
) -> Facts:
    known = "earlier" in row
    return Facts(
        counts={c.kind: int(row[f"n{i}"]) for i, c in enumerate(counted)},
        blocked=tuple(dict.fromkeys(kind for i, (kind, _) in enumerate(blocks) if row[f"b{i}"])),
        profile=profile,
        earlier_orders=bool(row["earlier"]) if known else False,
        completed=int(row["done"] or 0) if known else 0,
    )


async def delete_counters_before(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(RiskCounter).where(RiskCounter.minute < before))
    return int(result.rowcount)


async def scores_of(session: AsyncSession, order_id: int) -> list[RiskScore]:
    stmt = select(RiskScore).where(RiskScore.order_id == order_id).order_by(RiskScore.id)
    return list((await session.scalars(stmt)).all())


async def score_of(session: AsyncSession, order_id: int, stage: str) -> RiskScore | None:
    stmt = select(RiskScore).where(RiskScore.order_id == order_id, RiskScore.stage == stage)
    return (await session.scalars(stmt)).first()


async def scores_of_orders(session: AsyncSession, order_ids: Collection[int]) -> dict[int, RiskScore]:
    stmt = select(RiskScore).where(RiskScore.order_id.in_(sorted(order_ids))).order_by(RiskScore.id)
    return {score.order_id: score for score in (await session.scalars(stmt)).all()}


async def review_of(session: AsyncSession, order_id: int, *, lock: bool = False) -> RiskReview | None:
    stmt = select(RiskReview).where(RiskReview.order_id == order_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


def _queue_conditions(state: ReviewState | None) -> list[ColumnElement[bool]]:
    """An open review counts only while its order is still held: a held order cancelled by other
    means (ORD-3: it can always be cancelled) leaves the queue."""
    if state is None:
        return []
    if state is ReviewState.OPEN:
        return [RiskReview.state == state, Order.status == OrderStatus.ON_HOLD]
    return [RiskReview.state == state]


async def queue_page(
    session: AsyncSession, state: ReviewState | None, offset: int, limit: int
) -> tuple[list[tuple[RiskReview, Order]], int]:
    """Reviews in `state` with their orders, the oldest first (RSK-2), and how many there are."""
    conditions = _queue_conditions(state)
    joined = select(RiskReview, Order).join(Order, Order.id == RiskReview.order_id).where(*conditions)
    total = await session.scalar(
        select(func.count())
        .select_from(RiskReview)
        .join(Order, Order.id == RiskReview.order_id)
        .where(*conditions)
    )
    stmt = joined.order_by(RiskReview.opened_at, RiskReview.id).offset(offset).limit(limit)
    rows = [(review, order) for review, order in (await session.execute(stmt)).all()]
    return rows, int(total or 0)


async def total_at_quantile(
    session: AsyncSession, since: datetime, quantile: float, least: int
) -> int | None:
    """The order total below which `quantile` of the orders placed since `since` lie (the first
    order value rule's usual most, RSK-1); None with fewer than `least` such orders."""
    placed = Order.created_at >= since
    count = int(await session.scalar(select(func.count()).select_from(Order).where(placed)) or 0)
    if count < least:
        return None
    stmt = select(Order.total).where(placed).order_by(Order.total)
    return await session.scalar(stmt.offset(int(quantile * (count - 1))).limit(1))


async def similar_orders(session: AsyncSession, order: Order, days: int, limit: int) -> list[Order]:
    """Other buyers' orders from the order's IP address within `days` of it (the review page's
    similar orders, RSK-2), the latest first; none for an order without an IP."""
    if order.buyer_ip is None:
        return []
    near = timedelta(days=days)
    stmt = select(Order).where(
        Order.created_at.between(order.created_at - near, order.created_at + near),
        Order.buyer_ip == order.buyer_ip,
        Order.id != order.id,
    )
    if order.customer_id is not None:
        stmt = stmt.where(or_(Order.customer_id.is_(None), Order.customer_id != order.customer_id))
    return list((await session.scalars(stmt.order_by(Order.id.desc()).limit(limit))).all())


async def customer_orders(session: AsyncSession, customer_id: int, limit: int) -> list[Order]:
    """The customer's latest orders (the review page's history)."""
    stmt = select(Order).where(Order.customer_id == customer_id).order_by(Order.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def set_assignee(session: AsyncSession, order_id: int, assignee_id: int | None) -> int:
    stmt = update(RiskReview).where(RiskReview.order_id == order_id).values(assignee_id=assignee_id)
    return int((await session.execute(stmt)).rowcount)


async def shadow_holds(session: AsyncSession, since: datetime, limit: int) -> list[RiskScore]:
    """Scores since `since` that passed but that the shadow rules would have held (RSK-1)."""
    stmt = (
        select(RiskScore)
        .where(
            RiskScore.shadow_score > 0,  # the partial index's condition (ix_risk_scores_shadow)
            RiskScore.created_at >= since,
            RiskScore.decision == "pass",
            RiskScore.shadow_decision != "pass",
        )
        .order_by(RiskScore.created_at.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def shadow_counts(session: AsyncSession, since: datetime) -> dict[str, int]:
    """How many orders each shadow rule scored since `since`, read from the scores' reasons."""
    counts: dict[str, int] = {}
    stmt = select(RiskScore.reasons).where(RiskScore.created_at >= since, RiskScore.shadow_score > 0)
    for reasons in (await session.scalars(stmt)).all():
        for reason in reasons:
            if reason.get("mode") == "shadow":
                counts[reason["rule"]] = counts.get(reason["rule"], 0) + 1
    return counts


async def block_page(
    session: AsyncSession, at: datetime, kind: str | None, offset: int, limit: int
) -> tuple[list[BlockEntry], int]:
    """Entries in force at `at` (not removed, not expired), the newest first."""
    conditions = [BlockEntry.removed_at.is_(None), BlockEntry.expires_at > at]
    if kind is not None:
        conditions.append(BlockEntry.kind == kind)
    total = await session.scalar(select(func.count()).select_from(BlockEntry).where(*conditions))
    stmt = select(BlockEntry).where(*conditions).order_by(BlockEntry.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def block(session: AsyncSession, block_id: int, *, lock: bool = False) -> BlockEntry | None:
    stmt = select(BlockEntry).where(BlockEntry.id == block_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def block_in_force(session: AsyncSession, kind: str, value_key: str, at: datetime) -> BlockEntry | None:
    stmt = select(BlockEntry).where(
        BlockEntry.kind == kind,
        BlockEntry.value_key == value_key,
        BlockEntry.removed_at.is_(None),
        BlockEntry.expires_at > at,
    )
    return (await session.scalars(stmt)).first()
