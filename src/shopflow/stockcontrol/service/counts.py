"""INV-6: cycle counts. A count starts with a snapshot of on-hand per SKU; each keyed line records
the on-hand of that moment as its expected quantity beside the counted one; after approval (a
manager's when a variance is large) posting adds each variance (counted - expected) to on-hand
through the ledger. Sales go on meanwhile: what shipped or arrived after a line was keyed is in
on-hand already and stays there, and a post never leaves on-hand below reserved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core import audit, clock, events, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import Conflict, FieldError, Invalid
from shopflow.core.roles import Role
from shopflow.inventory import service as inventory
from shopflow.inventory.errors import BelowReserved
from shopflow.inventory.models import REFERENCE_LENGTH, Movement, Warehouse
from shopflow.orders.service import queries as orders
from shopflow.stockcontrol import repository
from shopflow.stockcontrol.errors import CountIncomplete, CountNotFound, ManagerRequired
from shopflow.stockcontrol.models import (
    AbcClass,
    CountKind,
    CountLine,
    CountState,
    StockCount,
    abc_classes,
    due_for_count,
    large_variance,
)
from shopflow.stockcontrol.schemas import CountIn, CountLinesIn
from shopflow.stockcontrol.service.common import skus_named, warehouse_named, warehouses

MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})  # who may approve a large variance (INV-6)
# Periods of the worker's counts are numbered in days from a Monday, so weekly ones start on one.
EPOCH = datetime(1970, 1, 5).date()


@dataclass(frozen=True, slots=True)
class CountView:
    count: StockCount
    warehouse: Warehouse


def line_needs_manager(line: CountLine) -> bool:
    rules = policy.current().inventory
    variance = line.variance
    return variance is not None and large_variance(
        variance, line.expected or 0, rules.count_manager_units, rules.count_manager_share
    )


async def units_sold(session: AsyncSession, now: datetime) -> dict[int, int]:
    """Units paid for per SKU id over the policy's ABC window up to `now` (INV-6's classes)."""
    since = now - timedelta(days=policy.current().inventory.abc_window_days)
    sold: dict[int, int] = {}
    for (sku, _), units in (await orders.units_paid_by_province(session, since)).items():
        sold[sku] = sold.get(sku, 0) + units
    return sold


async def due_skus(
    session: AsyncSession, warehouse_id: int, sold: dict[int, int], now: datetime
) -> list[int]:
    """The SKUs stocked in the warehouse whose ABC class (by `sold`, `units_sold`) interval has
    passed since they were last counted (INV-6: A weekly, B monthly, C quarterly by default)."""
    rules = policy.current().inventory
    stocked = await inventory.stocked_skus(session, warehouse_id)
    classes = abc_classes(sold, stocked, rules.abc_a_share, rules.abc_b_share)
    every = {
        AbcClass.A: rules.count_a_every_days,
        AbcClass.B: rules.count_b_every_days,
        AbcClass.C: rules.count_c_every_days,
    }
    return due_for_count(classes, await repository.last_counted(session, warehouse_id), every, now)


async def _open(
    session: AsyncSession,
    actor: Actor,
    warehouse: Warehouse,
    kind: CountKind,
    sku_ids: list[int],
    period: str | None,
) -> StockCount:
    at = clock.now()
    on_hand = await inventory.on_hand_in(session, warehouse.id, sku_ids)
    codes = await catalog.skus_by_ids(session, sku_ids)
    count = StockCount(
        warehouse_id=warehouse.id,
        kind=kind,
        state=CountState.OPEN,
        period=period,
        needs_manager=False,
        created_by=actor.user_id,
        created_at=at,
    )
    session.add(count)
    await session.flush()
    session.add_all(
        CountLine(count_id=count.id, sku_id=sku, sku_code=codes[sku].code, snapshot=on_hand[sku])
        for sku in sorted(sku_ids)
    )
    await session.flush()
    after = {"warehouse": warehouse.code, "kind": kind, "period": period, "lines": len(sku_ids)}
    await audit.record(session, audit.row(actor, "count.started", "count", count.id, None, after, at))
    return count


async def start(session: AsyncSession, actor: Actor, data: CountIn) -> CountView:
    """A count of `data.skus` (or, partial, of those due; full, of every SKU stocked there)."""
    errors: list[FieldError] = []
    known = await warehouses(session)
    warehouse = warehouse_named(known, data.warehouse, "warehouse", errors)
    named = await skus_named(session, data.skus or [], "skus[{i}]", errors)
    if errors:
        raise Invalid("the count has errors; nothing was started", errors=errors)
    assert warehouse is not None
    if data.skus:
        sku_ids = sorted({named[code].id for code in data.skus})
    elif data.kind is CountKind.FULL:
        sku_ids = await inventory.stocked_skus(session, warehouse.id)
    else:
        now = clock.now()
        sku_ids = await due_skus(session, warehouse.id, await units_sold(session, now), now)
    if not sku_ids:
        raise Invalid("nothing to count", errors=[FieldError("skus", f"no SKU is due in {warehouse.code}")])
    count = await _open(session, actor, warehouse, data.kind, sku_ids, None)
    return await get(session, count.id)


async def get(session: AsyncSession, count_id: int, *, lock: bool = False) -> CountView:
    count = await repository.count_by_id(session, count_id, lock=lock)
    if count is None:
        raise CountNotFound(f"no count {count_id}")
    return CountView(count, (await warehouses(session))[count.warehouse_id])


async def page(
    session: AsyncSession, state: CountState | None, offset: int, limit: int
) -> tuple[list[CountView], int]:
    found, total = await repository.counts_page(session, state, offset, limit)
    known = await warehouses(session)
    return [CountView(count, known[count.warehouse_id]) for count in found], total


async def key(session: AsyncSession, actor: Actor, count_id: int, data: CountLinesIn) -> CountView:
    """Counted quantities keyed in (again, while the count is open); each line's expected
    quantity is the on-hand at this moment (INV-6: what sold meanwhile is accounted for)."""
    view = await get(session, count_id, lock=True)
    count = view.count
    if count.state != CountState.OPEN:
        raise Conflict(
            f"count {count.id} is {count.state}; only an open count is keyed", code="count_not_open"
        )
    lines = {line.sku_code: line for line in count.lines}
    errors = [
        FieldError(f"lines[{i}].sku", f"{typed.sku!r} is not on this count")
        for i, typed in enumerate(data.lines)
        if typed.sku not in lines
    ]
    if errors:
        raise Invalid("the count lines have errors; nothing was keyed", errors=errors)
    keyed = [lines[typed.sku] for typed in data.lines]
    on_hand = await inventory.on_hand_in(session, view.warehouse.id, [line.sku_id for line in keyed])
    at = clock.now()
    for typed, line in zip(data.lines, keyed, strict=True):
        line.counted, line.expected = typed.counted, on_hand[line.sku_id]
        line.counted_by, line.counted_at = actor.user_id, at
    await session.flush()
    after = {
        "lines": [
            {"sku": line.sku_code, "expected": line.expected, "counted": line.counted} for line in keyed
        ]
    }
    await audit.record(session, audit.row(actor, "count.keyed", "count", count.id, None, after, at))
    return view


async def approve(session: AsyncSession, actor: Actor, count_id: int) -> CountView:
    """Every line counted, the variances accepted; a large one (policy) by a manager only."""
    view = await get(session, count_id, lock=True)
    count = view.count
    count.check(CountState.APPROVED)
    missing = [line.sku_code for line in count.lines if line.counted is None]
    if missing:
        raise CountIncomplete(
            f"{len(missing)} lines are not counted yet",
            errors=[FieldError("lines", f"not counted: {', '.join(missing[:20])}")],
        )
    large = [line.sku_code for line in count.lines if line_needs_manager(line)]
    if large and actor.role not in MANAGERS:
        raise ManagerRequired(f"variances of {', '.join(large[:20])} are large; a manager must approve them")
    at = clock.now()
    count.move_to(CountState.APPROVED)
    count.needs_manager, count.approved_by, count.approved_at = bool(large), actor.user_id, at
    await session.flush()
    after = {"state": count.state, "large": large}
    await audit.record(session, audit.row(actor, "count.approved", "count", count.id, None, after, at))
    return view


async def post(session: AsyncSession, actor: Actor, count_id: int, reason: str) -> CountView:
    """The approved variances into the ledger (kind `count`, the reason in its reference), by one
    conditional UPDATE that never leaves on-hand below reserved (BelowReserved: nothing posted)."""
    view = await get(session, count_id, lock=True)
    count = view.count
    count.check(CountState.POSTED)
    variances = {line.sku_id: line.variance or 0 for line in count.lines}
    reference = f"count:{count.id}:{reason}"[:REFERENCE_LENGTH]
    try:
        await inventory.shift_stock(session, actor, view.warehouse.id, variances, Movement.COUNT, reference)
    except BelowReserved as exc:
        codes = {line.sku_id: line.sku_code for line in count.lines}
        short = [codes[sku] for sku in exc.sku_ids]
        raise BelowReserved(
            f"on hand of {', '.join(short)} would fall below its reserved units; nothing was posted",
            exc.sku_ids,
            errors=[FieldError("lines", f"{code}: would fall below reserved") for code in short],
        ) from None
    at = clock.now()
    count.move_to(CountState.POSTED)
    count.reason, count.posted_by, count.posted_at = reason, actor.user_id, at
    await session.flush()
    posted = {line.sku_code: line.variance for line in count.lines if line.variance}
    after = {"state": count.state, "reason": reason, "variances": posted}
    await audit.record(session, audit.row(actor, "count.posted", "count", count.id, None, after, at))
    payload = {"count": count.id, "warehouse": view.warehouse.code, "variances": posted}
    await events.record(session, "count.posted", f"count:{count.id}", payload)
    return view


def period_of(kind: CountKind, now: datetime) -> str:
    """The worker's period of a count of `kind` on `today`: weekly or monthly by the policy's
    `partial_count_every_days` and `full_count_every_days`, numbered from EPOCH."""
    rules = policy.current().inventory
    every = rules.partial_count_every_days if kind is CountKind.PARTIAL else rules.full_count_every_days
    index = (now.date() - EPOCH).days // every
    start = EPOCH + timedelta(days=index * every)
    return f"{kind}:{start.isoformat()}"


async def schedule(session: AsyncSession, actor: Actor) -> int:
    """INV-6, the worker's sweep: in each active warehouse, one partial count of the SKUs due per
    period (weekly) and one full count per period (monthly); how many it started. A warehouse with
    nothing to count gets nothing; a period already scheduled (by another worker too) is left.
    The units sold are read once a sweep, and only when a partial count is still to schedule."""
    now = clock.now()
    periods = {kind: period_of(kind, now) for kind in CountKind}
    taken = await repository.scheduled_periods(session, list(periods.values()))
    sold: dict[int, int] | None = None
    started = 0
    for warehouse in (await warehouses(session)).values():
        if not warehouse.active:
            continue
        for kind, period in periods.items():
            if (warehouse.id, kind, period) in taken:
                continue
            if kind is CountKind.FULL:
                sku_ids = await inventory.stocked_skus(session, warehouse.id)
            else:
                sold = await units_sold(session, now) if sold is None else sold
                sku_ids = await due_skus(session, warehouse.id, sold, now)
            if not sku_ids:
                continue
            try:
                async with session.begin_nested():
                    await _open(session, actor, warehouse, kind, sku_ids, period)
            except IntegrityError:  # another worker scheduled it first
                continue
            started += 1
    return started
