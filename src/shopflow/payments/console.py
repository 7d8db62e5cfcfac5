"""Console pages of payments: the receipts ledger with its totals (PAY-5), and the order page's
panel of the order's payments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, page_size
from shopflow.core.console.i18n import label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import fragment, render
from shopflow.core.console.session import can_view
from shopflow.orders.service import queries as orders
from shopflow.payments import service
from shopflow.payments.models import PaymentReceipt, PaymentStatus

router = APIRouter(include_in_schema=False)

PAYMENT_STATUS = {
    PaymentStatus.PENDING: label("payment status", "awaiting payment"),
    PaymentStatus.SUCCEEDED: label("payment status", "succeeded"),
    PaymentStatus.FAILED: label("payment status", "failed"),
}
PAYMENT_PROVIDERS = {
    "sandbox": label("payment provider", "Sandbox"),
    "alipay": label("payment provider", "Alipay"),
    "wechat": label("payment provider", "WeChat Pay"),
}
PAYMENT_METHODS = {
    "alipay": label("payment method", "Alipay"),
    "wechat": label("payment method", "WeChat Pay"),
    "card": label("payment method", "Bank card"),
    "card_instalment": label("payment method", "Card instalments"),
    "bank_transfer": label("payment method", "Bank transfer"),
}


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
    start, end = clock.day_range(first, last)
    size = page_size()
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


async def _order_payments(session: AsyncSession, c: Console, order_id: int) -> str:
    """The order page's panel of the order's payments."""
    return fragment(
        c,
        "payments/_order_payments.html",
        payments=await service.payments_of(session, order_id),
        statuses=PAYMENT_STATUS,
        methods=PAYMENT_METHODS,
        providers=PAYMENT_PROVIDERS,
    )


PAGES = Pages(
    router,
    nav=(NavItem("/payments/receipts", label("nav", "Receipts"), "payments.read", 50),),
    panels={"order.side": (_order_payments,)},
    alert_kinds={
        "refund_amount_mismatch": label("alert kind", "Refund amount mismatch"),
        "refund_beyond_captured": label("alert kind", "Refund paid beyond the captured amount"),
    },
)
