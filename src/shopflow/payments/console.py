"""Console page of payments: the receipts ledger with its totals (PAY-5)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from shopflow.core import console
from shopflow.core.api import Session
from shopflow.core.console import NAV, Console, NavItem, Pager, can_view, label, render
from shopflow.core.policy import current as current_policy
from shopflow.orders import service as orders
from shopflow.orders.console import PAYMENT_METHODS
from shopflow.payments import service
from shopflow.payments.models import PaymentReceipt

router = APIRouter(include_in_schema=False)
NAV.append(NavItem("/payments/receipts", label("nav", "Receipts"), "payments.read", 50))


def _midnight(value: str, c: Console, errors: dict[str, str], name: str, days: int = 0) -> datetime | None:
    """The UTC instant of a local date's midnight (`days` later); a bad date is a field error."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors[name] = c.gettext("%(value)s is not a date.", value=value)
        return None
    return console.local_day_bounds(day + timedelta(days=days), hours=0)[0]


@router.get("/payments/receipts")
async def receipt_ledger(
    session: Session,
    c: Annotated[Console, can_view("payments.read")],
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Receipts received from `date_from` to `date_to` (store dates, both included), oldest first."""
    errors: dict[str, str] = {}
    start = _midnight(date_from, c, errors, "date_from")
    end = _midnight(date_to, c, errors, "date_to", days=1)
    size = current_policy().orders.page_size
    receipts: list[PaymentReceipt] = []
    totals: list[service.ReceiptTotal] = []
    total = 0
    if not errors:
        receipts, total = await service.receipts(session, start, end, page, size)
        totals = await service.receipt_totals(session, start, end)
    numbers = await orders.order_numbers(session, {receipt.order_id for receipt in receipts})
    return render(
        c,
        "payments/receipts.html",
        422 if errors else 200,
        receipts=receipts,
        order_numbers=numbers,
        totals=totals,
        methods=PAYMENT_METHODS,
        filters={"date_from": date_from, "date_to": date_to},
        errors=errors,
        pager=Pager(page, size, total),
    )
