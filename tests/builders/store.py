"""A small store most API tests start from: two warehouses and priced SKUs in stock."""

from __future__ import annotations

from dataclasses import dataclass

from shopflow.core.db import Database
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive


@dataclass(frozen=True)
class Store:
    skus: dict[str, int]  # code -> price in fen
    warehouses: tuple[str, str] = ("WH-A", "WH-B")


async def small_store(db: Database, stock: dict[str, tuple[int, int]] | None = None) -> Store:
    """SKU-1 (99.00), SKU-2 (45.50), SKU-3 (12.00); stock per SKU as (WH-A, WH-B) units."""
    skus = {"SKU-1": 9900, "SKU-2": 4550, "SKU-3": 1200}
    stock = stock or {"SKU-1": (10, 5), "SKU-2": (20, 0), "SKU-3": (0, 30)}
    await add_product(db, skus)
    await add_warehouse(db, "WH-A", 1)
    await add_warehouse(db, "WH-B", 2, province="广东")
    for index, warehouse in enumerate(("WH-A", "WH-B")):
        quantities = {sku: units[index] for sku, units in stock.items() if units[index] > 0}
        if quantities:
            await receive(db, warehouse, quantities)
    return Store(skus=skus)
