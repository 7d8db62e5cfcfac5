from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from shopflow.core import auth
from shopflow.core.api import Pages, Session, Viewer, problems, require
from shopflow.core.audit import Actor, AuditEntry
from shopflow.core.schemas import Id, Page, Text, When
from shopflow.loyalty import points
from shopflow.loyalty import service as loyalty
from shopflow.loyalty.models import explained
from shopflow.loyalty.schemas import DiscountOut
from shopflow.orders.models import Order, OrderStatus
from shopflow.orders.schemas import (
    AddressIn,
    CancelIn,
    CustomerIn,
    HistoryEntry,
    HoldIn,
    LineOut,
    OrderDetail,
    OrderIn,
    OrderOut,
    OrderSummary,
    ReservationOut,
    TotalsOut,
)
from shopflow.orders.service import intake, lifecycle, queries

router = APIRouter(tags=["orders"], responses=problems(401, 403))


def _summary_fields(order: Order) -> dict[str, object]:
    return {
        "id": order.id,
        "order_no": order.order_no,
        "status": order.status,
        "hold_reason": order.hold_reason,
        "channel": order.channel,
        "channel_order_no": order.channel_order_no,
        "totals": TotalsOut(
            subtotal=order.subtotal,
            shipping=order.shipping_fee,
            discount=order.discount,
            total=order.total,
        ),
        "created_at": order.created_at,
    }


def _out_fields(
    order: Order, contact: dict[str, Any], discounts: list[DiscountOut], note: str | None
) -> dict[str, object]:
    """The order's fields with `contact` (as stored, or masked for a viewer without personal data)
    and its discount lines with their `note`."""
    return {
        **_summary_fields(order),
        "customer": CustomerIn(**contact["customer"]),
        "shipping_address": AddressIn(**contact["shipping_address"]),
        "lines": [
            LineOut(
                sku=line.sku_code,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                line_total=line.line_total,
            )
            for line in order.lines
        ],
        "note": order.note,
        "confirmed_at": order.confirmed_at,
        "paid_at": order.paid_at,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
        "payment_terms": order.payment_terms,
        "payment_due_at": order.payment_due_at,
        "discounts": discounts,
        "discount_note": note,
    }


async def _discounts(session: Session, order: Order) -> tuple[list[DiscountOut], str | None]:
    """The order's discount lines as stored: the coupons it used (LOY-4), its tier discount
    (LOY-2: what its discount holds beyond them) and the points it redeemed (LOY-1)."""
    if order.discount == 0:
        return [], None
    uses = [(use.code, use.discount) for use in await loyalty.discounts_of(session, order.id)]
    burned, fen = points.burned_of(await points.order_entries(session, order.id))
    tier = order.discount - sum(amount for _, amount in uses) - fen
    return _lines(uses, None, tier, burned, fen), explained(uses) if uses else None


def _lines(
    uses: list[tuple[str, int]], tier: str | None, cut: int, burned: int, fen: int
) -> list[DiscountOut]:
    found = [DiscountOut(kind="coupon", code=code, amount=amount) for code, amount in uses]
    found += [DiscountOut(kind="tier", code=tier, amount=cut)] if cut else []
    return found + ([DiscountOut(kind="points", points=burned, amount=fen)] if burned else [])


def _history(entry: AuditEntry) -> HistoryEntry:
    after = entry.after or {}
    return HistoryEntry(
        at=entry.at,
        actor=entry.actor_name,
        action=entry.action,
        from_status=(entry.before or {}).get("status"),
        to_status=after.get("status"),
        reason=after.get("reason"),
    )


async def _detail(session: Session, viewer: Viewer, order: Order) -> OrderDetail:
    """The order as `viewer` may see it (RSK-3: its contact masked, or as stored and the read logged)."""
    trail = await queries.history(session, order.id)
    held = await queries.reservations(session, order.id)
    after = await queries.aftersales_of(session, order.id)
    return OrderDetail(
        **_out_fields(
            order,
            viewer.contact(session, "order", order.id, order.contact),
            *await _discounts(session, order),
        ),
        history=[_history(entry) for entry in trail],
        reservations=[
            ReservationOut(sku_id=r.sku_id, warehouse_id=r.warehouse_id, quantity=r.quantity, state=r.state)
            for r in held
        ],
        aftersales=after.aftersales,
        refunded=after.refunded,
    )


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    responses={
        200: {"description": "A repeated submission: the first order, unchanged (ORD-1)"},
        **problems(409),
    },
)
async def place_order(
    data: OrderIn,
    response: Response,
    session: Session,
    actor: Annotated[Actor, require("orders.create")],
    idempotency_key: Annotated[Text | None, Header(max_length=120)] = None,
) -> OrderOut:
    placed = await intake.place_order(session, actor, data, idempotency_key)
    if not placed.created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    if placed.created:  # an echo of the input, not a read
        deal = placed.deal
        chosen, redeemed = deal.coupons, deal.redeemed
        uses = [] if chosen is None else [(p.offer.code, p.discount) for p in chosen.applied]
        burned = (0, 0) if redeemed is None else (redeemed.points, redeemed.amount)
        lines = _lines(uses, deal.tier, deal.tier_cut, *burned)
        discounts = (lines, None if chosen is None else chosen.explanation())
    else:
        discounts = await _discounts(session, placed.order)
    return OrderOut(**_out_fields(placed.order, placed.order.contact, *discounts))


@router.get("/orders", response_model=Page[OrderSummary])
async def list_orders(
    session: Session,
    pages: Pages,
    actor: Annotated[Actor, require("orders.read")],
    status: OrderStatus | None = None,
    channel: Annotated[str | None, Query(max_length=40)] = None,
    created_from: When | None = None,
    created_to: When | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=80, description="A prefix of the order number (any case), or a channel order number"
        ),
    ] = None,
    phone: Annotated[
        str | None,
        Query(
            max_length=40,
            description="The customer's mobile, spaces, hyphens and +86 allowed (needs personal_data.read)",
        ),
    ] = None,
) -> Page[OrderSummary]:
    if phone is not None:  # whose orders a phone has is personal data (RSK-3)
        auth.authorize(actor, "personal_data.read")
    items, total, _size = await queries.list_orders(
        session,
        status=status,
        channel=channel,
        created_from=created_from,
        created_to=created_to,
        page=pages.page,
        page_size=pages.page_size,
        number=q,
        phone=phone,
    )
    return Page[OrderSummary](**pages.of([OrderSummary(**_summary_fields(order)) for order in items], total))


@router.get("/orders/by-number/{order_no}", response_model=OrderDetail, responses=problems(404))
async def get_order_by_number(
    order_no: Annotated[str, Path(max_length=32)],
    session: Session,
    _: Annotated[Actor, require("orders.read")],
    viewer: Viewer,
) -> OrderDetail:
    """The order with this order number (any case); 404 if there is none."""
    return await _detail(session, viewer, await queries.get_by_number(session, order_no))


@router.get("/orders/{order_id}", response_model=OrderDetail, responses=problems(404))
async def get_order(
    order_id: Id, session: Session, _: Annotated[Actor, require("orders.read")], viewer: Viewer
) -> OrderDetail:
    """The order; its customer's name, phone, email and street masked unless the caller's role
    holds `personal_data.read` (then each read is logged, RSK-3)."""
    return await _detail(session, viewer, await queries.get_order(session, order_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderDetail, responses=problems(404, 409))
async def cancel_order(
    order_id: Id,
    data: CancelIn,
    session: Session,
    actor: Annotated[Actor, require("orders.cancel")],
    viewer: Viewer,
) -> OrderDetail:
    return await _detail(session, viewer, await lifecycle.cancel(session, actor, order_id, data.reason))


@router.post("/orders/{order_id}/hold", response_model=OrderDetail, responses=problems(404, 409))
async def hold_order(
    order_id: Id,
    data: HoldIn,
    session: Session,
    actor: Annotated[Actor, require("orders.hold")],
    viewer: Viewer,
) -> OrderDetail:
    return await _detail(session, viewer, await lifecycle.hold(session, actor, order_id, data.reason))


@router.post("/orders/{order_id}/release", response_model=OrderDetail, responses=problems(404, 409))
async def release_order(
    order_id: Id, session: Session, actor: Annotated[Actor, require("orders.hold")], viewer: Viewer
) -> OrderDetail:
    return await _detail(session, viewer, await lifecycle.release(session, actor, order_id))


@router.post("/orders/{order_id}/confirm-receipt", response_model=OrderDetail, responses=problems(404, 409))
async def confirm_receipt(
    order_id: Id,
    session: Session,
    actor: Annotated[Actor, require("orders.confirm_receipt")],
    viewer: Viewer,
) -> OrderDetail:
    """ORD-7: the customer confirms receipt of a delivered order, which is completed; its
    after-sales window runs on. Any other state is refused (409)."""
    return await _detail(session, viewer, await lifecycle.complete(session, actor, order_id))
