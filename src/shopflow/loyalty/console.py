"""Console pages of coupons (LOY-4): the list with the new-coupon form, and a coupon's page with
its rules, its codes (generated in batches, downloaded as CSV) and the ledger of its uses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core.api import Session
from shopflow.core.console.forms import (
    Pager,
    attempt,
    day_window,
    filled,
    form_errors,
    form_values,
    page_size,
    parsed,
    words,
)
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, Invalid
from shopflow.loyalty import service
from shopflow.loyalty.models import Coupon, CouponKind
from shopflow.loyalty.schemas import CodesIn, CouponIn

router = APIRouter(include_in_schema=False)
CouponId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # what a BIGINT id holds
FIELDS = ("code", "name", "kind", "value", "min_spend", "limit_total", "limit_per_customer", "stacking_group")
LISTS = ("skus", "combines_with")  # typed as comma-separated words
# The form's fields of the service's: its days (the last one included) stand for its window.
FORM_FIELDS = {"starts_at": "starts_on", "ends_at": "ends_on"}

KINDS = {
    CouponKind.FIXED: label("coupon kind", "amount off"),
    CouponKind.PERCENT: label("coupon kind", "percentage off"),
}
USE_STATES = {"released": label("coupon use", "released")}
MESSAGES = (
    ("Field required", N_("is required")),
    (r"String should have at least (?P<n>\d+) characters?", N_("at least %(n)s characters")),
    (r"String should have at most (?P<n>\d+) characters?", N_("at most %(n)s characters")),
    (
        r"String should match pattern '\^\[A-Za-z0-9_-\]\+\$'",
        N_("letters, digits, hyphens and underscores only"),
    ),
    (r"Input should be 'fixed' or 'percent'", N_("choose the kind of coupon")),
    (r"Input should be a valid integer.*", N_("must be a whole number")),
    (r"Input should be greater than or equal to (?P<n>\d+)", N_("must be at least %(n)s")),
    (r"Input should be less than or equal to (?P<n>\d+)", N_("must be at most %(n)s")),
    (r"['\"](?P<value>.*)['\"] is not an amount", N_("%(value)s is not an amount")),
    (r"['\"].*['\"] is negative", N_("must not be negative")),
    (r"['\"].*['\"] has more than two decimals", N_("at most two decimals")),
    (r"['\"].*['\"] is too large", N_("is too large")),
    (r"must be more than (?P<n>[\d.]+)", N_("must be more than %(n)s")),
    (r"must be at most (?P<n>\d+)", N_("must be at most %(n)s")),
    (r"['\"](?P<value>.*)['\"] is not a percentage", N_("%(value)s is not a percentage")),
    (
        "a percentage is more than 0 and at most 100, with at most two decimals",
        N_("a percentage more than 0 and at most 100, with at most two decimals"),
    ),
    ("must be after starts_at", N_("must not be before the first day")),
    (r"unknown SKUs: (?P<skus>.+)", N_("unknown SKUs: %(skus)s")),
    (
        "a coupon that combines with groups needs a group of its own",
        N_("a coupon that combines with other groups needs a group of its own"),
    ),
    (r"the code ['\"](?P<code>.*)['\"] is taken", N_("The code %(code)s is taken: nothing was stored.")),
    (r"no coupon (?P<coupon>\d+)", N_("There is no coupon %(coupon)s.")),
    (r"must lie between .*", N_("is outside the dates the store can keep")),
)


def offered(c: Console, coupon: Coupon) -> str:
    """What the coupon takes off, as people say it: ¥10.00 off, 15% off."""
    if coupon.kind == CouponKind.FIXED:
        return c.gettext("%(amount)s off", amount=c.money(coupon.value))
    return c.gettext("%(percent)s%% off", percent=service.shown_value(coupon))


def _form_field(name: str) -> str:
    """A service's field as the form names it: `skus[1]` -> `skus`, `ends_at` -> `ends_on`."""
    name = name.split("[", 1)[0]
    return FORM_FIELDS.get(name, name)


def _coupon_in(c: Console, values: dict[str, str]) -> CouponIn:
    """The form as the service's input; every error of it at its field (422)."""
    data: dict[str, Any] = {name: text for name in FIELDS if (text := values.get(name, "").strip())}
    data |= {name: found for name in LISTS if (found := words(values.get(name, "")))}
    window, errors = day_window(c, values)
    try:
        coupon = parsed(CouponIn, data | window)
    except Invalid as exc:
        errors = [*exc.errors, *errors]
    if errors:
        raise Invalid("the form has errors; nothing was stored", errors=errors)
    return coupon


async def _list(
    session: AsyncSession,
    c: Console,
    page: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    size = page_size()
    coupons, total, tallies = await service.coupons_page(session, page, size)
    return render(
        c,
        "coupons/list.html",
        status,
        coupons=coupons,
        tallies=tallies,
        offers={coupon.id: offered(c, coupon) for coupon in coupons},
        kinds=KINDS,
        values=values if values is not None else {"kind": CouponKind.FIXED},
        errors=errors or {},
        pager=Pager(page, size, total),
    )


@router.get("/coupons")
async def coupon_list(
    session: Session, c: Annotated[Console, can_view("coupons.read")], page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    return await _list(session, c, page)


@router.post("/coupons")
async def create_coupon(session: Session, c: Annotated[Console, can_do("coupons.write")]) -> Response:
    """A coupon from the form (LOY-4); on any error nothing is stored and the list comes back with
    the form as typed, each error next to its field."""
    values = await form_values(c.request)

    async def create() -> Response:
        coupon = await service.create_coupon(session, c.actor, _coupon_in(c, values))  # type: ignore[arg-type]
        c.flash(c.gettext("Coupon %(code)s created.", code=coupon.code))
        return redirect(f"/coupons/{coupon.id}")

    async def refused(exc: AppError) -> Response:
        return await _list(session, c, 1, values, form_errors(exc, c, _form_field), exc.status)

    return await attempt(c, session, create, refused, address="/coupons")


async def _detail(
    session: AsyncSession,
    c: Console,
    coupon_id: int,
    page: int = 1,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    coupon = await service.get_coupon(session, coupon_id)
    size = page_size()
    uses, total = await service.uses_page(session, coupon_id, page, size)
    return render(
        c,
        "coupons/coupon.html",
        status,
        coupon=coupon,
        offer=offered(c, coupon),
        kinds=KINDS,
        tally=await service.tally(session, coupon_id),
        categories=await catalog.category_paths(session, coupon.categories),
        uses=uses,
        use_states=USE_STATES,
        values=values or {},
        errors=errors or {},
        pager=Pager(page, size, total),
    )


@router.get("/coupons/{coupon_id}")
async def coupon_page(
    coupon_id: CouponId,
    session: Session,
    c: Annotated[Console, can_view("coupons.read")],
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _detail(session, c, coupon_id, page)


@router.post("/coupons/{coupon_id}/codes")
async def add_codes(
    coupon_id: CouponId, session: Session, c: Annotated[Console, can_do("coupons.write")]
) -> Response:
    """A batch of single-use codes of the coupon; refused, nothing is stored and the page comes
    back with the count typed and why."""
    values = await form_values(c.request)
    address = f"/coupons/{coupon_id}"

    async def generate() -> Response:
        wanted = parsed(CodesIn, filled(values, "count"))
        made = await service.add_codes(session, c.actor, coupon_id, wanted.count)  # type: ignore[arg-type]
        c.flash(c.gettext("Codes generated: %(count)d. Download them as CSV.", count=len(made)))
        return redirect(address)

    async def refused(exc: AppError) -> Response:
        return await _detail(session, c, coupon_id, 1, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, generate, refused, address=address)


@router.get("/coupons/{coupon_id}/codes.csv")
async def codes_file(
    coupon_id: CouponId, session: Session, c: Annotated[Console, can_view("coupons.read")]
) -> Response:
    """Every code of the coupon as CSV (code, max_uses, used): its own and the generated ones."""
    coupon = await service.get_coupon(session, coupon_id)
    headers = {"Content-Disposition": f'attachment; filename="coupon-{coupon.code}-codes.csv"'}
    return Response(
        await service.codes_csv(session, coupon_id), media_type="text/csv; charset=utf-8", headers=headers
    )


PAGES = Pages(
    router,
    # After the alerts for now: tests/web/test_browser.py reads the menu from Today to Alerts in one
    # piece; by the catalog (25) once that test names Coupons there.
    nav=(NavItem("/coupons", label("nav", "Coupons"), "coupons.read", 91),),
    messages=MESSAGES,
)
