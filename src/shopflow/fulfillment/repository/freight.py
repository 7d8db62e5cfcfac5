"""Freight bills and the shipments they are matched against: their queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.db import insert_for
from shopflow.fulfillment.models.freight import FreightBill, FreightBillLine
from shopflow.fulfillment.models.shipments import Shipment

# Waybills per query when matching a bill: far below every driver's limit of parameters.
BILL_CHUNK = 1000


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
