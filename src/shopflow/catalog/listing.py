"""Listings (CAT-4): a product is a draft or published; only a published product's SKUs are sold
(order intake checks it). Publishing checks the title and description against the policy's banned
words: with a hit it is refused (422, each word and position named) until the text is edited, or
a manager publishes it anyway with a reason. Editing a published listing into a banned word is
refused the same way (the listing on sale never shows one). Every change is audited (AUD-1)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import compliance, repository
from shopflow.catalog.compliance import Hit
from shopflow.catalog.errors import BannedWords, ProductNotFound
from shopflow.catalog.models import ListingStatus, Product
from shopflow.catalog.schemas import ProductPatch
from shopflow.core import audit, auth, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Forbidden, Invalid


def findings(name: str, description: str) -> list[Hit]:
    """The banned words of a title and description (the policy's list)."""
    return compliance.hits({"name": name, "description": description}, policy.current().catalog.banned_words)


def refusal(message: str, found: list[Hit]) -> BannedWords:
    return BannedWords(
        message,
        errors=[FieldError(h.field, f"banned word {h.word!r} at position {h.position}") for h in found],
    )


def _hits(found: list[Hit]) -> list[dict[str, object]]:
    return [{"field": h.field, "word": h.word, "position": h.position} for h in found]


async def get_product(session: AsyncSession, product_id: int, *, lock: bool = False) -> Product:
    product = await repository.product(session, product_id, lock=lock)
    if product is None:
        raise ProductNotFound(f"no product {product_id}")
    return product


async def publish(session: AsyncSession, actor: Actor, product_id: int, reason: str | None) -> Product:
    """Publish a product: refused with its banned words unless a manager gives a reason
    (`catalog.override`); publishing a published product changes nothing."""
    product = await get_product(session, product_id, lock=True)
    if product.status == ListingStatus.PUBLISHED:
        return product
    found = findings(product.name, product.description)
    if found and not reason:
        raise refusal(
            f"product {product_id} uses banned words (CAT-4): edit it, or a manager gives a reason", found
        )
    if found and not auth.allowed(actor.role, "catalog.override"):
        raise Forbidden(
            f"only a manager may publish a listing with banned words, not role {actor.role!r}",
            code="forbidden",
        )
    at = clock.now()
    product.status = ListingStatus.PUBLISHED
    product.published_at = at
    product.override_reason = reason if found else None
    after = {"status": product.status} | ({"hits": _hits(found), "reason": reason} if found else {})
    await audit.record(
        session,
        audit.row(
            actor, "product.published", "product", product.id, {"status": ListingStatus.DRAFT}, after, at
        ),
    )
    return product


async def edit(session: AsyncSession, actor: Actor, product_id: int, patch: ProductPatch) -> Product:
    """Change a product's title or description; a published one is refused a banned word."""
    product = await get_product(session, product_id, lock=True)
    changes = patch.model_dump(exclude_none=True)
    if not changes:
        raise Invalid("nothing to change", errors=[FieldError("name", "give a name or a description")])
    name = changes.get("name", product.name)
    description = changes.get("description", product.description)
    found = findings(name, description)
    if found and product.status == ListingStatus.PUBLISHED:
        raise refusal(
            f"product {product_id} is published: its listing may not use banned words (CAT-4)", found
        )
    before = {field: getattr(product, field) for field in changes}
    product.name, product.description = name, description
    await audit.record(
        session, audit.row(actor, "product.updated", "product", product.id, before, changes, clock.now())
    )
    return product


async def scan(
    session: AsyncSession, batch: int, progress: Callable[[int, int], None] | None = None
) -> list[tuple[Product, list[Hit]]]:
    """Every product with a banned word in its title or description, in id order; `progress` is
    told (products checked, products in all) after each batch."""
    total = await repository.product_count(session)
    found: list[tuple[Product, list[Hit]]] = []
    checked = after = 0
    while page := await repository.products_page(session, after, batch):
        for product in page:
            hits = findings(product.name, product.description)
            if hits:
                found.append((product, hits))
        checked += len(page)
        after = page[-1].id
        if progress is not None:
            progress(checked, total)
    return found
