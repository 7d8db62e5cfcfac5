"""Order intake (ORD-1, ORD-2, ORD-4): an order validated, stored and confirmed with its stock
reserved, or held for a shortage, in one transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.catalog.service import SaleFacts
from shopflow.core import audit, clock, crypto, events, policy, sla
from shopflow.core.audit import Actor
from shopflow.core.crypto import Owned
from shopflow.core.errors import Invalid
from shopflow.core.policy import Shortage
from shopflow.inventory import service as inventory
from shopflow.loyalty import campaigns
from shopflow.loyalty import service as loyalty
from shopflow.loyalty.service import NO_DEAL, Deal
from shopflow.orders import repository
from shopflow.orders.errors import ChannelOrderTaken, IdempotencyKeyReused, OutOfStock
from shopflow.orders.models import (
    AgreedTerms,
    HoldReason,
    LineRequest,
    Order,
    OrderClock,
    OrderStatus,
    SkuFacts,
    Totals,
    intake_errors,
    new_order_row,
    order_subject,
    totals,
)
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service.transitions import notice, status_row

S = OrderStatus
ORDER_NO_ATTEMPTS = 5


# (id, tier, secret): the order's contact is sealed with the customer's own key (RSK-3).
CustomerOf = Callable[
    [AsyncSession, str, dict[str, Any], dict[str, Any], datetime], Awaitable[tuple[int, str, bytes | None]]
]
# Who finds or creates the customer of an order's phone (CRM-1): the customers' domain (a later
# one, which orders cannot import) registers its `for_order` by `customers_from` when the app is
# made (`shopflow.wiring.connect`); until then an order is placed without a customer.
_CUSTOMERS: list[CustomerOf] = []


def customers_from(source: CustomerOf) -> None:
    """Ask `source` for the customer of every order placed from now on."""
    _CUSTOMERS[:] = [source]


RiskOf = Callable[[AsyncSession, Actor, Order, OrderIn], Awaitable[str | None]]
# Who scores a new order in its transaction (RSK-1): the risk domain (a later one) registers its
# `score_order` by `risk_from` (`shopflow.wiring.connect`); a hold reason it returns holds the order.
_RISK: list[RiskOf] = []


def risk_from(source: RiskOf) -> None:
    """Ask `source` to score every order placed from now on (an exchange's replacement is not)."""
    _RISK[:] = [source]


@dataclass(slots=True)
class Placed:
    order: Order
    created: bool  # False: a repeated submission returned the first order (ORD-1)
    deal: Deal = NO_DEAL  # a new order's coupons and points (LOY-4, LOY-1)


async def place_order(
    session: AsyncSession,
    actor: Actor,
    data: OrderIn,
    idempotency_key: str | None,
    *,
    replacement: bool = False,
    agreed: AgreedTerms | None = None,
) -> Placed:
    """Validate (ORD-2), store, and confirm with stock reserved (ORD-4) in one transaction.
    A `replacement` (ASV-6, placed by an exchange) has its lines at 0 and ships free. A contract's
    order (CRM-6) is priced as `agreed` and carries its payment terms; on credit (ORD-5) its due
    date too, no pay clock, and its ship clock starts at confirmation.

    The order row is written first so that a concurrent twin (same idempotency key or channel
    order number) waits on its unique key before touching any stock. A key belongs to the
    caller's user and channel: another caller's key is another order.
    """
    rules = policy.current()
    requests = [LineRequest(line.sku, line.quantity, line.unit_price) for line in data.lines]
    skus = await catalog.sale_facts(session, [r.sku for r in requests])
    facts = _facts(skus)
    customer = data.customer.model_dump()
    address = data.shipping_address.model_dump()
    errors = intake_errors(
        data.channel,
        customer,
        address,
        requests,
        facts,
        rules.orders,
        replacement=replacement,
        agreed_prices=agreed is not None,
    )
    if errors:
        raise Invalid("the order has errors; nothing was stored", errors=errors)

    phone_hash = crypto.vault().lookup_hash(data.customer.phone)
    at = clock.now()
    # CRM-1: the phone's customer (id, tier), created when new (one indexed statement).
    member = await _CUSTOMERS[0](session, phone_hash, customer, address, at) if _CUSTOMERS else None
    customer_id = None if member is None else member[0]
    # ORD-2, LOY-4, LOY-2, LOY-1: every coupon valid (the best combination chosen), the member's
    # tier discount, points within the policy.
    sales = [loyalty.Sale(r.sku, skus[r.sku].category_id, r.unit_price * r.quantity) for r in requests]
    # A contract's or an exchange's prices are as agreed: no tier discount on them.
    buyer = member[:2] if member is not None and agreed is None and not replacement else None
    deal = await loyalty.deal(session, data.coupons, data.points, phone_hash, buyer, sales)
    fee = 0 if replacement else rules.fulfillment.shipping_fee
    money = totals(requests, fee, rules.fulfillment.free_shipping_threshold, deal.discount)
    key = None if idempotency_key is None else scoped_key(actor, data.channel, idempotency_key)
    # RSK-3: sealed with the customer's own key, which their erasure destroys.
    secret = None if member is None else member[2]
    contact = Owned(secret, {"customer": customer, "shipping_address": address})
    fields = _fields(actor, data, key, contact, phone_hash, money, agreed)
    fields["customer_id"] = customer_id
    fields["pick_first"] = member is not None and rules.loyalty.picked_first(member[1])  # LOY-2
    placed = await _insert(session, actor, new_order_row(fields, at), data)
    if not placed.created:
        return placed
    order = placed.order
    # RSK-1: scored here; a hold reason returned holds the order from pending, its stock reserved.
    risk_hold = await _RISK[0](session, actor, order, data) if _RISK and not replacement else None
    demand = Counter[int]()
    for r in requests:
        demand[facts[r.sku].id] += r.quantity
    # LOY-3: a campaign's gift over its minimum spend, reserved with the order; out of stock, the
    # order goes on without it.
    retail = not replacement and agreed is None
    gift = await _gift(session, data.channel, at, money.subtotal - money.discount, facts) if retail else None
    reserved = None
    if gift is not None:
        wanted = demand + Counter({gift[1].id: 1})
        reserved = await inventory.reserve_for_order(session, order.id, wanted, order.ship_province)
        gift = gift if reserved is not None else None
    short = (
        reserved is None
        and await inventory.reserve_for_order(session, order.id, demand, order.ship_province) is None
    )
    if short and rules.orders.on_shortage is Shortage.REJECT:
        raise OutOfStock("not enough stock for this order; nothing was stored")
    if short or risk_hold is not None:
        held = new_order_row(fields, at, held_for=risk_hold or HoldReason.STOCK_SHORTAGE)
        order = await repository.mark_held(session, order, held)
        _queue_held(session, actor, order, demand if short else Counter(), at)
    else:
        _queue_confirmed(session, actor, order, at, on_credit=agreed is not None and agreed.on_credit)
    # Last before the final write: a coupon's and a member's row stay locked only until the commit.
    await loyalty.redeem(session, order.id, order.order_no, phone_hash, customer_id, deal)
    shares = deal.line_discounts([r.unit_price * r.quantity for r in requests])
    lines = [_line_row(order.id, r, facts[r.sku], share) for r, share in zip(requests, shares, strict=True)]
    if gift is not None:
        lines.append(_line_row(order.id, LineRequest(gift[0], 1, 0), gift[1], 0))
    # One round trip for the lines, the audit trail (AUD-1), the outbox rows (ORD-8), the pay clock
    # and the coupon uses.
    return Placed(await repository.insert_lines(session, order, lines), created=True, deal=deal)


def _facts(skus: Mapping[str, SaleFacts]) -> dict[str, SkuFacts]:
    return {
        code: SkuFacts(s.id, s.name, s.price, s.sellable, s.cost, s.published) for code, s in skus.items()
    }


async def _gift(
    session: AsyncSession, channel: str, at: datetime, goods: int, facts: Mapping[str, SkuFacts]
) -> tuple[str, SkuFacts] | None:
    """The gift SKU (code, facts) an order gets (LOY-3), if there is one and it is on sale."""
    code = await campaigns.gift_for(session, channel, at, goods)
    if code is None:
        return None
    found = facts.get(code) or _facts(await catalog.sale_facts(session, [code])).get(code)
    return (code, found) if found is not None and found.sellable and found.published else None


def _fields(
    actor: Actor,
    data: OrderIn,
    idempotency_key: str | None,
    contact: dict[str, Any],
    phone_hash: str,
    money: Totals,
    agreed: AgreedTerms | None,
) -> dict[str, Any]:
    """The intake fields of a new order's row (`new_order_row`)."""
    return {
        "channel": data.channel,
        "channel_order_no": data.channel_order_no,
        "idempotency_key": idempotency_key,
        "request_hash": None if idempotency_key is None else request_digest(data),
        "contact": contact,
        "phone_hash": phone_hash,
        "ship_province": data.shipping_address.province,
        "buyer_ip": data.buyer_ip,
        "note": data.note,
        "subtotal": money.subtotal,
        "shipping_fee": money.shipping,
        "discount": money.discount,
        "total": money.total,
        "created_by": actor.user_id,
        "payment_terms": None if agreed is None else agreed.terms,
        "payment_due_at": None if agreed is None else agreed.due_at,
    }


def _order_no(at: datetime) -> str:
    return f"SF{at:%y%m%d}{secrets.randbelow(10**10):010d}"


def scoped_key(actor: Actor, channel: str, idempotency_key: str) -> str:
    """The caller's Idempotency-Key as stored: its digest with the caller's user and channel, so
    the same key from another user or channel names another order."""
    scope = f"{actor.user_id if actor.user_id is not None else actor.name}\n{channel}\n{idempotency_key}"
    return hashlib.sha256(scope.encode()).hexdigest()


def request_digest(data: OrderIn) -> str:
    """The digest of an order request as parsed (the same order however its JSON is spaced)."""
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


async def _insert(session: AsyncSession, actor: Actor, row: dict[str, Any], data: OrderIn) -> Placed:
    """The new order `row` stored under a free order number; or, when it repeats an order the
    caller already stored (the same idempotency key with the same request, or the channel's
    order number), that order (ORD-1)."""
    key = row["idempotency_key"]
    for _ in range(ORDER_NO_ATTEMPTS):
        row["order_no"] = _order_no(row["created_at"])
        order = await repository.insert_if_new(session, row)
        if order is not None:
            return Placed(order, created=True)
        twin = await repository.find_twin(session, key, data.channel, data.channel_order_no)
        if twin is None:
            continue  # the order number was taken: draw another
        if key is not None and twin.idempotency_key == key and twin.request_hash != row["request_hash"]:
            raise IdempotencyKeyReused()
        if twin.created_by != actor.user_id:
            raise ChannelOrderTaken()
        return Placed(twin, created=False)
    raise RuntimeError("could not draw a free order number")


def _queue_confirmed(
    session: AsyncSession, actor: Actor, order: Order, at: datetime, *, on_credit: bool = False
) -> None:
    """A confirmed order's audit trail, its pay clock (ORD-5) and the customer's notice (ORD-8);
    an order `on_credit` has no pay clock: its ship clock starts now (ORD-5, ORD-6)."""
    rules = policy.current().orders
    subject = order_subject(order.id)
    audit.queue(
        session,
        status_row(actor, order.id, None, S.PENDING, at),
        status_row(actor, order.id, S.PENDING, S.CONFIRMED, at),
    )
    ship_by = at + timedelta(hours=rules.ship_within_hours)
    if on_credit:
        sla.queue_running(session, subject, OrderClock.SHIP, ship_by)
    else:
        sla.queue_running(
            session, subject, OrderClock.PAY, at + timedelta(minutes=rules.unpaid_cancel_minutes)
        )
    events.queue(session, "order.confirmed", subject, notice(order, ship_by=ship_by.isoformat()))


def _queue_held(
    session: AsyncSession, actor: Actor, order: Order, demand: Counter[int], at: datetime
) -> None:
    """A held order's audit trail, the customer's notice and, short of stock, the replenishment
    request."""
    reason = order.hold_reason
    subject = order_subject(order.id)
    audit.queue(
        session,
        status_row(actor, order.id, None, S.PENDING, at),
        status_row(actor, order.id, S.PENDING, S.ON_HOLD, at, reason),
    )
    events.queue(session, "order.on_hold", subject, notice(order, reason=reason))
    if demand:  # short of stock (an order held for risk keeps its reservation: `demand` is empty)
        wanted = {"order_id": order.id, "skus": {str(sku): quantity for sku, quantity in demand.items()}}
        events.queue(session, "inventory.replenishment_requested", subject, wanted)


def _line_row(order_id: int, request: LineRequest, facts: SkuFacts, discount_share: int) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "sku_id": facts.id,
        "sku_code": request.sku,
        "name": facts.name,
        "quantity": request.quantity,
        "unit_price": request.unit_price,
        "discount": discount_share,
        "line_total": request.unit_price * request.quantity,
        "unit_cost": facts.cost,
    }
