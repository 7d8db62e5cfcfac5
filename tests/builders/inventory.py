from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import service
from shopflow.inventory.models import LedgerEntry, Stock
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn, WarehouseIn


async def add_warehouse(db: Database, code: str, priority: int, province: str = "上海") -> None:
    async with db.transaction() as session:
        await service.create_warehouse(
            session, SYSTEM, WarehouseIn(code=code, name=f"仓库 {code}", province=province, priority=priority)
        )


async def receive(db: Database, warehouse: str, quantities: dict[str, int]) -> None:
    lines = [ReceiptLineIn(sku=sku, quantity=q) for sku, q in quantities.items()]
    async with db.transaction() as session:
        await service.receive(
            session,
            SYSTEM,
            ReceiptIn(warehouse=warehouse, reference=f"PO-{secrets.token_hex(4)}", lines=lines),
        )


async def ledger_sums(session: AsyncSession) -> dict[tuple[int, int], int]:
    """The ledger's sum per (SKU, warehouse): what on hand must equal (INV-1)."""
    stmt = select(LedgerEntry.sku_id, LedgerEntry.warehouse_id, func.sum(LedgerEntry.quantity)).group_by(
        LedgerEntry.sku_id, LedgerEntry.warehouse_id
    )
    return {(s, w): int(q) for s, w, q in (await session.execute(stmt)).all()}


async def all_stock(session: AsyncSession) -> list[Stock]:
    return list((await session.scalars(select(Stock).order_by(Stock.id))).all())
