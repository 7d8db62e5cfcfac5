"""Console pages of orders: the list (filters, search, live), the detail, cancel/hold/release."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, policy, sla
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, field_errors, form_values, parsed, step_back
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import panels, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.inventory import service as inventory
from shopflow.orders.models import HOLDABLE, HoldReason, Order, OrderClock, OrderStatus, mobile
from shopflow.orders.schemas import CancelIn
from shopflow.orders.service import lifecycle, queries

router = APIRouter(include_in_schema=False)
S = OrderStatus

STATUS = {
    S.PENDING: label("order status", "pending"),
    S.CONFIRMED: label("order status", "confirmed"),
    S.PAID: label("order status", "paid"),
    S.PICKING: label("order status", "picking"),
    S.PACKED: label("order status", "packed"),
    S.SHIPPED: label("order status", "shipped"),
    S.DELIVERED: label("order status", "delivered"),
    S.COMPLETED: label("order status", "completed"),
    S.CLOSED: label("order status", "closed"),
    S.CANCELLED: label("order status", "cancelled"),
    S.ON_HOLD: label("order status", "on hold"),
    "released": label("order status", "released"),
}
HOLD_REASONS = {
    HoldReason.STOCK_SHORTAGE: label("hold reason", "stock shortage"),
    HoldReason.RISK_REVIEW: label("hold reason", "risk review"),
    HoldReason.MANUAL: label("hold reason", "manual hold"),
}
# The built-in channels and the marketplaces a store most often adds (others show their name).
CHANNELS = {
    "web": label("channel", "Web store"),
    "manual": label("channel", "Entered by staff"),
    "exchange": label("channel", "Exchange"),
    "import": label("channel", "Imported"),
    "taobao": label("channel", "Taobao"),
    "tmall": label("channel", "Tmall"),
    "jd": label("channel", "JD"),
    "douyin": label("channel", "Douyin"),
    "pinduoduo": label("channel", "Pinduoduo"),
}
RESERVATION_STATES = {
    "active": label("reservation state", "reserved"),
    "released": label("reservation state", "released"),
    "consumed": label("reservation state", "shipped"),
}
MESSAGES = (
    (r"no order (?P<id>\d+)", N_("There is no order %(id)s.")),
    (r"bad date '(?P<value>.*)'", N_("%(value)s is not a date.")),
    (
        "stock is still short for this order; it stays on hold",
        N_("Stock is still short for this order; it stays on hold."),
    ),
    (r"String should have at most (?P<n>\d+) characters?", N_("at most %(n)s characters")),
    ("String should have at least 1 character", N_("is required")),
)


def _day(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"bad date {value!r}") from None


def _open_clock(clocks: list[sla.SlaClock], now: datetime) -> sla.SlaClock | None:
    """The clock that matters now: a late one, else the running or paused one due first."""
    waiting = (sla.ClockState.RUNNING, sla.ClockState.PAUSED)
    open_ = [c for c in clocks if sla.is_late(c, now) or c.state in waiting]
    return min(open_, key=lambda c: c.deadline, default=None)


async def _listing(session: AsyncSession, c: Console, filters: dict[str, str], page: int) -> dict[str, Any]:
    status = S(filters["status"]) if filters["status"] in S.__members__.values() else None
    created_from, created_to = clock.day_range(_day(filters["date_from"]), _day(filters["date_to"]))
    said = filters["q"].strip()
    found, total, size = await queries.list_orders(
        session,
        status=status,
        channel=filters["channel"] or None,
        created_from=created_from,
        created_to=created_to,
        page=page,
        number=said or None,
        # A phone by its shape (for who may see personal data), or a channel's number so written.
        phone=said if mobile(said) and c.can("personal_data.read") else None,
        either=True,
    )
    clocks = await queries.clocks(session, [order.id for order in found])
    return {
        "orders": found,
        "clocks": {order_id: _open_clock(found_clocks, c.now) for order_id, found_clocks in clocks.items()},
        "pager": Pager(page, size, total),
        "filters": filters,
        "statuses": STATUS,
        "channels": CHANNELS,
        "channel_choices": policy.current().orders.channels,
        "holds": HOLD_REASONS,
    }


@router.get("/orders")
async def order_list(
    session: Session,
    c: Annotated[Console, can_view("orders.read")],
    status: str = "",
    channel: Annotated[str, Query(max_length=40)] = "",
    date_from: str = "",
    date_to: str = "",
    q: Annotated[str, Query(max_length=80)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    filters = {"status": status, "channel": channel, "date_from": date_from, "date_to": date_to, "q": q}
    listing = await _listing(session, c, filters, page)
    live = bool(c.request.headers.get("HX-Request"))
    return render(c, "orders/_live.html" if live else "orders/list.html", **listing)


async def _detail(session: AsyncSession, c: Console, order: Order) -> dict[str, Any]:
    trail = await queries.history(session, order.id)
    warehouses = {w.id: w.code for w in await inventory.list_warehouses(session)}
    return {
        "order": order,
        "timeline": [entry for entry in trail if (entry.after or {}).get("status")],
        "trail": trail,
        "clocks": await sla.of_subject(session, f"order:{order.id}"),
        "side_panels": await panels(session, c, "order.side", order.id),
        "panels": await panels(session, c, "order", order.id),
        "reservations": await queries.reservations(session, order.id),
        "warehouses": warehouses,
        "skus": {line.sku_id: line.sku_code for line in order.lines},
        "actions": _actions(c, order),
        "statuses": STATUS,
        "channels": CHANNELS,
        "holds": HOLD_REASONS,
        "reservation_states": RESERVATION_STATES,
        "values": {},
        "errors": {},
        "refusal": None,
    }


def _actions(c: Console, order: Order) -> set[str]:
    """What this person may do to this order now (their role, and ORD-3)."""
    shown = set()
    if c.can("orders.cancel") and order.can_move_to(S.CANCELLED):
        shown.add("cancel")
    if c.can("orders.hold") and order.status in HOLDABLE:
        shown.add("hold")
    if c.can("orders.hold") and order.status == S.ON_HOLD:
        shown.add("release")
    return shown


@router.get("/orders/{order_id}")
async def order_detail(
    order_id: int, session: Session, c: Annotated[Console, can_view("orders.read")]
) -> HTMLResponse:
    order = await queries.get_order(session, order_id)
    details = await _detail(session, c, order)
    if c.request.headers.get("HX-Request"):  # the live part, which shows no personal data
        return render(c, "orders/_detail_live.html", **details)
    return render(c, "orders/detail.html", **details, **_contact(session, c, order))


def _contact(session: AsyncSession, c: Console, order: Order) -> dict[str, Any]:
    """The customer and address as this reader may see them (RSK-3: masked, or the read logged)."""
    viewer = c.viewer()
    contact = viewer.contact(session, "order", order.id, order.contact)
    return {
        "customer": contact["customer"],
        "address": contact["shipping_address"],
        "revealed": viewer.revealed,
    }


Work = Callable[[dict[str, str]], Awaitable[None]]


async def _act(session: AsyncSession, c: Console, order_id: int, work: Work, done: str) -> Response:
    """Run an order action; on refusal nothing is kept and the page says why, with what was typed."""
    values = await form_values(c.request)

    async def refused(exc: AppError) -> Response:
        order = await queries.get_order(session, order_id)
        details = await _detail(session, c, order)
        details.update(values=values, errors=field_errors(exc.errors, c), refusal=c.error(exc))
        return render(c, "orders/detail.html", exc.status, **details, **_contact(session, c, order))

    return await step_back(c, session, f"/orders/{order_id}", lambda: work(values), done, refused)


@router.get("/orders/{order_id}/cancel")
async def confirm_cancel(
    order_id: int,
    session: Session,
    c: Annotated[Console, can_view("orders.cancel")],
    reason: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The step before cancelling a paid order: it names the refund that will follow."""
    order = await queries.get_order(session, order_id)
    if order.paid_at is None or not order.can_move_to(S.CANCELLED):
        return redirect(f"/orders/{order_id}")
    return render(c, "orders/cancel.html", order=order, reason=reason)


@router.post("/orders/{order_id}/cancel")
async def cancel_order(
    order_id: int, session: Session, c: Annotated[Console, can_do("orders.cancel")]
) -> Response:
    asked = await form_values(c.request)
    order = await queries.get_order(session, order_id)
    if order.paid_at is not None and asked.get("confirmed") != "yes":  # a refund follows: ask first
        return redirect(f"/orders/{order_id}/cancel?{urlencode({'reason': asked.get('reason', '')})}")

    async def work(values: dict[str, str]) -> None:
        data = parsed(CancelIn, {"reason": values.get("reason", "").strip()})
        await lifecycle.cancel(session, c.actor, order_id, data.reason)  # type: ignore[arg-type]

    return await _act(session, c, order_id, work, N_("The order is cancelled; its stock is released."))


@router.post("/orders/{order_id}/hold")
async def hold_order(
    order_id: int, session: Session, c: Annotated[Console, can_do("orders.hold")]
) -> Response:
    async def work(values: dict[str, str]) -> None:
        reason = values.get("reason", HoldReason.MANUAL)
        if reason not in HoldReason.__members__.values():
            raise Invalid("bad hold reason", errors=[FieldError("reason", "is required")])
        await lifecycle.hold(session, c.actor, order_id, HoldReason(reason))  # type: ignore[arg-type]

    return await _act(session, c, order_id, work, N_("The order is on hold."))


@router.post("/orders/{order_id}/release")
async def release_order(
    order_id: int, session: Session, c: Annotated[Console, can_do("orders.hold")]
) -> Response:
    async def work(_: dict[str, str]) -> None:
        await lifecycle.release(session, c.actor, order_id)  # type: ignore[arg-type]

    return await _act(session, c, order_id, work, N_("The hold is released."))


PAGES = Pages(
    router,
    nav=(NavItem("/orders", label("nav", "Orders"), "orders.read", 20),),
    states={"order": STATUS, "order.reason": HOLD_REASONS},
    actions={lifecycle.PAID_ON_HOLD: label("audit action", "Paid while on hold")},  # ORD-3
    subjects={"order": ("/orders/{id}", label("subject", "Order"))},
    clocks={
        OrderClock.PAY: label("clock", "Payment"),  # ORD-5
        OrderClock.SHIP: label("clock", "Shipping"),  # ORD-6
        OrderClock.DELIVER: label("clock", "Delivery"),  # ORD-6
        OrderClock.RECEIPT: label("clock", "Receipt confirmation"),  # ORD-7
        OrderClock.AFTERSALES: label("clock", "After-sales window"),  # ORD-7
    },
    messages=MESSAGES,
)
