from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shopflow.catalog import service as catalog
from shopflow.core.api import Pages, Session, paged, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Page
from shopflow.inventory import service
from shopflow.inventory.schemas import (
    Availability,
    LedgerEntryOut,
    ReceiptIn,
    ReceiptOut,
    WarehouseIn,
    WarehouseOut,
)

router = APIRouter(tags=["inventory"], responses=problems(401, 403))


@router.post("/warehouses", status_code=201, response_model=WarehouseOut, responses=problems(409))
async def create_warehouse(
    data: WarehouseIn, session: Session, actor: Annotated[Actor, require("warehouses.write")]
) -> WarehouseOut:
    return WarehouseOut.model_validate(await service.create_warehouse(session, actor, data))


@router.get("/warehouses", response_model=Page[WarehouseOut])
async def list_warehouses(
    session: Session, pages: Pages, _: Annotated[Actor, require("inventory.read")]
) -> Page[WarehouseOut]:
    found = [WarehouseOut.model_validate(w) for w in await service.list_warehouses(session)]
    return Page[WarehouseOut](**paged(found, pages))


@router.post("/inventory/receipts", status_code=201, response_model=ReceiptOut, responses=problems(404, 409))
async def receive(
    data: ReceiptIn, session: Session, actor: Annotated[Actor, require("inventory.receive")]
) -> ReceiptOut:
    return await service.receive(session, actor, data)


@router.get("/inventory/{sku}", response_model=Availability, responses=problems(404))
async def availability(
    sku: Annotated[str, Path(max_length=64)], session: Session, _: Annotated[Actor, require("inventory.read")]
) -> Availability:
    return await service.availability(session, await catalog.get_sku(session, sku))


@router.get("/inventory/{sku}/ledger", response_model=Page[LedgerEntryOut], responses=problems(404))
async def ledger(
    sku: Annotated[str, Path(max_length=64)],
    pages: Pages,
    session: Session,
    _: Annotated[Actor, require("inventory.read")],
) -> Page[LedgerEntryOut]:
    found = await catalog.get_sku(session, sku)
    rows, total = await service.ledger(session, found, (pages.page - 1) * pages.page_size, pages.page_size)
    items = [
        LedgerEntryOut(
            id=e.id,
            at=e.at,
            warehouse=code,
            kind=e.kind,
            quantity=e.quantity,
            balance_after=e.balance_after,
            reference=e.reference,
            actor_id=e.actor_id,
        )
        for e, code in rows
    ]
    return Page[LedgerEntryOut](**pages.of(items, total))
