"""Carrier scorecards (FUL-7) and freight bill reconciliation (FUL-8)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock
from shopflow.core.audit import Actor
from shopflow.fulfillment.errors import DuplicateBill
from shopflow.fulfillment.files import RowError, parse_bill
from shopflow.fulfillment.freight import Reconciled, ShippedFacts, reconcile
from shopflow.fulfillment.models.carriers import Carrier, CarrierFigures, Scorecard, scorecard
from shopflow.fulfillment.models.freight import BillOutcome
from shopflow.fulfillment.repository import carriers as carrier_repository
from shopflow.fulfillment.repository import freight as freight_repository
from shopflow.fulfillment.service import carriers as carrier_service

NO_PARCELS = CarrierFigures(parcels=0, due=0, on_time=0, with_exception=0, damaged=0, cost_total=0)


async def scorecards(
    session: AsyncSession, shipped_from: datetime, shipped_to: datetime
) -> list[tuple[Carrier, Scorecard]]:
    """FUL-7: each carrier's figures over the parcels it took in [from, to)."""
    figures = await carrier_repository.carrier_figures(session, shipped_from, shipped_to, clock.now())
    return [
        (carrier, scorecard(figures.get(carrier.id, NO_PARCELS)))
        for carrier in await carrier_service.list_carriers(session)
    ]


@dataclass(frozen=True, slots=True)
class BillResult:
    bill_id: int
    carrier: Carrier
    reference: str
    lines: list[Reconciled]
    errors: list[RowError]

    @property
    def counts(self) -> dict[BillOutcome, int]:
        found = Counter(line.outcome for line in self.lines)
        return {outcome: found[outcome] for outcome in BillOutcome}


async def reconcile_bill(
    session: AsyncSession,
    actor: Actor,
    carrier_code: str,
    reference: str,
    content: str,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> BillResult:
    """FUL-8: match a carrier's bill (CSV: waybill, amount) against its shipments: matched,
    over-charged, unknown waybills, and the period's parcels it does not bill. Rows that cannot
    be read are reported; a bill is imported once (carrier and reference)."""
    carrier = await carrier_service.get_carrier(session, carrier_code)
    rows, errors = parse_bill(content)
    at = clock.now()
    until = period_to or at
    bill_id = await freight_repository.insert_bill(
        session,
        {
            "carrier_id": carrier.id,
            "reference": reference,
            "period_from": period_from,
            "period_to": until,
            "imported_by": actor.user_id,
            "imported_at": at,
        },
    )
    if bill_id is None:
        raise DuplicateBill(f"bill {reference!r} of {carrier.code} was imported already")
    shipments = await freight_repository.carrier_shipments(
        session, carrier.id, sorted({r.waybill for r in rows}), period_from, until
    )
    facts = {
        s.tracking_no: ShippedFacts(
            shipment_id=s.id,
            expected=s.expected_cost,
            billed=s.billed_cost is not None,
            in_period=s.shipped_at < until and (period_from is None or s.shipped_at >= period_from),
        )
        for s in shipments
    }
    lines = reconcile(rows, facts)
    by_id = {s.id: s for s in shipments}
    for line in lines:
        if (
            line.shipment_id is not None
            and line.billed is not None
            and by_id[line.shipment_id].billed_cost is None
        ):
            by_id[line.shipment_id].billed_cost = line.billed
    await freight_repository.insert_bill_lines(session, [line.as_row(bill_id) for line in lines])
    result = BillResult(bill_id, carrier, reference, lines, errors)
    await audit.record(
        session,
        audit.row(
            actor,
            "freight_bill.reconciled",
            "freight_bill",
            bill_id,
            None,
            {
                "carrier": carrier.code,
                "reference": reference,
                "counts": result.counts,
                "bad_rows": len(errors),
            },
            at,
        ),
    )
    await session.flush()
    return result
