"""The customer's own page, `/my/orders/{token}`: opened from the signed link in every order
notice, without an account, on a phone; in Chinese or English (`?lang=`, else the browser's
Accept-Language). It shows the order, its parcels' tracking and its after-sales cases, and lets
the customer confirm receipt and send a return or exchange request, previewed first. Its routes
are public operations of the OpenAPI document (`x-public`), limited per address like the API's
list requests; every POST carries the form key bound to its link. The order page of the console
shows staff the customer's link (`PAGES.panels`)."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales.models import CaseType, Reason, rule_days
from shopflow.aftersales.schemas import CaseIn
from shopflow.aftersales.service import Assessment
from shopflow.core import clock, policy
from shopflow.core.api import PUBLIC, Session, SlidingWindow
from shopflow.core.console.forms import attempt, form_errors, form_values, parsed
from shopflow.core.console.i18n import DEFAULT_LOCALE, N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import Pages, Registry
from shopflow.core.console.render import fragment, redirect, render
from shopflow.core.errors import AppError, FieldError, Invalid, TooManyRequests
from shopflow.fulfillment.models.shipments import TrackingStatus
from shopflow.orders.models import Order
from shopflow.orders.service import queries as orders
from shopflow.portal import service
from shopflow.portal.errors import FormRefused, LinkExpired, LinkRefused

router = APIRouter(tags=["customer page"])
FORM_KEY_FIELD = "csrf"
FORM_KEY_HEADER = "X-CSRF-Token"
# The kinds of request a customer sends from the page (repairs and compensation go through service).
REQUEST_TYPES = {
    CaseType.RETURN_REFUND: label("case type", "Return and refund"),
    CaseType.REFUND_ONLY: label("case type", "Refund only"),
    CaseType.EXCHANGE: label("case type", "Exchange"),
}
TYPES = {
    **REQUEST_TYPES,
    CaseType.REPAIR: label("case type", "Repair"),
    CaseType.COMPENSATION: label("case type", "Compensation"),
}
REASONS = {
    Reason.NO_REASON: label("case reason", "No reason (unopened)"),
    Reason.QUALITY: label("case reason", "Quality problem"),
    Reason.WRONG_ITEM: label("case reason", "Wrong item sent"),
    Reason.DAMAGED_IN_TRANSIT: label("case reason", "Damaged in transit"),
    Reason.OTHER: label("case reason", "Other"),
}
TRACKING = {
    TrackingStatus.PICKED_UP: label("tracking event", "Picked up"),
    TrackingStatus.IN_TRANSIT: label("tracking event", "In transit"),
    TrackingStatus.AT_HUB: label("tracking event", "Arrived at hub"),
    TrackingStatus.OUT_FOR_DELIVERY: label("tracking event", "Out for delivery"),
    TrackingStatus.DELIVERED: label("tracking event", "Delivered"),
    TrackingStatus.EXCEPTION: label("tracking event", "Exception"),
    TrackingStatus.DAMAGED: label("tracking event", "Damaged"),
    TrackingStatus.LOST: label("tracking event", "Lost"),
    TrackingStatus.RETURNED: label("tracking event", "Returned"),
}
# A case's rule as the customer reads it, with its days and last minute (the sentence the
# eligibility function says when the request is sent).
RULES = {
    "no_reason_return": N_("%(days)s-day no-reason return ends %(deadline)s"),
    "quality_return": N_("%(days)s-day quality return ends %(deadline)s"),
    "other_with_approval": N_(
        "%(days)s-day return for another reason (an agent approves it) ends %(deadline)s"
    ),
}
# What the page says after a step, by `?done=`.
DONE = {
    "received": N_("Thank you: receipt confirmed."),
    "case": N_("Your request was sent. We will answer within %(hours)s hours."),
}
MESSAGES = (
    (r"(?P<days>\d+)-day no-reason return ends (?P<deadline>.+)", RULES["no_reason_return"]),
    (r"(?P<days>\d+)-day quality return ends (?P<deadline>.+)", RULES["quality_return"]),
    (
        r"(?P<days>\d+)-day return for another reason \(an agent approves it\) ends (?P<deadline>.+)",
        RULES["other_with_approval"],
    ),
    (r"the kind of request must be one of .+", N_("Choose return and refund, refund only or exchange.")),
)


# --- the door: the address's rate, the link, the form key -------------------------------------


def locale_of(request: Request) -> str:
    """`?lang=` (zh_CN, zh, en), else the first of the browser's languages Shopflow speaks."""
    asked = request.query_params.get("lang", "")
    wanted = [asked] if asked else _accepted(request.headers.get("accept-language", ""))
    for language in wanted:
        code = language.strip().lower().replace("-", "_")
        if code.startswith("zh"):
            return "zh_CN"
        if code.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def _accepted(header: str) -> list[str]:
    """The languages of an Accept-Language header, most wanted first."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        language, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, language))
    return [language for _, _, language in sorted(ranked) if language]


def _limit(request: Request) -> None:
    """The page's requests per address and minute (policy `security.customer_page_requests_per_minute`);
    beyond, 429 with Retry-After."""
    limit = policy.current().security.customer_page_requests_per_minute
    window: SlidingWindow = request.app.state.customer_page_requests
    address = request.client.host if request.client else "unknown"
    wait = window.wait(address, limit, time.monotonic())
    if wait > 0:
        raise TooManyRequests(
            f"more than {limit} requests within a minute; try again in {math.ceil(wait)} s",
            retry_after=math.ceil(wait),
        )


async def _sent_key(request: Request) -> str | None:
    sent = request.headers.get(FORM_KEY_HEADER)
    if sent is None:
        value = (await request.form()).get(FORM_KEY_FIELD)
        sent = value if isinstance(value, str) else None
    return sent


def _refused(c: Console, exc: AppError) -> HTMLResponse:
    """The page a refused link or form gets: the same for every token this server did not sign."""
    reply = render(
        c, "portal/refused.html", exc.status, kind=exc.code, store=policy.current().notify.store_name
    )
    reply.headers.update(getattr(exc, "headers", {}))
    return reply


Work = Callable[[Console, Order], Awaitable[Response]]


async def _visit(
    request: Request, session: AsyncSession, token: str, work: Work, *, posted: bool = False
) -> Response:
    registry: Registry[Console] = request.app.state.console_registry
    c = Console(request, None, locale_of(request), "", registry)
    try:
        _limit(request)
        order = await service.open_link(session, token)
        c.csrf = service.form_key(token)
        if posted:
            service.check_form(token, await _sent_key(request))
    except (LinkRefused, LinkExpired, FormRefused, TooManyRequests) as exc:
        return _refused(c, exc)
    reply = await work(c, order)
    # The page holds an order's details: not kept by shared caches, not indexed.
    reply.headers["Cache-Control"] = "no-store"
    reply.headers["X-Robots-Tag"] = "noindex"
    return reply


# --- the page ---------------------------------------------------------------------------------


def _here(token: str, c: Console, **query: str) -> str:
    return f"{service.PATH}{token}?" + urlencode({"lang": c.locale, **query})


def _rule(c: Console, rule: str, deadline_text: str) -> str:
    template = RULES.get(rule)
    if template is None:
        return c.message(rule)
    return c.gettext(template, days=rule_days(rule, policy.current().aftersales), deadline=deadline_text)


async def _page(
    session: AsyncSession,
    c: Console,
    order: Order,
    token: str,
    status: int = 200,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    preview: Assessment | None = None,
    refusal: str | None = None,
) -> HTMLResponse:
    shown = await service.page(session, order)
    done = c.request.query_params.get("done", "")
    hours = policy.current().aftersales.review_hours
    return render(
        c,
        "portal/order.html",
        status,
        page=shown,
        token=token,
        here=_here(token, c),
        done=c.gettext(DONE[done], hours=hours) if done in DONE else None,
        refusal=refusal,
        values=values or {},
        errors=errors or {},
        preview=preview,
        store=policy.current().notify.store_name,
        rule=lambda case: _rule(c, case.rule, clock.local_text(case.deadline - timedelta(minutes=1))),
        types=TYPES,
        request_types=REQUEST_TYPES,
        reasons=REASONS,
        tracking=TRACKING,
    )


@router.get("/my/orders/{token}", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def order_page(token: str, request: Request, session: Session) -> Response:
    """The customer's page of an order (HTML): status, lines, tracking, after-sales cases.
    404 for a token this server did not sign, 410 once the link has expired."""

    async def show(c: Console, order: Order) -> Response:
        return await _page(session, c, order, token)

    return await _visit(request, session, token, show)


@router.post("/my/orders/{token}/confirm-receipt", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def confirm_receipt(token: str, request: Request, session: Session) -> Response:
    """ORD-7: the customer confirms receipt of the delivered order (audited as `customer`)."""

    async def confirm(c: Console, order: Order) -> Response:
        order_id = order.id  # the order's row is expired by the rollback of a refused step

        async def run() -> Response:
            await service.confirm_receipt(session, order)
            return redirect(_here(token, c, done="received"))

        async def refused(exc: AppError) -> Response:
            fresh = await orders.get_order(session, order_id)
            return await _page(session, c, fresh, token, exc.status, refusal=c.error(exc))

        return await attempt(c, session, run, refused, address=_here(token, c))

    return await _visit(request, session, token, confirm, posted=True)


def _request_of(order: Order, values: Mapping[str, str]) -> tuple[CaseIn, dict[int, int]]:
    """The form as an after-sales request on `order`, and which order line each requested line
    is (its errors are shown at that line's quantity)."""
    asked = [line for line in order.lines if values.get(f"qty-{line.id}", "").strip() not in ("", "0")]
    kind = values.get("type", "")
    if kind not in REQUEST_TYPES:
        raise Invalid(
            "the form has errors; nothing was changed",
            errors=[
                FieldError("type", "the kind of request must be one of return_refund, refund_only, exchange")
            ],
        )
    data = parsed(
        CaseIn,
        {
            "order_id": order.id,
            "type": kind,
            "reason": values.get("reason", ""),
            "opened": values.get("opened") == "1",
            "lines": [{"sku": line.sku_code, "quantity": values[f"qty-{line.id}"].strip()} for line in asked],
            "note": values.get("note", "").strip() or None,
        },
    )
    return data, {index: line.id for index, line in enumerate(asked)}


def _errors(exc: AppError, c: Console, lines: Mapping[int, int]) -> dict[str, str]:
    """A refusal at the form's fields: a line's error at its quantity box; the whole sentence
    (not eligible: the rule and its deadline) above the form."""

    def rename(field: str) -> str:
        if field.startswith("lines["):
            index = int(field[6 : field.index("]")])
            return f"qty-{lines[index]}" if index in lines else "lines"
        return field

    shown = form_errors(exc, c, rename)
    if exc.code == "not_eligible":
        shown["form"] = c.message(exc.detail)
    return shown


@router.post("/my/orders/{token}/returns/preview", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def preview_request(token: str, request: Request, session: Session) -> Response:
    """What a return or exchange request would be, before it is sent: the eligibility sentence
    naming the rule and the itemised refund. Nothing is stored. HTMX gets the fragment."""

    async def show(c: Console, order: Order) -> Response:
        values = await form_values(request)
        lines: dict[int, int] = {}
        try:
            data, lines = _request_of(order, values)
            found: Assessment | None = await service.preview(session, data)
            errors: dict[str, str] = {}
        except AppError as exc:
            found, errors = None, _errors(exc, c, lines)
        if request.headers.get("HX-Request"):
            return HTMLResponse(_preview(c, found, errors))
        return await _page(session, c, order, token, values=values, errors=errors, preview=found)

    return await _visit(request, session, token, show, posted=True)


def _preview(c: Console, found: Assessment | None, errors: Mapping[str, str]) -> str:
    return fragment(c, "portal/_preview.html", preview=found, errors=errors)


@router.post("/my/orders/{token}/returns", response_class=HTMLResponse, openapi_extra=PUBLIC)
async def send_request(token: str, request: Request, session: Session) -> Response:
    """ASV-2: the customer's return or exchange request, opened as a case through the same use
    case as the API; refused requests (not eligible, bad lines) shown in the form, nothing stored."""

    async def send(c: Console, order: Order) -> Response:
        order_id = order.id  # the order's row is expired by the rollback of a refused request
        values = await form_values(request)
        lines: dict[int, int] = {}

        async def run() -> Response:
            nonlocal lines
            data, lines = _request_of(order, values)
            await service.request_case(session, data)
            return redirect(_here(token, c, done="case") + "#cases")

        async def refused(exc: AppError) -> Response:
            fresh = await orders.get_order(session, order_id)
            return await _page(
                session, c, fresh, token, exc.status, values=values, errors=_errors(exc, c, lines)
            )

        return await attempt(c, session, run, refused, address=_here(token, c))

    return await _visit(request, session, token, send, posted=True)


# --- the console's order page: the customer's link ----------------------------------------------


async def _customer_link(session: AsyncSession, c: Console, order_id: int) -> str:
    """The order page's panel: the link the customer's notices carry, to open their page."""
    order = await orders.get_order(session, order_id)
    return fragment(c, "portal/_order_link.html", link=service.link(order))


PAGES: Pages[Console] = Pages(router, messages=MESSAGES, panels={"order.side": (_customer_link,)})
