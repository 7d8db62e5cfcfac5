"""Every query of the fulfillment domain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import bindparam, case, delete, exists, func, insert, or_, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, selectinload

from shopflow.core.db import (
    Base,
    committed,
    driver_connection,
    fresh,
    insert_for,
    loaded,
    placeholders,
    update_if,
)
from shopflow.fulfillment.models import (
    Carrier,
    CarrierFigures,
    CarrierRule,
    CaseState,
    ExceptionKind,
    FreightBill,
    FreightBillLine,
    PickTask,
    PickTaskLine,
    Shipment,
    ShipmentException,
    TaskStatus,
    TrackingEvent,
    Wave,
    WaveStatus,
)

M = TypeVar("M", bound=Base)

# Waybills per query when matching a bill: far below every driver's limit of parameters.
BILL_CHUNK = 1000

# --- waves and tasks ---------------------------------------------------------------------------

# PostgreSQL statements for the driver (core.db.driver_connection) on the pack, check and ship path.
ORDER_OF_TASK_PG = "SELECT order_id FROM pick_tasks WHERE id = $1"
TASK_COLUMNS = ", ".join(c.name for c in PickTask.__table__.columns)
LOCK_TASK_PG = f"SELECT {TASK_COLUMNS} FROM pick_tasks WHERE id = $1 FOR UPDATE"
TASKS_OF_ORDER_PG = "SELECT id, status FROM pick_tasks WHERE order_id = $1 ORDER BY id"
WAVE_COLUMNS = ", ".join(c.name for c in Wave.__table__.columns)
LOCK_WAVE_PG = f"SELECT {WAVE_COLUMNS} FROM waves WHERE id = $1 FOR UPDATE"
UNSHIPPED_IN_WAVE_PG = "SELECT count(*) FROM pick_tasks WHERE wave_id = $1 AND status <> $2"


async def insert_wave(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """None when the wave number is taken."""
    stmt = insert_for(session, Wave).values(values).on_conflict_do_nothing().returning(Wave.id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert_tasks(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Ids of the new tasks, in the order of `rows`."""
    stmt = insert(PickTask).returning(PickTask.id, sort_by_parameter_order=True)
    return list((await session.scalars(stmt, rows)).all())


async def insert_task_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(PickTaskLine), rows)


async def get_wave(session: AsyncSession, wave_id: int, *, lock: bool = False) -> Wave | None:
    """With `lock`, the wave locked and read afresh; on PostgreSQL the session's instance when the
    session holds one, else an instance outside the session (`db.fresh`): the caller writes its
    changes with `save_wave`."""
    if lock and (driver := await driver_connection(session)) is not None:
        row = await driver.fetchrow(LOCK_WAVE_PG, wave_id)
        return None if row is None else fresh(session, Wave, dict(row))
    stmt = select(Wave).where(Wave.id == wave_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def save_wave(session: AsyncSession, wave: Wave, previous: str, *names: str) -> None:
    """Write the wave's changed `names` by one UPDATE conditional on the status it had (`previous`)."""
    if await update_if(session, Wave, wave.id, ("status", previous), committed(wave, names)) != 1:
        raise RuntimeError(f"wave {wave.id} changed status under its lock")


async def page_waves(
    session: AsyncSession, status: WaveStatus | None, warehouse_id: int | None, offset: int, limit: int
) -> tuple[list[Wave], int]:
    conditions = []
    if status is not None:
        conditions.append(Wave.status == status)
    if warehouse_id is not None:
        conditions.append(Wave.warehouse_id == warehouse_id)
    total = await session.scalar(select(func.count()).select_from(Wave).where(*conditions))
    stmt = select(Wave).where(*conditions).order_by(Wave.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def tasks_of_wave(session: AsyncSession, wave_id: int) -> list[PickTask]:
    stmt = (
        select(PickTask)
        .options(selectinload(PickTask.lines))
        .where(PickTask.wave_id == wave_id)
        .order_by(PickTask.id)
    )
    return list((await session.scalars(stmt)).all())


async def get_task(session: AsyncSession, task_id: int) -> PickTask | None:
    stmt = select(PickTask).options(selectinload(PickTask.lines)).where(PickTask.id == task_id)
    return (await session.scalars(stmt)).first()


async def order_of_task(session: AsyncSession, task_id: int) -> int | None:
    driver = await driver_connection(session)
    if driver is not None:
        order_id: int | None = await driver.fetchval(ORDER_OF_TASK_PG, task_id)
        return order_id
    return await session.scalar(select(PickTask.order_id).where(PickTask.id == task_id))


async def lock_task(session: AsyncSession, task_id: int) -> PickTask:
    """The task, locked and read afresh (without its lines). On PostgreSQL it is the session's
    instance when the session holds one, else an instance outside the session (`db.fresh`):
    the caller writes its changes with `save_task`."""
    driver = await driver_connection(session)
    if driver is not None:
        row = await driver.fetchrow(LOCK_TASK_PG, task_id)
        if row is None:
            raise NoResultFound(f"no pick task {task_id}")
        return fresh(session, PickTask, dict(row))
    stmt = (
        select(PickTask)
        .where(PickTask.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one()


async def save_task(session: AsyncSession, task: PickTask, previous: str, *names: str) -> None:
    """Write the task's changed `names` by one UPDATE conditional on the status it had (`previous`)."""
    if await update_if(session, PickTask, task.id, ("status", previous), committed(task, names)) != 1:
        raise RuntimeError(f"pick task {task.id} changed status under its lock")


async def tasks_of_order(session: AsyncSession, order_id: int) -> list[tuple[int, str]]:
    """(id, status) of each of the order's tasks, by id."""
    driver = await driver_connection(session)
    if driver is not None:
        return [(row[0], row[1]) for row in await driver.fetch(TASKS_OF_ORDER_PG, order_id)]
    stmt = select(PickTask.id, PickTask.status).where(PickTask.order_id == order_id).order_by(PickTask.id)
    return [(row.id, row.status) for row in (await session.execute(stmt)).all()]


async def order_numbers(session: AsyncSession, task_ids: Iterable[int]) -> dict[int, str]:
    """The order number of each task."""
    stmt = select(PickTask.id, PickTask.order_no).where(PickTask.id.in_(list(task_ids)))
    return {row.id: row.order_no for row in (await session.execute(stmt)).all()}


async def task_counts(session: AsyncSession, wave_ids: Sequence[int]) -> dict[int, int]:
    if not wave_ids:
        return {}
    stmt = (
        select(PickTask.wave_id, func.count())
        .where(PickTask.wave_id.in_(list(wave_ids)))
        .group_by(PickTask.wave_id)
    )
    return {wave_id: int(n) for wave_id, n in (await session.execute(stmt)).all()}


async def unshipped_in_wave(session: AsyncSession, wave_id: int) -> int:
    driver = await driver_connection(session)
    if driver is not None:
        return int(await driver.fetchval(UNSHIPPED_IN_WAVE_PG, wave_id, TaskStatus.SHIPPED))
    stmt = select(func.count()).where(PickTask.wave_id == wave_id, PickTask.status != TaskStatus.SHIPPED)
    return int(await session.scalar(stmt) or 0)


# --- carriers and rules ------------------------------------------------------------------------


async def carrier_by_code(session: AsyncSession, code: str) -> Carrier | None:
    return await session.scalar(select(Carrier).where(Carrier.code == code))


async def carriers_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, Carrier]:
    found = await session.scalars(select(Carrier).where(Carrier.id.in_(list(ids))))
    return {c.id: c for c in found}


async def list_carriers(session: AsyncSession) -> list[Carrier]:
    return list((await session.scalars(select(Carrier).order_by(Carrier.id))).all())


async def count_active_carriers(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(Carrier.active.is_(True))) or 0)


CARRIER_SHOWN = [c.name for c in Carrier.__table__.columns if c.name != "push_secret"]
RULE_COLUMNS = [c.name for c in CarrierRule.__table__.columns]
RULES_WITH_CARRIERS_PG = (
    f"SELECT {', '.join(f'r.{name}' for name in RULE_COLUMNS)}, {', '.join(f'c.{n}' for n in CARRIER_SHOWN)}"
    " FROM carrier_rules r JOIN carriers c ON c.id = r.carrier_id ORDER BY r.priority, r.id"
)


def _carriers_from(session: AsyncSession, rows: Iterable[Sequence[Any]], first: int) -> dict[int, Carrier]:
    """The carriers in columns `first`… (CARRIER_SHOWN) of driver rows, one instance per carrier."""
    found: dict[int, Carrier] = {}
    for row in rows:
        values = dict(zip(CARRIER_SHOWN, row[first:], strict=True))
        if values["id"] not in found:
            found[values["id"]] = fresh(session, Carrier, values)
    return found


def _leading(
    session: AsyncSession, model: type[M], names: list[str], rows: Iterable[Sequence[Any]]
) -> list[M]:
    """The `model` instances in the leading columns (`names`) of driver rows (`db.fresh`)."""
    return [fresh(session, model, dict(zip(names, row[: len(names)], strict=True))) for row in rows]


async def rules_with_carriers(session: AsyncSession) -> list[tuple[CarrierRule, Carrier]]:
    """The rule table in the order it is read (priority, then age), each rule with its carrier
    (its push secret not decrypted)."""
    driver = await driver_connection(session)
    if driver is not None:
        rows = await driver.fetch(RULES_WITH_CARRIERS_PG)
        carriers = _carriers_from(session, rows, len(RULE_COLUMNS))
        rules = _leading(session, CarrierRule, RULE_COLUMNS, rows)
        return [(rule, carriers[rule.carrier_id]) for rule in rules]
    stmt = (
        select(CarrierRule, Carrier)
        .options(defer(Carrier.push_secret, raiseload=True))
        .join(Carrier, Carrier.id == CarrierRule.carrier_id)
        .order_by(CarrierRule.priority, CarrierRule.id)
    )
    return [(rule, carrier) for rule, carrier in (await session.execute(stmt)).all()]


async def list_rules(session: AsyncSession) -> list[CarrierRule]:
    stmt = select(CarrierRule).order_by(CarrierRule.priority, CarrierRule.id)
    return list((await session.scalars(stmt)).all())


async def get_rule(session: AsyncSession, rule_id: int) -> CarrierRule | None:
    return await session.get(CarrierRule, rule_id)


async def delete_rule(session: AsyncSession, rule_id: int) -> None:
    await session.execute(delete(CarrierRule).where(CarrierRule.id == rule_id))


# --- shipments and tracking --------------------------------------------------------------------


SHIPMENT_GIVEN = [c for c in Shipment.__table__.columns if not c.primary_key]
# As text: SQLAlchemy compiles its ON CONFLICT construct anew at every execution, text only once.
INSERT_SHIPMENT = (
    text(
        f"INSERT INTO shipments ({', '.join(c.name for c in SHIPMENT_GIVEN)})"
        f" VALUES ({', '.join(':' + c.name for c in SHIPMENT_GIVEN)})"
        " ON CONFLICT (tracking_no) DO NOTHING"
        f" RETURNING {', '.join(c.name for c in Shipment.__table__.columns)}"
    )
    .bindparams(*(bindparam(c.name, type_=c.type) for c in SHIPMENT_GIVEN))
    .columns(*Shipment.__table__.columns)
)


INSERT_SHIPMENT_PG = (
    f"INSERT INTO shipments ({', '.join(c.name for c in SHIPMENT_GIVEN)})"
    f" VALUES ({placeholders(1, len(SHIPMENT_GIVEN))})"
    " ON CONFLICT (tracking_no) DO NOTHING RETURNING id"
)


@lru_cache(maxsize=4)
def _shipment_conversions(dialect: Dialect) -> tuple[Callable[[Any], Any] | None, ...]:
    return tuple(c.type.dialect_impl(dialect).bind_processor(dialect) for c in SHIPMENT_GIVEN)


async def insert_shipment(session: AsyncSession, values: dict[str, Any]) -> Shipment | None:
    """The new shipment as stored (outside the session, see `db.loaded`); None when the tracking
    number is taken. Columns `values` leaves out are NULL."""
    parameters = {c.name: values.get(c.name) for c in SHIPMENT_GIVEN}
    driver = await driver_connection(session)
    if driver is not None:
        convert = _shipment_conversions(session.get_bind().dialect)
        given = [v if c is None else c(v) for v, c in zip(parameters.values(), convert, strict=True)]
        shipment_id = await driver.fetchval(INSERT_SHIPMENT_PG, *given)
        return None if shipment_id is None else loaded(Shipment, {"id": shipment_id, **parameters})
    row = (await session.execute(INSERT_SHIPMENT, parameters)).first()
    return None if row is None else loaded(Shipment, row._mapping)


async def get_shipment(session: AsyncSession, shipment_id: int, *, lock: bool = False) -> Shipment | None:
    stmt = select(Shipment).where(Shipment.id == shipment_id)
    if lock:
        # NO KEY UPDATE: rows referring to the shipment (events, cases) may still be inserted.
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def shipments_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, Shipment]:
    found = await session.scalars(select(Shipment).where(Shipment.id.in_(list(ids))))
    return {s.id: s for s in found}


async def shipment_of_task(session: AsyncSession, task_id: int) -> Shipment | None:
    return await session.scalar(select(Shipment).where(Shipment.task_id == task_id))


SHIPMENT_COLUMNS = [c.name for c in Shipment.__table__.columns]
PARCELS_OF_ORDER_PG = (
    f"SELECT {', '.join(f's.{n}' for n in SHIPMENT_COLUMNS)}, {', '.join(f'c.{n}' for n in CARRIER_SHOWN)}"
    " FROM shipments s JOIN carriers c ON c.id = s.carrier_id WHERE s.order_id = $1 ORDER BY s.id"
)


async def parcels_of_order(session: AsyncSession, order_id: int) -> list[tuple[Shipment, Carrier]]:
    """The order's shipments by id, each with its carrier (its push secret not decrypted)."""
    driver = await driver_connection(session)
    if driver is not None:
        rows = await driver.fetch(PARCELS_OF_ORDER_PG, order_id)
        carriers = _carriers_from(session, rows, len(SHIPMENT_COLUMNS))
        shipments = _leading(session, Shipment, SHIPMENT_COLUMNS, rows)
        return [(shipment, carriers[shipment.carrier_id]) for shipment in shipments]
    stmt = (
        select(Shipment, Carrier)
        .options(defer(Carrier.push_secret, raiseload=True))
        .join(Carrier, Carrier.id == Shipment.carrier_id)
        .where(Shipment.order_id == order_id)
        .order_by(Shipment.id)
    )
    return [(shipment, carrier) for shipment, carrier in (await session.execute(stmt)).all()]


async def shipments_of_order(session: AsyncSession, order_id: int) -> list[Shipment]:
    stmt = select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id)
    return list((await session.scalars(stmt)).all())


async def shipments_by_tracking(session: AsyncSession, numbers: Iterable[str]) -> dict[str, Shipment]:
    found = await session.scalars(select(Shipment).where(Shipment.tracking_no.in_(list(numbers))))
    return {s.tracking_no: s for s in found}


async def page_shipments(
    session: AsyncSession,
    order_id: int | None,
    carrier_id: int | None,
    status: str | None,
    offset: int,
    limit: int,
    found: tuple[Sequence[str], Sequence[int]] | None = None,
) -> tuple[list[Shipment], int]:
    """`found`: only the parcels with one of these waybills or of one of these orders (a search)."""
    conditions = []
    if order_id is not None:
        conditions.append(Shipment.order_id == order_id)
    if carrier_id is not None:
        conditions.append(Shipment.carrier_id == carrier_id)
    if status is not None:
        conditions.append(Shipment.status == status)
    if found is not None:
        waybills, order_ids = found
        conditions.append(
            or_(Shipment.tracking_no.in_(list(waybills)), Shipment.order_id.in_(list(order_ids)))
        )
    total = await session.scalar(select(func.count()).select_from(Shipment).where(*conditions))
    stmt = select(Shipment).where(*conditions).order_by(Shipment.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def insert_event(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """None when the same event (parcel, time, status) is stored already."""
    stmt = (
        insert_for(session, TrackingEvent)
        .values(values)
        .on_conflict_do_nothing(index_elements=["shipment_id", "occurred_at", "status"])
        .returning(TrackingEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def timeline(session: AsyncSession, shipment_id: int) -> list[TrackingEvent]:
    stmt = (
        select(TrackingEvent)
        .where(TrackingEvent.shipment_id == shipment_id)
        .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
    )
    return list((await session.scalars(stmt)).all())


# --- exception cases ---------------------------------------------------------------------------


async def insert_case(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """None when the parcel has an open case of that kind already."""
    stmt = (
        insert_for(session, ShipmentException)
        .values(values)
        .on_conflict_do_nothing(index_elements=["shipment_id", "kind"], index_where=text("state = 'open'"))
        .returning(ShipmentException.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_case(session: AsyncSession, case_id: int, *, lock: bool = False) -> ShipmentException | None:
    stmt = select(ShipmentException).where(ShipmentException.id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def cases_of_shipment(session: AsyncSession, shipment_id: int) -> list[ShipmentException]:
    stmt = (
        select(ShipmentException)
        .where(ShipmentException.shipment_id == shipment_id)
        .order_by(ShipmentException.id)
    )
    return list((await session.scalars(stmt)).all())


async def page_cases(
    session: AsyncSession, state: CaseState | None, offset: int, limit: int, kind: ExceptionKind | None = None
) -> tuple[list[ShipmentException], int]:
    conditions = [] if state is None else [ShipmentException.state == state]
    if kind is not None:
        conditions.append(ShipmentException.kind == kind)
    total = await session.scalar(select(func.count()).select_from(ShipmentException).where(*conditions))
    stmt = (
        select(ShipmentException)
        .where(*conditions)
        .order_by(ShipmentException.contact_by, ShipmentException.id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all()), int(total or 0)


# --- scorecards and freight bills --------------------------------------------------------------


def _has_case(*kinds: ExceptionKind) -> Any:
    found = select(ShipmentException.id).where(ShipmentException.shipment_id == Shipment.id)
    if kinds:
        found = found.where(ShipmentException.kind.in_(kinds))
    return exists(found)


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def carrier_figures(
    session: AsyncSession, shipped_from: datetime, shipped_to: datetime, now: datetime
) -> dict[int, CarrierFigures]:
    delivered = Shipment.delivered_at.is_not(None)
    stmt = (
        select(
            Shipment.carrier_id,
            func.count(),
            _count_if(delivered | (Shipment.deliver_by < now)),
            _count_if(delivered & (Shipment.delivered_at <= Shipment.deliver_by)),
            _count_if(_has_case()),
            _count_if(_has_case(ExceptionKind.DAMAGED)),
            func.coalesce(func.sum(func.coalesce(Shipment.billed_cost, Shipment.expected_cost)), 0),
        )
        .where(Shipment.shipped_at >= shipped_from, Shipment.shipped_at < shipped_to)
        .group_by(Shipment.carrier_id)
    )
    return {
        row[0]: CarrierFigures(*(int(value) for value in row[1:]))
        for row in (await session.execute(stmt)).all()
    }


async def insert_bill(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """None when the carrier's bill with that reference was imported already."""
    stmt = (
        insert_for(session, FreightBill)
        .values(values)
        .on_conflict_do_nothing(index_elements=["carrier_id", "reference"])
        .returning(FreightBill.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert_bill_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(FreightBillLine), rows)


async def carrier_shipments(
    session: AsyncSession,
    carrier_id: int,
    waybills: Sequence[str],
    period_from: datetime | None,
    period_to: datetime,
) -> list[Shipment]:
    """The carrier's shipments named in a bill, and those shipped in the period it covers."""
    in_period = Shipment.shipped_at < period_to
    if period_from is not None:
        in_period &= Shipment.shipped_at >= period_from
    conditions = [in_period] + [
        Shipment.tracking_no.in_(list(waybills[i : i + BILL_CHUNK]))
        for i in range(0, len(waybills), BILL_CHUNK)
    ]
    found: dict[int, Shipment] = {}
    for condition in conditions:
        stmt = (
            select(Shipment)
            .where(Shipment.carrier_id == carrier_id, condition)
            .with_for_update(key_share=True)
        )
        found.update((s.id, s) for s in await session.scalars(stmt))
    return [found[key] for key in sorted(found)]
