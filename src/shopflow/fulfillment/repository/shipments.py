"""Shipments, their tracking events and exception cases: their queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, or_, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from shopflow.core.db import driver_connection, insert_for, loaded, placeholders
from shopflow.fulfillment.models.carriers import Carrier
from shopflow.fulfillment.models.shipments import (
    CaseState,
    ExceptionKind,
    Shipment,
    ShipmentException,
    TrackingEvent,
)
from shopflow.fulfillment.repository.carriers import CARRIER_SHOWN, carriers_from, leading_instances

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
        carriers = carriers_from(session, rows, len(SHIPMENT_COLUMNS))
        shipments = leading_instances(session, Shipment, SHIPMENT_COLUMNS, rows)
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
