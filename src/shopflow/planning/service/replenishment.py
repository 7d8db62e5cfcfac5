"""INV-4's replenishment suggestions and ORD-4's requests for orders held for a stock shortage.

A suggestion, per SKU some active supplier sells (the cheapest offer): forecast demand over the
supplier's lead time plus the review period, plus safety stock, less what is available and on
order, rounded up to whole packs and at least the minimum order; only SKUs needing some appear.
Computed for every SKU at once in NumPy from the stored forecasts."""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, db, events, policy
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.inventory import service as inventory
from shopflow.orders.models import order_subject
from shopflow.orders.service import queries as orders
from shopflow.planning import forecasting, repository
from shopflow.planning.models import PoSource, PurchaseOrder, SupplierItem, order_quantity
from shopflow.planning.service import forecasts, purchasing

# The customer's notice of an order held for stock, with its expected ship date (ORD-4).
BACKORDERED = "order.backordered"
SHORTAGE_BATCH = 200  # held orders looked at per sweep
END_OF_DAY = timedelta(minutes=1)  # a ship date is told as its last minute, the store's time


@dataclass(frozen=True, slots=True)
class Suggestion:
    sku_id: int
    sku: str
    name: str
    supplier_id: int
    supplier: str
    available: int
    on_order: int
    safety_stock: int
    demand: float
    item: SupplierItem
    quantity: int


async def suggestions(session: AsyncSession) -> list[Suggestion]:
    """Every SKU worth ordering now, by supplier and SKU code."""
    offers: dict[int, SupplierItem] = {}
    for item in await repository.offers(session):
        offers.setdefault(item.sku_id, item)
    if not offers:
        return []
    sku_ids = sorted(offers)
    weekly = await forecasts.weekly(session, sku_ids)
    available = await inventory.available_of(session, sku_ids)
    coming = await repository.on_order(session, sku_ids)
    facts = await repository.sku_facts(session, sku_ids)
    rules = policy.current()
    n = len(sku_ids)
    pattern = np.array([weekly.get(s, [0.0] * 7) for s in sku_ids], dtype=np.float64).reshape(n, 7)
    items = [offers[s] for s in sku_ids]
    days = np.array([i.lead_time_days + rules.planning.review_period_days for i in items], dtype=np.int64)
    default = rules.inventory.safety_stock
    safety = np.array(
        [facts[s][2] if facts[s][2] is not None else default for s in sku_ids], dtype=np.float64
    )
    stock = np.array([available.get(s, 0) for s in sku_ids], dtype=np.float64)
    ordered = np.array([coming.get(s, 0) for s in sku_ids], dtype=np.float64)
    demand = forecasting.demand_over(pattern, days)
    quantity = forecasting.order_quantities(
        demand + safety - stock - ordered,
        np.array([i.pack_size for i in items], dtype=np.int64),
        np.array([i.moq for i in items], dtype=np.int64),
    )
    chosen = np.nonzero(quantity > 0)[0]
    suppliers = await repository.suppliers_by_id(session, {items[i].supplier_id for i in chosen})
    found = [
        Suggestion(
            sku_id=sku_ids[i],
            sku=facts[sku_ids[i]][0],
            name=facts[sku_ids[i]][1],
            supplier_id=items[i].supplier_id,
            supplier=suppliers[items[i].supplier_id].code,
            available=int(stock[i]),
            on_order=int(ordered[i]),
            safety_stock=int(safety[i]),
            demand=round(float(demand[i]), 1),
            item=items[i],
            quantity=int(quantity[i]),
        )
        for i in chosen
    ]
    return sorted(found, key=lambda s: (s.supplier, s.sku))


async def order_suggested(session: AsyncSession, actor: Actor, supplier_code: str) -> PurchaseOrder:
    """The replenishment board's one click: a draft order of every suggestion of one supplier, to
    the first warehouse by priority."""
    chosen = [s for s in await suggestions(session) if s.supplier == supplier_code]
    if not chosen:
        raise Invalid(
            f"nothing to order from {supplier_code!r}", errors=[FieldError("supplier", "no suggestion")]
        )
    supplier = await repository.supplier_by_code(session, supplier_code)
    warehouses = await inventory.list_warehouses(session)
    assert supplier is not None
    if not warehouses:
        raise Invalid("there is no warehouse to order into", errors=[FieldError("warehouse", "none exists")])
    lead = max(s.item.lead_time_days for s in chosen)
    return await purchasing.add_po(
        session,
        actor,
        supplier,
        warehouses[0].id,
        PoSource.SUGGESTION,
        clock.today() + timedelta(days=lead),
        [(s.item, s.quantity, None) for s in chosen],
    )


async def request_for_shortages(session: AsyncSession) -> int:
    """ORD-4 (the worker's sweep): each order held for a stock shortage not yet answered gets its
    units on a purchase order, and its customer the expected ship date (the order's expected date
    plus the policy's handling days) through the outbox, once. Waiting orders take the stock
    available, then the open orders' units coming, earliest payment first; what is still short
    goes on a new draft order (source `shortage`) to the cheapest supplier, rounded to packs and
    its minimum. A SKU no supplier sells leaves its orders unanswered. How many were answered."""
    waiting = await orders.waiting_for_stock(session, SHORTAGE_BATCH)
    answered = await repository.noticed(session, [o.id for o in waiting])
    warehouses = await inventory.list_warehouses(session)
    if all(o.id in answered for o in waiting) or not warehouses:
        return 0
    skus = sorted({line.sku_id for o in waiting for line in o.lines})
    available = Counter(await inventory.available_of(session, skus))
    coming: dict[int, deque[list[Any]]] = defaultdict(deque)
    for sku_id, units, expected in await repository.open_po_for(session, skus):
        coming[sku_id].append([units, expected])
    offers: dict[int, SupplierItem] = {}
    for item in await repository.offers(session, skus):
        offers.setdefault(item.sku_id, item)
    today = clock.today()
    short: Counter[int] = Counter()
    dates: dict[int, date] = {}  # per new order, the latest date its units come on
    for order in waiting:
        latest = today
        unanswerable = False
        for line in order.lines:
            need = line.quantity
            take = min(need, available[line.sku_id])
            available[line.sku_id] -= take
            need -= take
            while need and coming[line.sku_id]:
                slot = coming[line.sku_id][0]
                take = min(need, slot[0])
                slot[0] -= take
                need -= take
                latest = max(latest, slot[1])
                if slot[0] == 0:
                    coming[line.sku_id].popleft()
            if need:
                item = offers.get(line.sku_id)
                if item is None:
                    unanswerable = True
                    continue
                short[line.sku_id] += need
                latest = max(latest, today + timedelta(days=item.lead_time_days))
        if not unanswerable:
            dates[order.id] = latest
    new_po: dict[int, PurchaseOrder] = {}
    by_supplier: dict[int, list[tuple[SupplierItem, int, int | None]]] = defaultdict(list)
    for sku_id, units in sorted(short.items()):
        item = offers[sku_id]
        by_supplier[item.supplier_id].append((item, order_quantity(units, item.pack_size, item.moq), None))
    suppliers = await repository.suppliers_by_id(session, by_supplier)
    for supplier_id, lines in by_supplier.items():
        lead = max(item.lead_time_days for item, _, _ in lines)
        po = await purchasing.add_po(
            session,
            SYSTEM,
            suppliers[supplier_id],
            warehouses[0].id,
            PoSource.SHORTAGE,
            today + timedelta(days=lead),
            lines,
            "for orders held for a stock shortage",
        )
        for item, _, _ in lines:
            new_po[item.sku_id] = po
    handling = timedelta(days=policy.current().planning.handling_days)
    at = clock.now()
    told = 0
    for order in waiting:
        if order.id in answered or order.id not in dates:
            continue
        ship_by = dates[order.id] + handling
        po_id = next((new_po[ln.sku_id].id for ln in order.lines if ln.sku_id in new_po), None)
        stored = await repository.add_notices(
            session,
            [{"order_id": order.id, "purchase_order_id": po_id, "ship_by": ship_by, "created_at": at}],
        )
        if not stored:
            continue
        events.queue(
            session,
            BACKORDERED,
            order_subject(order.id),
            {
                "order_id": order.id,
                "order_no": order.order_no,
                "channel": order.channel,
                "ship_by": (clock.local_midnight(ship_by + timedelta(days=1)) - END_OF_DAY).isoformat(),
            },
        )
        audit.queue(
            session,
            audit.row(
                SYSTEM,
                "order.backordered",
                "order",
                order.id,
                None,
                {"ship_by": ship_by.isoformat(), "purchase_order": po_id},
                at,
            ),
        )
        told += 1
    await db.write(session)
    return told
