from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from shopflow.catalog import service as catalog
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Id, Page
from shopflow.planning.models import PoStatus, PurchaseOrder, Supplier
from shopflow.planning.schemas import (
    BacktestOut,
    ConfirmIn,
    DayUnits,
    ForecastOut,
    PoLineOut,
    PoReceiptIn,
    PurchaseOrderIn,
    PurchaseOrderOut,
    SuggestionOut,
    SupplierIn,
    SupplierItemOut,
    SupplierOut,
)
from shopflow.planning.service import forecasts, purchasing, replenishment

router = APIRouter(tags=["planning"], responses=problems(401, 403))


async def supplier_out(session: Session, supplier: Supplier) -> SupplierOut:
    codes = await purchasing.sku_codes(session, [item.sku_id for item in supplier.items])
    return SupplierOut(
        id=supplier.id,
        code=supplier.code,
        name=supplier.name,
        active=supplier.active,
        items=[
            SupplierItemOut(
                sku=codes[item.sku_id],
                lead_time_days=item.lead_time_days,
                pack_size=item.pack_size,
                moq=item.moq,
                unit_cost=item.unit_cost,
            )
            for item in supplier.items
        ],
    )


async def po_out(session: Session, po: PurchaseOrder, released: int = 0) -> PurchaseOrderOut:
    view = await purchasing.describe(session, [po])
    supplier, warehouse = view.names[po.id]
    return PurchaseOrderOut(
        id=po.id,
        number=po.number,
        supplier=supplier,
        warehouse=warehouse,
        status=po.status,
        source=po.source,
        expected_on=po.expected_on,
        note=po.note,
        created_at=po.created_at,
        lines=[
            PoLineOut(
                sku=view.skus[ln.sku_id], quantity=ln.quantity, received=ln.received, unit_cost=ln.unit_cost
            )
            for ln in po.lines
        ],
        released_orders=released,
    )


@router.get("/suppliers", response_model=Page[SupplierOut])
async def list_suppliers(
    session: Session, pages: Pages, _: Annotated[Actor, require("purchasing.read")]
) -> Page[SupplierOut]:
    found, total = await purchasing.suppliers(session, (pages.page - 1) * pages.page_size, pages.page_size)
    return Page[SupplierOut](**pages.of([await supplier_out(session, s) for s in found], total))


@router.post("/suppliers", status_code=201, response_model=SupplierOut, responses=problems(409, 422))
async def create_supplier(
    data: SupplierIn, session: Session, actor: Annotated[Actor, require("purchasing.write")]
) -> SupplierOut:
    return await supplier_out(session, await purchasing.create_supplier(session, actor, data))


@router.get("/purchase-orders", response_model=Page[PurchaseOrderOut])
async def list_purchase_orders(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("purchasing.read")],
    status: PoStatus | None = None,
) -> Page[PurchaseOrderOut]:
    found, total = await purchasing.list_pos(
        session, status, (pages.page - 1) * pages.page_size, pages.page_size
    )
    return Page[PurchaseOrderOut](**pages.of([await po_out(session, po) for po in found], total))


@router.post("/purchase-orders", status_code=201, response_model=PurchaseOrderOut, responses=problems(422))
async def create_purchase_order(
    data: PurchaseOrderIn, session: Session, actor: Annotated[Actor, require("purchasing.write")]
) -> PurchaseOrderOut:
    return await po_out(session, await purchasing.create_po(session, actor, data))


@router.post("/purchase-orders/{po_id}/submit", response_model=PurchaseOrderOut, responses=problems(404, 409))
async def submit_purchase_order(
    po_id: Id,
    session: Session,
    actor: Annotated[Actor, require("purchasing.write")],
) -> PurchaseOrderOut:
    return await po_out(session, await purchasing.submit(session, actor, po_id))


@router.post(
    "/purchase-orders/{po_id}/confirm", response_model=PurchaseOrderOut, responses=problems(404, 409, 422)
)
async def confirm_purchase_order(
    po_id: Id,
    session: Session,
    actor: Annotated[Actor, require("purchasing.write")],
    data: Annotated[ConfirmIn | None, Body()] = None,
) -> PurchaseOrderOut:
    return await po_out(session, await purchasing.confirm(session, actor, po_id, data or ConfirmIn()))


@router.post("/purchase-orders/{po_id}/cancel", response_model=PurchaseOrderOut, responses=problems(404, 409))
async def cancel_purchase_order(
    po_id: Id,
    session: Session,
    actor: Annotated[Actor, require("purchasing.write")],
) -> PurchaseOrderOut:
    return await po_out(session, await purchasing.cancel(session, actor, po_id))


@router.post(
    "/purchase-orders/{po_id}/receipts",
    status_code=201,
    response_model=PurchaseOrderOut,
    responses=problems(404, 409, 422),
)
async def receive_purchase_order(
    po_id: Id,
    data: PoReceiptIn,
    session: Session,
    actor: Annotated[Actor, require("inventory.receive")],
) -> PurchaseOrderOut:
    po, released = await purchasing.receive(session, actor, po_id, data)
    return await po_out(session, po, released)


@router.get("/replenishment/suggestions", response_model=Page[SuggestionOut])
async def suggestions(
    session: Session, pages: Pages, _: Annotated[Actor, require("purchasing.read")]
) -> Page[SuggestionOut]:
    found = await replenishment.suggestions(session)
    start = (pages.page - 1) * pages.page_size
    items = [
        SuggestionOut(
            sku=s.sku,
            name=s.name,
            supplier=s.supplier,
            available=s.available,
            on_order=s.on_order,
            safety_stock=s.safety_stock,
            demand=s.demand,
            lead_time_days=s.item.lead_time_days,
            pack_size=s.item.pack_size,
            moq=s.item.moq,
            unit_cost=s.item.unit_cost,
            quantity=s.quantity,
        )
        for s in found[start : start + pages.page_size]
    ]
    return Page[SuggestionOut](**pages.of(items, len(found)))


@router.get("/forecast/{sku}", response_model=ForecastOut, responses=problems(404))
async def forecast(
    sku: Annotated[str, Path(max_length=64)],
    session: Session,
    _: Annotated[Actor, require("inventory.read")],
    weeks: Annotated[int, Query(ge=1, le=104)] = 8,
) -> ForecastOut:
    found = await forecasts.of_sku(session, await catalog.get_sku(session, sku), weeks)
    stored = found.forecast
    return ForecastOut(
        sku=found.sku.code,
        abc=stored.abc,
        computed_at=stored.computed_at,
        history=[DayUnits(day=day, units=units) for day, units in found.history],
        forecast=[DayUnits(day=day, units=units) for day, units in found.days()],
        backtest=BacktestOut(
            mape=stored.mape, wape=stored.wape, naive_mape=stored.naive_mape, naive_wape=stored.naive_wape
        ),
    )
