"""Freight reconciliation (FUL-8): a carrier's bill matched against its shipments. Pure rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shopflow.fulfillment.models.freight import BillOutcome


@dataclass(frozen=True, slots=True)
class BilledRow:
    row: int
    waybill: str
    amount: int  # fen


@dataclass(frozen=True, slots=True)
class ShippedFacts:
    shipment_id: int
    expected: int
    billed: bool  # an earlier bill already charged it
    in_period: bool


@dataclass(frozen=True, slots=True)
class Reconciled:
    row: int | None
    waybill: str
    shipment_id: int | None
    billed: int | None
    expected: int | None
    outcome: BillOutcome

    def as_row(self, bill_id: int) -> dict[str, Any]:
        return {
            "bill_id": bill_id,
            "row": self.row,
            "waybill": self.waybill,
            "shipment_id": self.shipment_id,
            "billed": self.billed,
            "expected": self.expected,
            "outcome": self.outcome,
        }


def reconcile(rows: list[BilledRow], shipped: Mapping[str, ShippedFacts]) -> list[Reconciled]:
    """FUL-8: each bill row matched against the carrier's shipments by waybill, then every
    shipment of the period that no bill charged. A waybill billed twice is over-charged."""
    found: list[Reconciled] = []
    charged: set[str] = set()
    for r in rows:
        facts = shipped.get(r.waybill)
        if facts is None:
            found.append(Reconciled(r.row, r.waybill, None, r.amount, None, BillOutcome.UNKNOWN_WAYBILL))
            continue
        twice = facts.billed or r.waybill in charged
        over = twice or r.amount > facts.expected
        outcome = BillOutcome.OVER_CHARGED if over else BillOutcome.MATCHED
        found.append(Reconciled(r.row, r.waybill, facts.shipment_id, r.amount, facts.expected, outcome))
        charged.add(r.waybill)
    for waybill, facts in sorted(shipped.items()):
        if facts.in_period and not facts.billed and waybill not in charged:
            found.append(
                Reconciled(None, waybill, facts.shipment_id, None, facts.expected, BillOutcome.MISSING_BILL)
            )
    return found
