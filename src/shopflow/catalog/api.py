from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shopflow.catalog import service
from shopflow.catalog.models import Sku
from shopflow.catalog.schemas import (
    PriceChangeOut,
    ProductIn,
    ProductOut,
    SkuDetail,
    SkuOut,
    SkuPatch,
)
from shopflow.core.api import Session, problems, require
from shopflow.core.audit import Actor

router = APIRouter(tags=["catalog"], responses=problems(401, 403))


async def _detail(session: Session, sku: Sku) -> SkuDetail:
    history = await service.price_history(session, sku)
    return SkuDetail(
        **SkuOut.model_validate(sku).model_dump(),
        price_history=[PriceChangeOut.model_validate(change) for change in history],
    )


@router.post("/products", status_code=201, response_model=ProductOut, responses=problems(409))
async def create_product(
    data: ProductIn, session: Session, actor: Annotated[Actor, require("catalog.write")]
) -> ProductOut:
    product = await service.create_product(session, actor, data)
    return ProductOut(
        id=product.id,
        name=product.name,
        description=product.description,
        category_id=product.category_id,
        skus=[SkuOut.model_validate(sku) for sku in product.skus],
    )


@router.get("/skus/{code}", response_model=SkuDetail, responses=problems(404))
async def get_sku(
    code: Annotated[str, Path(max_length=64)], session: Session, _: Annotated[Actor, require("catalog.read")]
) -> SkuDetail:
    return await _detail(session, await service.get_sku(session, code))


@router.patch("/skus/{code}", response_model=SkuDetail, responses=problems(404))
async def update_sku(
    code: Annotated[str, Path(max_length=64)],
    patch: SkuPatch,
    session: Session,
    actor: Annotated[Actor, require("catalog.price")],
) -> SkuDetail:
    return await _detail(session, await service.update_sku(session, actor, code, patch))
