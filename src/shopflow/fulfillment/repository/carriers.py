"""Carriers, the rule table and the carriers' figures for scorecards: their queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import case, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from shopflow.core.db import Base, driver_connection, fresh
from shopflow.fulfillment.models.carriers import Carrier, CarrierFigures, CarrierRule
from shopflow.fulfillment.models.shipments import ExceptionKind, Shipment, ShipmentException

M = TypeVar("M", bound=Base)


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


def carriers_from(session: AsyncSession, rows: Iterable[Sequence[Any]], first: int) -> dict[int, Carrier]:
    """The carriers in columns `first`… (CARRIER_SHOWN) of driver rows, one instance per carrier."""
    found: dict[int, Carrier] = {}
    for row in rows:
        values = dict(zip(CARRIER_SHOWN, row[first:], strict=True))
        if values["id"] not in found:
            found[values["id"]] = fresh(session, Carrier, values)
    return found


def leading_instances(
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
        carriers = carriers_from(session, rows, len(RULE_COLUMNS))
        rules = leading_instances(session, CarrierRule, RULE_COLUMNS, rows)
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
