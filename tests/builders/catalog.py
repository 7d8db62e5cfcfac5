from __future__ import annotations

from shopflow.catalog import service
from shopflow.catalog.models import PriceBand
from shopflow.catalog.schemas import ProductIn, SkuIn
from shopflow.core import money
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database


def sku_in(code: str, price: int = 9900, band: PriceBand = PriceBand.PROFIT) -> SkuIn:
    return SkuIn(
        code=code,
        name=f"商品 {code}",
        price=money.fmt(price),
        cost=money.fmt(price // 2),
        weight_g=500,
        price_band=band,
    )


async def add_product(db: Database, prices: dict[str, int], name: str = "测试商品") -> None:
    """One product with a SKU per code, prices in fen."""
    async with db.transaction() as session:
        skus = [sku_in(code, price) for code, price in prices.items()]
        await service.create_product(session, SYSTEM, ProductIn(name=name, skus=skus))
