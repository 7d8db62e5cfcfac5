"""Console pages of the catalog: the SKU list, a SKU with its effective price, price history and
price-change form (a change beyond the floor or authority waits for a supervisor, who decides it
there), new products with their SKUs (CAT-1, CAT-2), a product's listing with its banned words
highlighted, edited and published (CAT-4). The price rules' pages are `pricing_console`."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import compliance, listing, pricing, service
from shopflow.catalog.compliance import Hit
from shopflow.catalog.errors import BannedWords
from shopflow.catalog.models import ListingStatus, PriceBand, Sku
from shopflow.catalog.schemas import CategoryIn, ProductIn, ProductPatch, PublishIn, SkuPatch
from shopflow.core import audit
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, form_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import AuditField, NavItem, Pages
from shopflow.core.console.render import columns, panels, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError, Invalid, NotFound

router = APIRouter(include_in_schema=False)
SKU_ROWS = 3  # SKU rows on the new-product form
SKU_FIELDS = ("code", "name", "price", "cost", "weight_g", "barcode", "safety_stock")

BANDS = {
    PriceBand.TRAFFIC: label("price band", "traffic"),
    PriceBand.PROFIT: label("price band", "profit"),
    PriceBand.IMAGE: label("price band", "image"),
}
SELLABLE = {"yes": True, "no": False}
ProductId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # what a BIGINT id holds
LISTING = {
    ListingStatus.DRAFT: label("listing status", "draft"),
    ListingStatus.PUBLISHED: label("listing status", "published"),
}
LISTING_FIELDS = ("name", "description")
MESSAGES = (
    (r"['\"](?P<value>.*)['\"] is not an amount", N_("%(value)s is not an amount")),
    (r"['\"].*['\"] is negative", N_("must not be negative")),
    (r"['\"].*['\"] has more than two decimals", N_("at most two decimals")),
    (r"['\"].*['\"] is too large", N_("is too large")),
    ("Input should be greater than or equal to 0", N_("must not be negative")),
    ("repeated in this request", N_("repeated in this form")),
    (r"['\"](?P<code>.*)['\"] already exists", N_("%(code)s already exists")),
    (
        r"String should match pattern '\^\[A-Za-z0-9\]\[A-Za-z0-9\._-\]\*\$'",
        N_("letters, digits, dots, hyphens and underscores only"),
    ),
    (r"Input should be 'traffic', 'profit' or 'image'", N_("choose a price band")),
    (r"List should have at most 2 items.*", N_("a category and at most one subcategory, as Home / Cups")),
    ("String should have at least 1 character", N_("a name is missing")),
    (r"no product (?P<product>\d+)", N_("There is no product %(product)s.")),
    (
        r"banned word ['\"](?P<word>.*)['\"] at position (?P<position>\d+)",
        N_("banned word “%(word)s” at position %(position)s"),
    ),
    (
        r"product \d+ uses banned words \(CAT-4\): edit it, or a manager gives a reason",
        N_("The listing uses banned words: edit them out, or a manager publishes it with a reason."),
    ),
    (
        r"product \d+ is published: its listing may not use banned words \(CAT-4\)",
        N_("The listing is published: it may not use banned words. Nothing was changed."),
    ),
    # CAT-3, CAT-2: price rules and pending prices
    ("must be after starts_at", N_("must be after the start")),
    ("give a SKU or a category, not both", N_("a SKU or a category, not both")),
    ("give a SKU or a category", N_("give a SKU or a category")),
    (r"no SKU ['\"](?P<code>.*)['\"]", N_("There is no SKU %(code)s.")),
    ("no such category", N_("no such category")),
    ("give a price or a percent off, one of them", N_("give a price or a percent off, one of them")),
    ("must be more than 0 and less than 100", N_("more than 0 and less than 100")),
    ("at most two decimals", N_("at most two decimals")),
    (r"['\"](?P<value>.*)['\"] is not a number", N_("%(value)s is not a number")),
    ("a category's rule takes a percent off, not a price", N_("a category's rule takes a percent off")),
    ("a category's rule keeps each SKU's band floor", N_("a category's rule keeps each SKU's band floor")),
    (r"a markdown is for one SKU \(its stock\)", N_("a markdown is for one SKU")),
    ("a markdown needs it", N_("a markdown needs it")),
    ("only a markdown has a stock trigger", N_("only a markdown has a stock trigger")),
    (r"must be below the list price (?P<price>[\d.]+)", N_("must be below the list price %(price)s")),
    (r"must not be above the list price (?P<price>[\d.]+)", N_("must not be above the list price %(price)s")),
    (r"is below the floor (?P<floor>[\d.]+) given", N_("is below the floor %(floor)s given")),
    (r"Input should be a valid datetime.*", N_("a date and time, as 2027-01-20 10:00")),
    (
        r"a price change of \S+ waits for approval already",
        N_("A price change of this SKU waits for approval already."),
    ),
    ("nobody approves or rejects their own request", N_("Nobody approves or rejects their own request.")),
    (r"a \w+ may grant up to .*", N_("This is beyond your discount authority.")),
    (r"a \w+ may not approve prices", N_("This is beyond your discount authority.")),
    (r"price rule cannot go from .*", N_("This rule is no longer waiting for a decision.")),
)


@router.get("/catalog")
async def sku_list(
    session: Session,
    c: Annotated[Console, can_view("catalog.read")],
    q: Annotated[str, Query(max_length=64)] = "",
    band: str = "",
    sellable: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    size = page_size()
    skus, total = await service.list_skus(
        session,
        q.strip() or None,
        PriceBand(band) if band in PriceBand.__members__.values() else None,
        SELLABLE.get(sellable),
        (page - 1) * size,
        size,
    )
    return render(
        c,
        "catalog/list.html",
        skus=skus,
        categories=await service.category_paths(session, {sku.product.category_id for sku in skus}),
        columns=await columns(session, c, "sku", {sku.id: sku.code for sku in skus}),
        filters={"q": q, "band": band, "sellable": sellable},
        bands=BANDS,
        statuses=LISTING,
        pager=Pager(page, size, total),
    )


def _product_form(
    c: Console, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> HTMLResponse:
    return render(
        c, "catalog/new.html", status, rows=range(SKU_ROWS), bands=BANDS, values=values, errors=errors
    )


@router.get("/catalog/new")
async def product_form(c: Annotated[Console, can_view("catalog.write")]) -> HTMLResponse:
    return _product_form(c, {}, {})


@router.post("/catalog/products")
async def create_product(session: Session, c: Annotated[Console, can_do("catalog.write")]) -> Response:
    """Create a product with its SKUs (CAT-1); on any error nothing is stored and the form comes
    back as typed, each error next to its field."""
    values = await form_values(c.request)
    skus, rows = [], []
    for row in range(SKU_ROWS):
        typed = {name: values.get(f"skus[{row}].{name}", "").strip() for name in SKU_FIELDS}
        if any(typed.values()):
            band = values.get(f"skus[{row}].price_band", "")
            skus.append({name: value for name, value in {**typed, "price_band": band}.items() if value})
            rows.append(row)

    def form_field(name: str) -> str:
        """`skus[1].code` of the service is the second filled row of the form, wherever it is."""
        found = re.fullmatch(r"skus\[(\d+)\](.*)", name)
        return name if found is None else f"skus[{rows[int(found[1])]}]{found[2]}"

    data: dict[str, Any] = {
        "name": values.get("name", "").strip(),
        "description": values.get("description", "").strip(),
        "skus": skus,
    }
    category = typed_category(values)
    if category is not None:
        data["category"] = category

    async def create() -> Response:
        product = await service.create_product(session, c.actor, parsed(ProductIn, data))  # type: ignore[arg-type]
        if product.status == ListingStatus.DRAFT:  # CAT-4: its banned words keep it off sale
            c.flash(
                c.gettext(
                    "Product %(name)s created as a draft: its listing uses banned words.", name=product.name
                ),
                "error",
            )
            return redirect(f"/catalog/products/{product.id}")
        c.flash(
            c.gettext(
                "Product %(name)s created with %(skus)d SKUs.", name=product.name, skus=len(product.skus)
            )
        )
        return redirect("/catalog?" + urlencode({"q": product.name}))

    async def refused(exc: AppError) -> Response:
        return _product_form(c, values, form_errors(exc, c, form_field), exc.status)

    return await attempt(c, session, create, refused, address="/catalog/new")


def typed_category(values: dict[str, str]) -> list[str] | None:
    """The category path typed as "家居 / 杯具": a category and its subcategory (blank: none)."""
    typed = values.get("category", "").strip()
    return [part.strip() for part in typed.split("/")] if typed else None


async def _detail(session: AsyncSession, c: Console, sku: Sku) -> dict[str, Any]:
    product = await service.product_of(session, sku)
    return {
        "sku": sku,
        "product": product,
        "category": (await service.category_paths(session, [product.category_id])).get(
            product.category_id or 0
        ),
        "columns": await columns(session, c, "sku", {sku.id: sku.code}),
        "panels": await panels(session, c, "sku", sku.id),
        "price_changes": await service.price_changes(session, sku),
        "effective": await pricing.price_at(session, sku.code),
        "pending": await pricing.pending_price_change(session, sku),
        "trail": await service.history(session, sku),
        "bands": BANDS,
        "statuses": LISTING,
        "values": {},
        "errors": {},
    }


def highlighted(text: str, found: list[Hit]) -> list[tuple[str, Hit | None]]:
    """`text` in pieces (`compliance.marked`), each banned word with its hit (the page marks it
    and names the word and its position), the rest with None."""
    hits = iter(sorted(found, key=lambda hit: hit.position))
    return [(piece, next(hits) if is_hit else None) for piece, is_hit in compliance.marked(text, found)]


def refusal_errors(exc: AppError, c: Console) -> dict[str, str]:
    """A refusal at the fields it names, every error of a field shown (a listing's banned words
    are several at one field), or for the whole form (`form`) when it names none."""
    shown: dict[str, list[str]] = {}
    for error in exc.errors:
        shown.setdefault(error.field, []).append(c.message(error.message))
    return {field: "; ".join(messages) for field, messages in shown.items()} or {"form": c.error(exc)}


async def _listing(session: AsyncSession, c: Console, product_id: int, **shown: Any) -> dict[str, Any]:
    """What the product page shows (CAT-4): its listing with its banned words, its SKUs, its
    history; `shown` adds what a refused form typed and why it was refused."""
    product = await listing.get_product(session, product_id)
    found = listing.findings(product.name, product.description)
    paths = await service.category_paths(session, [product.category_id])
    return {
        "product": product,
        "hits": found,
        "pieces": {
            field: highlighted(getattr(product, field), [hit for hit in found if hit.field == field])
            for field in LISTING_FIELDS
        },
        "statuses": LISTING,
        "category": paths.get(product.category_id or 0),
        "skus": product.skus,
        "trail": await audit.trail(session, "product", product.id),
        "values": {},
        "errors": {},
        "publish_values": {},
        "publish_errors": {},
    } | shown


@router.get("/catalog/products/{product_id}")
async def product_detail(
    product_id: ProductId, session: Session, c: Annotated[Console, can_view("catalog.read")]
) -> HTMLResponse:
    return render(c, "catalog/product.html", **await _listing(session, c, product_id))


@router.post("/catalog/products/{product_id}/edit")
async def edit_product(
    product_id: ProductId, session: Session, c: Annotated[Console, can_do("catalog.write")]
) -> Response:
    """Change the listing's title or description (CAT-4: a published one is refused a banned word,
    each named at its field); on an error nothing changes and the form comes back as typed."""
    values = await form_values(c.request)
    typed = {field: values[field].strip() for field in LISTING_FIELDS if field in values}
    address = f"/catalog/products/{product_id}"

    async def change() -> Response:
        product = await listing.get_product(session, product_id)
        changed = {field: text for field, text in typed.items() if text != getattr(product, field)}
        if not changed:
            c.flash(c.gettext("Nothing was changed."))
            return redirect(address)
        product = await listing.edit(session, c.actor, product_id, parsed(ProductPatch, changed))  # type: ignore[arg-type]
        c.flash(c.gettext("The listing of %(product)s is changed.", product=product.name))
        return redirect(address)

    async def refused(exc: AppError) -> Response:
        errors = refusal_errors(exc, c)
        if isinstance(exc, BannedWords):  # why the words named at their fields are refused
            errors["form"] = c.error(exc)
        shown = await _listing(session, c, product_id, values=typed, errors=errors)
        return render(c, "catalog/product.html", exc.status, **shown)

    return await attempt(c, session, change, refused, address=address)


@router.post("/catalog/products/{product_id}/publish")
async def publish_product(
    product_id: ProductId, session: Session, c: Annotated[Console, can_do("catalog.write")]
) -> Response:
    """Publish a draft (CAT-4): refused with its banned words named, unless a manager gives a
    reason (another role giving one: refused, 403); nothing changes when refused."""
    values = await form_values(c.request)
    reason = values.get("reason", "").strip()
    address = f"/catalog/products/{product_id}"

    async def publish() -> Response:
        given = parsed(PublishIn, {"reason": reason or None})
        product = await listing.publish(session, c.actor, product_id, given.reason)  # type: ignore[arg-type]
        c.flash(c.gettext("%(product)s is published: its SKUs are for sale.", product=product.name))
        return redirect(address)

    async def refused(exc: AppError) -> Response:
        errors = {"form": c.error(exc)}
        if isinstance(exc, BannedWords):
            errors["words"] = "; ".join(c.message(error.message) for error in exc.errors)
        elif exc.errors:
            errors = refusal_errors(exc, c)
        shown = await _listing(
            session, c, product_id, publish_values={"reason": reason}, publish_errors=errors
        )
        return render(c, "catalog/product.html", exc.status, **shown)

    return await attempt(c, session, publish, refused, address=address)


@router.get("/catalog/{code}")
async def sku_detail(
    code: str, session: Session, c: Annotated[Console, can_view("catalog.read")]
) -> HTMLResponse:
    return render(c, "catalog/sku.html", **await _detail(session, c, await service.get_sku(session, code)))


@router.post("/catalog/{code}/price")
async def change_price(
    code: str, session: Session, c: Annotated[Console, can_do("catalog.price")]
) -> Response:
    """Change a SKU's price, recorded with who and when (CAT-2); on an error nothing changes and
    the form comes back as typed."""
    values = await form_values(c.request)
    price = values.get("price", "").strip()

    async def change() -> Response:
        before = (await service.get_sku(session, code)).price
        if not price:
            raise Invalid(
                "the form has errors; nothing was changed", errors=[FieldError("price", "is required")]
            )
        patch = parsed(SkuPatch, {"price": price, "reason": values.get("reason", "").strip()})
        sku = await service.update_sku(session, c.actor, code, patch)  # type: ignore[arg-type]
        if sku.price == before and price and await pricing.pending_price_change(session, sku) is not None:
            c.flash(c.gettext("The new price of %(sku)s waits for a supervisor's approval.", sku=sku.code))
        elif sku.price == before:
            c.flash(
                c.gettext("The price of %(sku)s stays %(price)s.", sku=sku.code, price=c.money(sku.price))
            )
        else:
            c.flash(
                c.gettext(
                    "The price of %(sku)s is now %(price)s (was %(before)s).",
                    sku=sku.code,
                    price=c.money(sku.price),
                    before=c.money(before),
                )
            )
        return redirect(f"/catalog/{sku.code}")

    async def refused(exc: AppError) -> Response:
        details = await _detail(session, c, await service.get_sku(session, code))
        details.update(values=values, errors=form_errors(exc, c))
        return render(c, "catalog/sku.html", exc.status, **details)

    return await attempt(c, session, change, refused, address=f"/catalog/{code}")


@router.post("/catalog/{code}/category")
async def change_category(
    code: str, session: Session, c: Annotated[Console, can_do("catalog.write")]
) -> Response:
    """File the SKU's product under the category path typed ("家居 / 杯具"; blank: none), audited;
    on an error nothing changes and the form comes back as typed."""
    values = await form_values(c.request)

    async def change() -> Response:
        sku = await service.get_sku(session, code)
        chosen = parsed(CategoryIn, {"category": typed_category(values)})
        product = await service.set_category(session, c.actor, sku.product_id, chosen.category)  # type: ignore[arg-type]
        shown = " / ".join(chosen.category) if chosen.category else c.gettext("no category")
        c.flash(c.gettext("%(product)s is filed under %(category)s.", product=product.name, category=shown))
        return redirect(f"/catalog/{sku.code}")

    async def refused(exc: AppError) -> Response:
        details = await _detail(session, c, await service.get_sku(session, code))
        details.update(values=values, errors=form_errors(exc, c, lambda _: "category"))
        return render(c, "catalog/sku.html", exc.status, **details)

    return await attempt(c, session, change, refused, address=f"/catalog/{code}")


@router.post("/catalog/{code}/price-change/{verdict}")
async def decide_price_change(
    code: str, verdict: str, session: Session, c: Annotated[Console, can_do(pricing.APPROVE)]
) -> Response:
    """A supervisor approves or rejects the SKU's pending price change (CAT-2)."""
    if verdict not in ("approve", "reject"):
        raise NotFound(f"no action {verdict!r}")
    note = (await form_values(c.request)).get("note", "").strip()

    async def decide() -> Response:
        sku = await pricing.decide_price_change(session, c.actor, code, verdict == "approve", note)
        c.flash(
            c.gettext("The price of %(sku)s is now %(price)s.", sku=sku.code, price=c.money(sku.price))
            if verdict == "approve"
            else c.gettext("The price change of %(sku)s is rejected.", sku=sku.code)
        )
        return redirect(f"/catalog/{sku.code}")

    async def refused(exc: AppError) -> Response:
        details = await _detail(session, c, await service.get_sku(session, code))
        details.update(errors={"decision": decision_error(c, exc)})
        return render(c, "catalog/sku.html", exc.status, **details)

    return await attempt(c, session, decide, refused, address=f"/catalog/{code}")


def decision_error(c: Console, exc: AppError) -> str:
    """Why a decision was refused: one's own request and beyond one's authority said as such."""
    if exc.code in ("own_request", "beyond_authority"):
        return c.message(exc.detail)
    return c.error(exc)


PAGES = Pages(
    router,
    nav=(NavItem("/catalog", label("nav", "Catalog"), "catalog.read", 25),),
    states={"product": LISTING},
    actions={
        "product.created": label("audit action", "Product created"),
        "product.published": label("audit action", "Listing published"),
        "product.updated": label("audit action", "Product changed"),
        "sku.updated": label("audit action", "SKU changed"),
    },
    fields={
        "price": AuditField(label("audit field", "Price"), money=True),
        "cost": AuditField(label("audit field", "Cost"), money=True),
        "sellable": AuditField(label("audit field", "For sale")),
        "skus": AuditField(label("audit field", "SKUs")),
        "description": AuditField(label("audit field", "Description")),
        "hits": AuditField(label("audit field", "Banned words")),
    },
    messages=MESSAGES,
)
