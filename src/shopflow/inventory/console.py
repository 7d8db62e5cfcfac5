"""Console pages of inventory: stock per SKU per warehouse, low stock, a SKU's ledger, receipts."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from shopflow.catalog import service as catalog
from shopflow.core import console
from shopflow.core.api import Session
from shopflow.core.console import MESSAGES, N_, NAV, Console, NavItem, Pager, can_do, can_view, label, render
from shopflow.core.errors import AppError
from shopflow.inventory import service
from shopflow.inventory.models import Movement
from shopflow.inventory.schemas import ReceiptIn

router = APIRouter(include_in_schema=False)
RECEIPT_ROWS = 5  # lines on the receipt form

MOVEMENTS = {
    Movement.RECEIPT: label("movement", "receipt"),
    Movement.SHIPMENT: label("movement", "shipment"),
    Movement.RETURN: label("movement", "return"),
    Movement.ADJUSTMENT: label("movement", "adjustment"),
    Movement.COUNT: label("movement", "count"),
    Movement.TRANSFER: label("movement", "transfer"),
}
NAV.append(NavItem("/inventory", label("nav", "Inventory"), "inventory.read", 30))
MESSAGES.extend(
    (re.compile(pattern), msgid)
    for pattern, msgid in (
        (r"unknown SKU ['\"](?P<sku>.*)['\"]", N_("unknown SKU %(sku)s")),
        (r"unknown warehouse ['\"](?P<code>.*)['\"]", N_("unknown warehouse %(code)s")),
        (r"must be from (?P<low>\d+) to (?P<high>\d+)", N_("must be from %(low)s to %(high)s")),
        ("already booked", N_("already booked")),
        (r"Input should be a valid integer.*", N_("must be a whole number")),
        (r"List should have at least 1 item.*", N_("enter at least one line")),
        (r"no SKU ['\"](?P<sku>.*)['\"]", N_("There is no SKU %(sku)s.")),
    )
)


@router.get("/inventory")
async def stock(
    session: Session,
    c: Annotated[Console, can_view("inventory.read")],
    q: Annotated[str, Query(max_length=64)] = "",
    low: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    size = console.page_size()
    skus, rows, total = await service.stock_overview(session, q.strip() or None, low, (page - 1) * size, size)
    warehouses = await service.list_warehouses(session)
    per_warehouse = {sku_id: {stock.warehouse_id: stock for stock in found} for sku_id, found in rows.items()}
    return render(
        c,
        "inventory/stock.html",
        skus=skus,
        stock=per_warehouse,
        warehouses=warehouses,
        q=q,
        low=low,
        pager=Pager(page, size, total),
    )


@router.get("/inventory/skus/{code}")
async def sku_ledger(
    code: str,
    session: Session,
    c: Annotated[Console, can_view("inventory.read")],
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    sku = await catalog.get_sku(session, code)
    size = console.page_size()
    entries, total = await service.ledger(session, sku, (page - 1) * size, size)
    return render(
        c,
        "inventory/sku.html",
        sku=sku,
        availability=await service.availability(session, sku),
        entries=entries,
        movements=MOVEMENTS,
        pager=Pager(page, size, total),
    )


async def _receipt_form(
    session: Session, c: Console, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> HTMLResponse:
    return render(
        c,
        "inventory/receipt.html",
        status,
        warehouses=await service.list_warehouses(session),
        rows=range(RECEIPT_ROWS),
        values=values,
        errors=errors,
    )


@router.get("/inventory/receipts")
async def receipt_form(
    session: Session, c: Annotated[Console, can_view("inventory.receive")]
) -> HTMLResponse:
    return await _receipt_form(session, c, {}, {})


@router.post("/inventory/receipts")
async def receive(session: Session, c: Annotated[Console, can_do("inventory.receive")]) -> Response:
    """Book a receipt (INV-1); on any error nothing is booked and the form comes back as typed."""
    values = await console.form_values(c.request)
    lines, rows = [], []
    for row in range(RECEIPT_ROWS):
        sku = values.get(f"lines[{row}].sku", "").strip()
        quantity = values.get(f"lines[{row}].quantity", "").strip()
        if sku or quantity:
            lines.append({"sku": sku, "quantity": quantity})
            rows.append(row)

    def form_field(name: str) -> str:
        """`lines[1].sku` of the service is the second filled row of the form, wherever it is."""
        found = re.fullmatch(r"lines\[(\d+)\](.*)", name)
        return name if found is None else f"lines[{rows[int(found[1])]}]{found[2]}"

    data = {"warehouse": values.get("warehouse", ""), "reference": values.get("reference", "").strip()}
    try:
        receipt = await service.receive(session, c.actor, console.parsed(ReceiptIn, {**data, "lines": lines}))  # type: ignore[arg-type]
    except AppError as exc:
        await session.rollback()
        errors = console.field_errors(exc.errors, c, form_field)
        return await _receipt_form(session, c, values, errors or {"form": c.error(exc)}, exc.status)
    c.flash(
        c.gettext(
            "Receipt %(reference)s booked into %(warehouse)s: %(lines)d lines.",
            reference=receipt.reference,
            warehouse=receipt.warehouse,
            lines=len(receipt.lines),
        )
    )
    return console.redirect("/inventory")
