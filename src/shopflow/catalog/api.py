from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from shopflow.catalog import listing, pricing, service
from shopflow.catalog.models import ListingStatus, PriceRule, PriceRuleKind, PriceRuleState, Product, Sku
from shopflow.catalog.schemas import (
    DecisionIn,
    EffectivePriceOut,
    HitOut,
    PendingPriceOut,
    PriceChangeOut,
    PriceRuleIn,
    PriceRuleOut,
    ProductIn,
    ProductOut,
    ProductPatch,
    PublishIn,
    SkuDetail,
    SkuOut,
    SkuPatch,
)
from shopflow.core import clock
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Page, When

router = APIRouter(tags=["catalog"], responses=problems(401, 403))


async def _detail(session: Session, sku: Sku) -> SkuDetail:
    history = await service.price_history(session, sku)
    pending = await pricing.pending_price_change(session, sku)
    return SkuDetail(
        **SkuOut.model_validate(sku).model_dump(),
        price_history=[PriceChangeOut.model_validate(change) for change in history],
        pending_price_change=None
        if pending is None
        else PendingPriceOut(
            approval_id=pending.id,
            new_price=int(pending.asked["new_price"]),
            reasons=pending.reasons,
            requested_by=pending.requested_by_name,
            requested_at=pending.requested_at,
        ),
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


SkuCode = Annotated[str, Path(max_length=64)]


@router.post("/skus/{code}/price-change/approve", response_model=SkuDetail, responses=problems(404, 409))
async def approve_price_change(
    code: SkuCode,
    session: Session,
    actor: Annotated[Actor, require(pricing.APPROVE)],
    data: DecisionIn | None = None,
) -> SkuDetail:
    """CAT-2: a supervisor approves the SKU's pending price change, which applies now (403 for
    one's own request or beyond one's authority; 404 when none waits)."""
    note = "" if data is None else data.note
    return await _detail(session, await pricing.decide_price_change(session, actor, code, True, note))


@router.post("/skus/{code}/price-change/reject", response_model=SkuDetail, responses=problems(404, 409))
async def reject_price_change(
    code: SkuCode,
    session: Session,
    actor: Annotated[Actor, require(pricing.APPROVE)],
    data: DecisionIn | None = None,
) -> SkuDetail:
    """CAT-2: a supervisor rejects the SKU's pending price change; the price stays."""
    note = "" if data is None else data.note
    return await _detail(session, await pricing.decide_price_change(session, actor, code, False, note))


@router.get("/skus/{code}/price", response_model=EffectivePriceOut, responses=problems(404))
async def sku_price(
    code: SkuCode,
    session: Session,
    _: Annotated[Actor, require("catalog.read")],
    at: Annotated[When | None, Query()] = None,
) -> EffectivePriceOut:
    """CAT-3: the SKU's effective price at `at` (default now): the lowest of the price rules in
    force, never under its floor, and why; what order intake charges."""
    found = await pricing.price_at(session, code, at)
    return EffectivePriceOut(
        sku=found.sku.code,
        at=found.at,
        list_price=found.list_price,
        price=found.price,
        rule_id=None if found.rule is None else found.rule.id,
        rule=None if found.rule is None else found.rule.name,
        reason=found.reason,
    )


async def rules_out(session: Session, rules: list[PriceRule]) -> list[PriceRuleOut]:
    codes = await pricing.sku_codes(session, rules)
    paths = await service.category_paths(session, {r.category_id for r in rules})
    now = clock.now()
    return [
        PriceRuleOut(
            id=r.id,
            name=r.name,
            kind=PriceRuleKind(r.kind),
            state=PriceRuleState(r.state),
            sku=None if r.sku_id is None else codes.get(r.sku_id),
            category=r.category_id,
            category_path=None if r.category_id is None else paths.get(r.category_id),
            price=r.price,
            percent=pricing.percent_text(r.percent_bp),
            floor=r.floor,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            stock_above=r.stock_above,
            stock_days=r.stock_days,
            above_since=r.above_since,
            marked_from=r.marked_from,
            in_force=r.in_force(now),
            reasons=list(r.reasons or []),
            approval_id=r.approval_id,
            created_at=r.created_at,
        )
        for r in rules
    ]


RuleId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/price-rules", response_model=Page[PriceRuleOut])
async def list_price_rules(
    session: Session, pages: Pages, _: Annotated[Actor, require("catalog.read")]
) -> Page[PriceRuleOut]:
    """CAT-3: the price rules, newest first."""
    rules, total = await pricing.list_rules(session, (pages.page - 1) * pages.page_size, pages.page_size)
    return Page[PriceRuleOut](**pages.of(await rules_out(session, rules), total))


@router.post("/price-rules", status_code=201, response_model=PriceRuleOut, responses=problems(422))
async def create_price_rule(
    data: PriceRuleIn, session: Session, actor: Annotated[Actor, require("catalog.price")]
) -> PriceRuleOut:
    """CAT-3: a promotion or a stock markdown for a SKU or a category. Below the band's floor or
    beyond the creator's discount authority it is `pending` (not in force) until a supervisor
    approves it (CAT-2)."""
    return (await rules_out(session, [await pricing.create_rule(session, actor, data)]))[0]


@router.get("/price-rules/{rule_id}", response_model=PriceRuleOut, responses=problems(404))
async def get_price_rule(
    rule_id: RuleId, session: Session, _: Annotated[Actor, require("catalog.read")]
) -> PriceRuleOut:
    return (await rules_out(session, [await pricing.get_rule(session, rule_id)]))[0]


@router.post("/price-rules/{rule_id}/approve", response_model=PriceRuleOut, responses=problems(404, 409))
async def approve_price_rule(
    rule_id: RuleId,
    session: Session,
    actor: Annotated[Actor, require(pricing.APPROVE)],
    data: DecisionIn | None = None,
) -> PriceRuleOut:
    """CAT-2: a supervisor approves a pending rule: in force within its window from now on (403
    for one's own request or beyond one's authority; 409 unless pending)."""
    note = "" if data is None else data.note
    return (await rules_out(session, [await pricing.decide_rule(session, actor, rule_id, True, note)]))[0]


@router.post("/price-rules/{rule_id}/reject", response_model=PriceRuleOut, responses=problems(404, 409))
async def reject_price_rule(
    rule_id: RuleId,
    session: Session,
    actor: Annotated[Actor, require(pricing.APPROVE)],
    data: DecisionIn | None = None,
) -> PriceRuleOut:
    """CAT-2: a supervisor rejects a pending rule: never in force."""
    note = "" if data is None else data.note
    return (await rules_out(session, [await pricing.decide_rule(session, actor, rule_id, False, note)]))[0]
