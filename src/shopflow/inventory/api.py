from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from shopflow.catalog import service as catalog
from shopflow.core.api import Pages, Session, require
from shopflow.core.audit import Actor
from shopflow.inventory import service
from shopflow.inventory.schemas import (
    Availability,
    LedgerEntryOut,
    ReceiptIn,
    ReceiptOut,
    WarehouseIn,
    WarehouseOut,
)

router = APIRouter(tags=["inventory"])


class LedgerPage(BaseModel):
    items: list[LedgerEntryOut]
    total: int
    page: int
    page_size: int


@router.post("/warehouses", status_code=201, response_model=WarehouseOut)
async def create_warehouse(
    data: WarehouseIn, session: Session, actor: Annotated[Actor, require("warehouses.write")]
) -> WarehouseOut:
    return WarehouseOut.model_validate(await service.create_warehouse(session, actor, data))


@router.get("/warehouses", response_model=list[WarehouseOut])
async def list_warehouses(
    session: Session, _: Annotated[Actor, require("inventory.read")]
) -> list[WarehouseOut]:
    return [WarehouseOut.model_validate(w) for w in await service.list_warehouses(session)]


@router.post("/inventory/receipts", status_code=201, response_model=ReceiptOut)
async def receive(
    data: ReceiptIn, session: Session, actor: Annotated[Actor, require("inventory.receive")]
) -> ReceiptOut:
    return await service.receive(session, actor, data)


@router.get("/inventory/{sku}", response_model=Availability)
async def availability(
    sku: str, session: Session, _: Annotated[Actor, require("inventory.read")]
) -> Availability:
    return await service.availability(session, await catalog.get_sku(session, sku))


@router.get("/inventory/{sku}/ledger", response_model=LedgerPage)
async def ledger(
    sku: str, pages: Pages, session: Session, _: Annotated[Actor, require("inventory.read")]
) -> LedgerPage:
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
    return LedgerPage(items=items, total=total, page=pages.page, page_size=pages.page_size)
