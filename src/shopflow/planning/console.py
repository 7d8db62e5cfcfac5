"""Console pages of planning (INV-4, INV-5, ANA-5): the replenishment board (a supplier's
suggestions become a draft purchase order in one click), the purchase orders and an order's page
(its steps and the receipt of a delivery), and the forecast chart on the SKU's page."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core import audit
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, chosen, form_errors, form_values, page_size, step_back
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import fragment, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.planning.errors import NoForecast
from shopflow.planning.models import PoSource, PoStatus
from shopflow.planning.schemas import ConfirmIn, PoReceiptIn, PoReceiptLineIn
from shopflow.planning.service import forecasts, purchasing, replenishment, safety

router = APIRouter(include_in_schema=False)
PoId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SupplierCode = Annotated[str, Path(max_length=32)]

STATUSES = {
    PoStatus.DRAFT: label("purchase order", "draft"),
    PoStatus.SUBMITTED: label("purchase order", "submitted"),
    PoStatus.CONFIRMED: label("purchase order", "confirmed"),
    PoStatus.PARTIALLY_RECEIVED: label("purchase order", "partially received"),
    PoStatus.RECEIVED: label("purchase order", "received"),
    PoStatus.CANCELLED: label("purchase order", "cancelled"),
}
SOURCES = {
    PoSource.SUGGESTION: label("purchase order source", "suggestion"),
    PoSource.SHORTAGE: label("purchase order source", "stock shortage"),
    PoSource.MANUAL: label("purchase order source", "by hand"),
}
STEPS = {
    "submit": (purchasing.submit, N_("Submitted to the supplier.")),
    "cancel": (purchasing.cancel, N_("The purchase order is cancelled.")),
}
MESSAGES = (
    (r"must be from 1 to (?P<n>\d+) \(still to come\)", N_("must be from 1 to %(n)s (still to come)")),
    (r"nothing to order from '(?P<supplier>[^']+)'", N_("Nothing to order from %(supplier)s.")),
    (r"no purchase order (?P<po>\d+)", N_("There is no purchase order %(po)s.")),
    ("must be a whole number", N_("must be a whole number")),
    ("enter the units that arrived", N_("Enter the units that arrived.")),
)


@router.get("/replenishment")
async def board(session: Session, c: Annotated[Console, can_view("purchasing.read")]) -> HTMLResponse:
    """INV-4: what to order now, per supplier: demand over lead time and review, safety stock,
    available and on order, and the quantity in whole packs."""
    found = await replenishment.suggestions(session)
    groups: dict[str, list[replenishment.Suggestion]] = {}
    for suggestion in found:
        groups.setdefault(suggestion.supplier, []).append(suggestion)
    return render(c, "planning/board.html", groups=groups)


@router.post("/replenishment/{supplier}/order")
async def order_suggested(
    supplier: SupplierCode, session: Session, c: Annotated[Console, can_do("purchasing.write")]
) -> Response:
    """The board's one click: the supplier's suggestions become a draft purchase order."""

    async def work() -> Response:
        po = await replenishment.order_suggested(session, c.actor, supplier)  # type: ignore[arg-type]
        c.flash(c.gettext("A draft purchase order of the suggestions is made."))
        return redirect(f"/purchase-orders/{po.id}")

    async def refused(exc: AppError) -> Response:
        c.flash(form_errors(exc, c).get("form") or exc.detail)
        return redirect("/replenishment")

    return await attempt(c, session, work, refused, address="/replenishment")


@router.get("/purchase-orders")
async def orders_page(
    session: Session,
    c: Annotated[Console, can_view("purchasing.read")],
    status: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    chosen_status = chosen(PoStatus, status)
    size = page_size()
    found, total = await purchasing.list_pos(session, chosen_status, (page - 1) * size, size)
    return render(
        c,
        "planning/orders.html",
        orders=found,
        names=await purchasing.describe(session, found),
        statuses=STATUSES,
        sources=SOURCES,
        filters={"status": chosen_status or ""},
        pager=Pager(page, size, total),
    )


async def _order(
    session: AsyncSession,
    c: Console,
    po_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    po = await purchasing.get_po(session, po_id)
    return render(
        c,
        "planning/order.html",
        status,
        po=po,
        names=await purchasing.describe(session, [po]),
        statuses=STATUSES,
        sources=SOURCES,
        trail=await audit.trail(session, "purchase_order", po_id),
        values=values or {},
        errors=errors or {},
    )


@router.get("/purchase-orders/{po_id}")
async def order_page(
    po_id: PoId, session: Session, c: Annotated[Console, can_view("purchasing.read")]
) -> Response:
    return await _order(session, c, po_id)


@router.post("/purchase-orders/{po_id}/confirm")
async def confirm(
    po_id: PoId, session: Session, c: Annotated[Console, can_do("purchasing.write")]
) -> Response:
    async def work() -> None:
        await purchasing.confirm(session, c.actor, po_id, ConfirmIn())  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        return await _order(session, c, po_id, None, form_errors(exc, c), exc.status)

    address = f"/purchase-orders/{po_id}"
    return await step_back(c, session, address, work, N_("Confirmed by the supplier."), refused)


def _receipt(values: dict[str, str]) -> PoReceiptIn:
    """The receipt form: a reference and, per SKU (`qty:<code>`), the units that arrived."""
    lines, errors = [], []
    for name, typed in values.items():
        if not name.startswith("qty:") or not typed.strip():
            continue
        try:
            quantity = int(typed)
        except ValueError:
            errors.append(FieldError(name, "must be a whole number"))
            continue
        if quantity:
            lines.append(PoReceiptLineIn(sku=name.removeprefix("qty:"), quantity=quantity))
    if not values.get("reference", "").strip():
        errors.append(FieldError("reference", "is required"))
    if not lines and not errors:
        errors.append(FieldError("form", "enter the units that arrived"))
    if errors:
        raise Invalid("the receipt has errors; nothing was booked", errors=errors)
    return PoReceiptIn(reference=values["reference"].strip(), lines=lines)


@router.post("/purchase-orders/{po_id}/receipts")
async def receive(
    po_id: PoId, session: Session, c: Annotated[Console, can_do("inventory.receive")]
) -> Response:
    values = await form_values(c.request)

    async def work() -> Response:
        _, released = await purchasing.receive(session, c.actor, po_id, _receipt(values))  # type: ignore[arg-type]
        c.flash(c.gettext("Received; %(n)s held orders released.", n=released))
        return redirect(f"/purchase-orders/{po_id}")

    async def refused(exc: AppError) -> Response:
        return await _order(session, c, po_id, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, work, refused, address=f"/purchase-orders/{po_id}")


@router.post("/purchase-orders/{po_id}/{step}")
async def take_step(
    po_id: PoId,
    step: Annotated[str, Path(pattern="^(submit|cancel)$")],
    session: Session,
    c: Annotated[Console, can_do("purchasing.write")],
) -> Response:
    use_case, done = STEPS[step]

    async def work() -> None:
        await use_case(session, c.actor, po_id)  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        return await _order(session, c, po_id, None, form_errors(exc, c), exc.status)

    return await step_back(c, session, f"/purchase-orders/{po_id}", work, done, refused)


def _chart(found: forecasts.SkuForecast, c: Console) -> str:
    """ECharts options: the recent daily demand and the forecast after it."""
    history = [(day.isoformat(), units) for day, units in found.history]
    ahead = [(day.isoformat(), round(units, 2)) for day, units in found.days()]
    option: dict[str, Any] = {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [c.gettext("Sold"), c.gettext("Forecast")]},
        "xAxis": {"type": "category", "data": [day for day, _ in history + ahead]},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": c.gettext("Sold"),
                "type": "bar",
                "data": [units for _, units in history] + [None] * len(ahead),
            },
            {
                "name": c.gettext("Forecast"),
                "type": "line",
                "data": [None] * len(history) + [units for _, units in ahead],
            },
        ],
    }
    return json.dumps(option, ensure_ascii=False)


async def _sku_forecast(session: AsyncSession, c: Console, sku_id: int) -> str:
    """The SKU page's panel: its demand of the last eight weeks and its forecast (ANA-5), and its
    safety stock per warehouse (INV-4)."""
    sku = await purchasing.sku_by_id(session, sku_id)
    levels = await safety.warehouse_levels(session, sku)
    try:
        found = await forecasts.of_sku(session, sku)
    except NoForecast:
        return fragment(c, "planning/_forecast.html", sku=sku, found=None, chart="", levels=levels)
    return fragment(c, "planning/_forecast.html", sku=sku, found=found, chart=_chart(found, c), levels=levels)


@router.post("/catalog/{code}/safety-stock")
async def set_threshold(
    code: Annotated[str, Path(max_length=64)],
    session: Session,
    c: Annotated[Console, can_do("catalog.write")],
) -> Response:
    """INV-4: the SKU's safety stock in one warehouse (blank: not watched apart there)."""
    values = await form_values(c.request)
    address = f"/catalog/{code}"

    async def work() -> None:
        typed = values.get("threshold", "").strip()
        if typed and not (typed.isdigit() and int(typed) <= 2**31 - 1):
            raise Invalid("the form has errors", errors=[FieldError("threshold", "must be a whole number")])
        sku = await catalog.get_sku(session, code)
        threshold = int(typed) if typed else None
        await safety.set_warehouse_threshold(session, c.actor, sku, values.get("warehouse", ""), threshold)  # type: ignore[arg-type]

    async def refused(exc: AppError) -> Response:
        c.flash(c.gettext("The safety stock was not changed: %(why)s", why=exc.detail))
        return redirect(address)

    return await step_back(c, session, address, work, N_("The warehouse's safety stock is set."), refused)


PAGES = Pages(
    router,
    # After the alerts, as coupons and risk: tests/web/test_browser.py reads the menu from Today to Alerts.
    nav=(
        NavItem("/replenishment", label("nav", "Replenishment"), "purchasing.read", 97),
        NavItem("/purchase-orders", label("nav", "Purchase orders"), "purchasing.read", 98),
    ),
    states={"purchase_order": STATUSES},
    actions={
        "purchase_order.created": label("audit action", "Purchase order created"),
        "supplier.created": label("audit action", "Supplier created"),
        "safety_stock.set": label("audit action", "Safety stock set for a warehouse"),
        "order.backordered": label("audit action", "Told the expected ship date"),
    },
    panels={"sku": (_sku_forecast,)},
    messages=MESSAGES,
)
