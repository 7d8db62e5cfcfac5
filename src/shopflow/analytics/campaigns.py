"""A campaign's figures (LOY-3): the orders attributed to it, their sales, discounts, coupon uses,
new members, gross margin, cost and ROI, and a daily series for the chart.

Queried here, above orders, because they read the orders' tables with their models; the campaign
itself is loyalty's (`shopflow.loyalty.campaigns`), which sits below orders and may not import them.

Attribution: an order is the campaign's when it was created in the window [starts_at, ends_at), in
one of its channels (all when it names none), is not cancelled, and either holds a use of one of
its coupons not released (`coupon_uses.released_at IS NULL`) or has a line its price rules priced:
a SKU a rule covers (the SKU, its product's category or that category's parent), sold below the
SKU's list price while the rule was in force (CAT-3), or has its gift (a free line of the gift SKU
in an order with paid goods). A rule's cost is that cut, against the list price the SKU has now
(lines keep the price paid, not the list price of their day); a gift's is its unit cost.

Gross margin: what the attributed orders' paid lines bring after their other discounts (a member's
tier, points) and their goods' cost, before the campaign's own cost (its coupons' discounts, price
cuts and gifts), so that margin − cost is what the orders earned and ROI = (margin − cost) / cost."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, Select, Subquery, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shopflow.catalog.models import Category, PriceRule, PriceRuleState, Product, Sku
from shopflow.core import clock
from shopflow.loyalty.campaign_models import Campaign, Day, Metrics
from shopflow.loyalty.models import CouponUse
from shopflow.orders.models import Order, OrderLine, OrderStatus


def _held_use(campaign: Campaign) -> ColumnElement[bool]:
    """A use of one of the campaign's coupons by the order, not released."""
    return and_(
        CouponUse.order_id == Order.id,
        CouponUse.coupon_id.in_(campaign.coupon_ids),
        CouponUse.released_at.is_(None),
    )


def _ruled_lines(campaign: Campaign) -> Select[tuple[int, int]]:
    """The order lines (order id, price cut in fen) one of the campaign's price rules priced."""
    parent, placed = aliased(Category), aliased(Order)
    covered = or_(
        PriceRule.sku_id == OrderLine.sku_id,
        PriceRule.category_id == Product.category_id,
        PriceRule.category_id == parent.parent_id,
    )
    in_force = and_(
        PriceRule.id.in_(campaign.price_rule_ids),
        PriceRule.state == PriceRuleState.ACTIVE,
        PriceRule.starts_at <= placed.created_at,
        or_(PriceRule.ends_at.is_(None), placed.created_at < PriceRule.ends_at),
    )
    return (
        select(OrderLine.order_id, (Sku.price - OrderLine.unit_price) * OrderLine.quantity)
        .join(placed, placed.id == OrderLine.order_id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .outerjoin(parent, parent.id == Product.category_id)
        .where(OrderLine.unit_price < Sku.price, exists().where(covered, in_force))
    )


def _gift_line(campaign: Campaign) -> ColumnElement[bool]:
    """A free line of the campaign's gift SKU in an order with paid goods (an exchange's
    replacement lines are free too, its goods not paid)."""
    return and_(
        OrderLine.order_id == Order.id,
        OrderLine.sku_code == campaign.gift_sku,
        OrderLine.unit_price == 0,
        Order.subtotal > 0,
    )


def attributed(campaign: Campaign) -> Select[tuple[int]]:
    """The ids of the orders attributed to the campaign (the module's rule)."""
    ruled = _ruled_lines(campaign).with_only_columns(OrderLine.order_id).where(OrderLine.order_id == Order.id)
    via = [exists().where(_held_use(campaign))] if campaign.coupon_ids else []
    if campaign.gift_sku is not None:
        via.append(exists().where(_gift_line(campaign)))
    stmt = select(Order.id).where(
        Order.created_at >= campaign.starts_at,
        Order.created_at < campaign.ends_at,
        Order.status != OrderStatus.CANCELLED,
        or_(*via, *([ruled.exists()] if campaign.price_rule_ids else [])),
    )
    if campaign.channels:
        stmt = stmt.where(Order.channel.in_(campaign.channels))
    return stmt


async def metrics(session: AsyncSession, campaign: Campaign) -> Metrics:
    """The campaign's figures over the orders attributed so far (during the window and after it)."""
    offers = campaign.coupon_ids or campaign.price_rule_ids or campaign.gift_sku is not None
    if not offers or not campaign.has_started(clock.now()):
        return Metrics(0, 0, 0, 0, 0, 0, 0, [])
    ids = attributed(campaign).subquery()
    orders = (
        await session.execute(
            select(Order.id, Order.created_at, Order.total)
            .where(Order.id.in_(select(ids.c.id)))
            .order_by(Order.id)
        )
    ).all()
    if not orders:
        return Metrics(0, 0, 0, 0, 0, 0, 0, [])
    uses = dict(
        (int(order_id), (int(discount), int(count)))
        for order_id, discount, count in (
            await session.execute(
                select(CouponUse.order_id, func.sum(CouponUse.discount), func.count())
                .where(
                    CouponUse.order_id.in_(select(ids.c.id)),
                    CouponUse.coupon_id.in_(campaign.coupon_ids),
                    CouponUse.released_at.is_(None),
                )
                .group_by(CouponUse.order_id)
            )
        ).all()
    )
    cuts: dict[int, int] = defaultdict(int)
    if campaign.price_rule_ids:
        for order_id, cut in (
            await session.execute(_ruled_lines(campaign).where(OrderLine.order_id.in_(select(ids.c.id))))
        ).all():
            cuts[int(order_id)] += int(cut)
    line_margin = (
        OrderLine.unit_price * OrderLine.quantity
        - OrderLine.discount
        - OrderLine.unit_cost * OrderLine.quantity
    )
    paid_lines = select(OrderLine.order_id, func.sum(line_margin)).where(
        OrderLine.order_id.in_(select(ids.c.id))
    )
    if campaign.gift_sku is not None:  # a gift's cost is the campaign's, not the order's margin
        paid_lines = paid_lines.where(
            ~and_(OrderLine.sku_code == campaign.gift_sku, OrderLine.unit_price == 0)
        )
    # Before the campaign's own costs (its coupons' discounts and price cuts): those are its cost.
    margins = {
        int(order_id): int(margin) + uses.get(int(order_id), (0, 0))[0] + cuts.get(int(order_id), 0)
        for order_id, margin in (await session.execute(paid_lines.group_by(OrderLine.order_id))).all()
    }
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for order_id, created_at, total in orders:
        figures = days[_local_day(created_at)]
        figures[0] += 1
        figures[1] += int(total)
        figures[2] += uses.get(order_id, (0, 0))[0] + cuts.get(order_id, 0)
        figures[3] += margins.get(order_id, 0)
    return Metrics(
        orders=len(orders),
        sales=sum(int(total) for _, _, total in orders),
        discounts=sum(discount for discount, _ in uses.values()) + sum(cuts.values()),
        coupon_uses=sum(count for _, count in uses.values()),
        new_members=await _new_members(session, ids),
        gross_margin=sum(margins.values()),
        gift_cost=await _gift_cost(session, campaign, ids),
        days=[Day(day, *figures) for day, figures in sorted(days.items())],
    )


async def _gift_cost(session: AsyncSession, campaign: Campaign, ids: Subquery) -> int:
    """What the gifts given with the attributed orders cost (their unit cost)."""
    if campaign.gift_sku is None:
        return 0
    stmt = (
        select(func.sum(OrderLine.unit_cost * OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.id.in_(select(ids.c.id)), _gift_line(campaign))
    )
    return int(await session.scalar(stmt) or 0)


def _local_day(at: datetime) -> str:
    return at.astimezone(clock.store_zone()).date().isoformat()


async def _new_members(session: AsyncSession, ids: Subquery) -> int:
    """Customers whose first order not cancelled (by time, then id) is an attributed order."""
    earlier = aliased(Order)
    first = ~exists().where(
        earlier.customer_id == Order.customer_id,
        earlier.status != OrderStatus.CANCELLED,
        or_(
            earlier.created_at < Order.created_at,
            and_(earlier.created_at == Order.created_at, earlier.id < Order.id),
        ),
    )
    stmt = select(func.count(func.distinct(Order.customer_id))).where(
        Order.id.in_(select(ids.c.id)),
        Order.customer_id.is_not(None),
        first,
    )
    return int(await session.scalar(stmt) or 0)
