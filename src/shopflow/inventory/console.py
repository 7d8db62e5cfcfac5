"""Console pages of inventory: stock per SKU per warehouse, low stock, a SKU's ledger, receipts; and
the available stock the catalog's SKU list and page show."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, form_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import Column, NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, Invalid
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
    Movement.WRITE_OFF: label("movement", "write_off"),
}
MESSAGES = (
    (r"unknown SKU ['\"](?P<sku>.*)['\"]", N_("unknown SKU %(sku)s")),
    (r"unknown warehouse ['\"](?P<code>.*)['\"]", N_("unknown warehouse %(code)s")),
    (r"must be from (?P<low>\d+) to (?P<high>\d+)", N_("must be from %(low)s to %(high)s")),
    ("already booked", N_("already booked")),
    (r"Input should be a valid integer.*", N_("must be a whole number")),
    (r"List should have at least 1 item.*", N_("enter at least one line")),
    (r"no SKU ['\"](?P<sku>.*)['\"]", N_("There is no SKU %(sku)s.")),
    ("stock is back at or above its safety stock", N_("stock is back at or above its safety stock")),
)


@router.get("/inventory")
async def stock(
    session: Session,
    c: Annotated[Console, can_view("inventory.read")],
    q: Annotated[str, Query(max_length=64)] = "",
    low: bool = False,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    size = page_size()
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
    size = page_size()
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


def _number(typed: str) -> int | None:
    """A typed whole number, or None for anything else (the form's parsing says why)."""
    return int(typed) if re.fullmatch(r"-?\d+", typed) else None


@router.get("/inventory/receipts")
async def receipt_form(
    session: Session, c: Annotated[Console, can_view("inventory.receive")]
) -> HTMLResponse:
    return await _receipt_form(session, c, {}, {})


@router.post("/inventory/receipts")
async def receive(session: Session, c: Annotated[Console, can_do("inventory.receive")]) -> Response:
    """Book a receipt (INV-1); on any error nothing is booked and the form comes back as typed."""
    values = await form_values(c.request)
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

    async def checked() -> ReceiptIn:
        """The receipt as typed, or every field's error at once: the form's and the store's."""
        try:
            return parsed(ReceiptIn, {**data, "lines": lines})
        except Invalid as exc:
            typed = [(line["sku"], _number(line["quantity"])) for line in lines]
            known = await service.receipt_errors(session, data["warehouse"], typed)
            raise Invalid(exc.detail, errors=[*exc.errors, *known]) from None

    async def book() -> Response:
        receipt = await service.receive(session, c.actor, await checked())  # type: ignore[arg-type]
        c.flash(
            c.gettext(
                "Receipt %(reference)s booked into %(warehouse)s: %(lines)d lines.",
                reference=receipt.reference,
                warehouse=receipt.warehouse,
                lines=len(receipt.lines),
            )
        )
        return redirect("/inventory")

    async def refused(exc: AppError) -> Response:
        return await _receipt_form(session, c, values, form_errors(exc, c, form_field), exc.status)

    return await attempt(c, session, book, refused)


async def _available(session: AsyncSession, c: Console, skus: Mapping[int, str]) -> dict[int, str]:
    """The available stock of each SKU, linked to its ledger for those who may read it."""
    available = await service.available_of(session, list(skus))
    if not c.can("inventory.read"):
        return {sku_id: str(available[sku_id]) for sku_id in skus}
    link = Markup('<a href="/inventory/skus/{}">{}</a>')
    return {sku_id: link.format(code, available[sku_id]) for sku_id, code in skus.items()}


PAGES = Pages(
    router,
    nav=(NavItem("/inventory", label("nav", "Inventory"), "inventory.read", 30),),
    subjects={"sku": ("/inventory/skus/{id}", label("subject", "SKU"))},
    messages=MESSAGES,
    columns={"sku": (Column(N_("Available"), "available", _available),)},
)
