"""Console page of payments: the receipts ledger with its totals (PAY-5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from shopflow.core import console
from shopflow.core.api import Session
from shopflow.core.console import NAV, Console, NavItem, Pager, can_view, label, render
from shopflow.orders.console import PAYMENT_METHODS
from shopflow.orders.service import queries as orders
from shopflow.payments import service
from shopflow.payments.models import PaymentReceipt

router = APIRouter(include_in_schema=False)
NAV.append(NavItem("/payments/receipts", label("nav", "Receipts"), "payments.read", 50))


@router.get("/payments/receipts")
async def receipt_ledger(
    session: Session,
    c: Annotated[Console, can_view("payments.read")],
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """Receipts received from `date_from` to `date_to` (store dates, both included), oldest first."""
    (first, first_error), (last, last_error) = c.typed_day(date_from), c.typed_day(date_to)
    errors = {name: text for name, text in (("date_from", first_error), ("date_to", last_error)) if text}
    start, end = console.day_range(first, last)
    size = console.page_size()
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
