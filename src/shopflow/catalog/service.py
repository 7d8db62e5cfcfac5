"""Catalog use cases (CAT-1, CAT-2 price-change record and its approval)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import listing, pricing, repository
from shopflow.catalog.errors import DuplicateSku, SkuNotFound
from shopflow.catalog.models import ListingStatus, PriceBand, PriceChange, Product, Sku
from shopflow.catalog.schemas import ProductIn, SkuPatch
from shopflow.core import audit, clock
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid, NotFound

SaleFacts = repository.SaleFacts  # what order intake checks of a SKU (ORD-2)


async def create_product(session: AsyncSession, actor: Actor, data: ProductIn) -> Product:
    codes = [sku.code for sku in data.skus]
    repeated = {code for code, n in Counter(codes).items() if n > 1}
    errors = [
        FieldError(f"skus[{i}].code", "repeated in this request")
        for i, code in enumerate(codes)
        if code in repeated
    ]
    if errors:
        raise Invalid("SKU codes repeat", errors=errors)
    taken = await repository.existing_codes(session, codes)
    if taken:
        raise DuplicateSku(
            "SKU codes already exist",
            errors=[
                FieldError(f"skus[{i}].code", f"{code!r} already exists")
                for i, code in enumerate(codes)
                if code in taken
            ],
        )
    category = None if data.category is None else await category_for(session, data.category)
    at = clock.now()
    clean = not listing.findings(data.name, data.description)
    published = data.publish and clean
    product = Product(
        name=data.name,
        description=data.description,
        category_id=category,
        created_at=at,
        status=ListingStatus.PUBLISHED if published else ListingStatus.DRAFT,
        published_at=at if published else None,
    )
    product.skus = [Sku(**sku.model_dump(), sellable=True) for sku in data.skus]
    session.add(product)
    await session.flush()
    await audit.record(
        session,
        audit.row(
            actor,
            "product.created",
            "product",
            product.id,
            None,
            {"name": data.name, "skus": codes, "status": product.status}
            | ({} if data.category is None else {"category": data.category}),
        ),
    )
    return product


async def get_sku(session: AsyncSession, code: str) -> Sku:
    sku = await repository.sku_by_code(session, code)
    if sku is None:
        raise SkuNotFound(f"no SKU {code!r}")
    return sku


async def price_history(session: AsyncSession, sku: Sku) -> list[PriceChange]:
    return [change for change, _ in await repository.price_history(session, sku.id)]


async def price_changes(session: AsyncSession, sku: Sku) -> list[tuple[PriceChange, str | None]]:
    """CAT-2 as people read it: each price change with the username of who made it."""
    return await repository.price_history(session, sku.id)


async def product_of(session: AsyncSession, sku: Sku) -> Product:
    found = await repository.product(session, sku.product_id)
    assert found is not None  # a foreign key
    return found


async def history(session: AsyncSession, sku: Sku) -> list[audit.AuditEntry]:
    """A SKU's audit trail: its product's creation, then the SKU's own changes."""
    entries = [
        *await audit.trail(session, "product", sku.product_id),
        *await audit.trail(session, "sku", sku.code),
    ]
    return sorted(entries, key=lambda entry: entry.id)


async def list_skus(
    session: AsyncSession,
    search: str | None,
    band: PriceBand | None,
    sellable: bool | None,
    offset: int,
    limit: int,
) -> tuple[list[Sku], int]:
    """A page of SKUs by code, each with its product loaded, and how many match (CAT-1)."""
    return await repository.sku_page(session, search, band, sellable, offset, limit)


async def update_sku(session: AsyncSession, actor: Actor, code: str, patch: SkuPatch) -> Sku:
    """Change name, cost, sellability or price; a price change is recorded (CAT-2). A new price
    below the band's floor or cut beyond the actor's authority waits for a supervisor
    (`pricing.request_price_change`): the old price holds, the other changes apply."""
    sku = await get_sku(session, code)
    asked = patch.model_dump(exclude_unset=True, exclude={"reason"}, exclude_none=True)
    changes = {key: value for key, value in asked.items() if getattr(sku, key) != value}
    if "price" in changes:
        reasons, discount = pricing.change_reasons(actor, sku, changes["price"])
        if reasons:
            new_price = changes.pop("price")
            await pricing.request_price_change(
                session, actor, sku, new_price, patch.reason, reasons, discount
            )
    if not changes:
        return sku  # nothing changes, so nothing is recorded
    before = {key: getattr(sku, key) for key in changes}
    if "price" in changes:
        session.add(
            PriceChange(
                sku_id=sku.id,
                old_price=sku.price,
                new_price=changes["price"],
                changed_by=actor.user_id,
                changed_at=clock.now(),
                reason=patch.reason,
            )
        )
    for key, value in changes.items():
        setattr(sku, key, value)
    await session.flush()
    await audit.record(session, audit.row(actor, "sku.updated", "sku", sku.code, before, changes))
    return sku


async def skus_by_codes(session: AsyncSession, codes: list[str]) -> dict[str, Sku]:
    return await repository.skus_by_codes(session, codes)


async def skus_by_ids(session: AsyncSession, sku_ids: list[int]) -> dict[int, Sku]:
    return await repository.skus_by_ids(session, sku_ids)


async def sale_facts(session: AsyncSession, codes: list[str]) -> dict[str, SaleFacts]:
    """Id, name, current price and sellability per SKU code: what order intake checks (ORD-2)."""
    return await repository.sale_facts(session, codes)


async def existing_rule_ids(session: AsyncSession, rule_ids: Iterable[int]) -> set[int]:
    """Those of `rule_ids` that name a price rule (CAT-3)."""
    return await repository.existing_rule_ids(session, rule_ids)


async def category_parents(session: AsyncSession, category_ids: Iterable[int]) -> dict[int, int | None]:
    """The parent of each of the categories that exist (None: top-level), by id."""
    return await repository.category_parents(session, category_ids)


def category_path(name: str, parent: str | None) -> str:
    """A category as people write its path: "家居 / 杯具", or a top-level one's name alone."""
    return name if parent is None else f"{parent} / {name}"


async def category_paths(session: AsyncSession, category_ids: Iterable[int | None]) -> dict[int, str]:
    """The path of each category (ids of products without one are skipped), by id."""
    found = await repository.category_names(session, (i for i in category_ids if i is not None))
    return {i: category_path(name, parent) for i, (name, parent) in found.items()}


async def set_category(
    session: AsyncSession, actor: Actor, product_id: int, path: Sequence[str] | None
) -> Product:
    """File the product under the category at `path` (found or created; None: under none), audited
    `product.updated` with the path before and after; nothing is recorded when it stays."""
    product = await repository.product(session, product_id)
    if product is None:
        raise NotFound(f"no product {product_id}")
    category = None if path is None else await category_for(session, path)
    if category == product.category_id:
        return product
    paths = await category_paths(session, (product.category_id, category))
    before, after = paths.get(product.category_id or 0), paths.get(category or 0)
    product.category_id = category
    await session.flush()
    await audit.record(
        session,
        audit.row(actor, "product.updated", "product", product.id, {"category": before}, {"category": after}),
    )
    return product


async def category_for(session: AsyncSession, path: Sequence[str]) -> int:
    """The id of the category at `path` (a top-level name, then optionally a subcategory's) in the
    two-level tree, each level found or created: importers file products under it."""
    parent: int | None = None
    for name in path:
        found = await repository.category_id(session, parent, name)
        if found is None:
            found = await repository.add_category(session, parent, name)
        if found is None:  # added meanwhile by another transaction
            found = await repository.category_id(session, parent, name)
        assert found is not None
        parent = found
    if parent is None:
        raise ValueError("a category path names at least one category")
    return parent


async def find_category(session: AsyncSession, path: Sequence[str]) -> int | None:
    """The id of the category at `path` ("服装", then optionally "T恤") if it exists; never adds."""
    parent: int | None = None
    for name in path:
        parent = await repository.category_id(session, parent, name)
        if parent is None:
            return None
    return parent
