from __future__ import annotations

import secrets

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.inventory import service
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
