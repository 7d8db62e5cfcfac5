from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shopflow.catalog import listing, service
from shopflow.catalog.models import ListingStatus, Product, Sku
from shopflow.catalog.schemas import (
    HitOut,
    PriceChangeOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    PublishIn,
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


def _product(product: Product) -> ProductOut:
    return ProductOut(
        id=product.id,
        name=product.name,
        description=product.description,
        category_id=product.category_id,
        status=ListingStatus(product.status),
        published_at=product.published_at,
        override_reason=product.override_reason,
        hits=[
            HitOut(field=h.field, word=h.word, position=h.position)
            for h in listing.findings(product.name, product.description)
        ],
        skus=[SkuOut.model_validate(sku) for sku in product.skus],
    )


@router.post("/products", status_code=201, response_model=ProductOut, responses=problems(409))
async def create_product(
    data: ProductIn, session: Session, actor: Annotated[Actor, require("catalog.write")]
) -> ProductOut:
    """A product and its SKUs; published at once unless it uses banned words (CAT-4: then a draft,
    its `hits` named) or `publish` is false."""
    return _product(await service.create_product(session, actor, data))


ProductId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/products/{product_id}", response_model=ProductOut, responses=problems(404))
async def get_product(
    product_id: ProductId, session: Session, _: Annotated[Actor, require("catalog.read")]
) -> ProductOut:
    return _product(await listing.get_product(session, product_id))


@router.patch("/products/{product_id}", response_model=ProductOut, responses=problems(404))
async def edit_product(
    product_id: ProductId,
    patch: ProductPatch,
    session: Session,
    actor: Annotated[Actor, require("catalog.write")],
) -> ProductOut:
    """Change the title or description; a published listing is refused a banned word (422)."""
    return _product(await listing.edit(session, actor, product_id, patch))


@router.post("/products/{product_id}/publish", response_model=ProductOut, responses=problems(404))
async def publish_product(
    product_id: ProductId,
    session: Session,
    actor: Annotated[Actor, require("catalog.write")],
    data: PublishIn | None = None,
) -> ProductOut:
    """CAT-4: publish a draft; with banned words a 422 naming each word and position, unless a
    manager gives a `reason` (another role: 403)."""
    return _product(await listing.publish(session, actor, product_id, None if data is None else data.reason))


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
