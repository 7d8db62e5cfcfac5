"""The history writer (ORD-1, issue 15 item 6): a batch of `HistoricalOrder`s stored as finished
orders with their lines, captured payments, customers and SKUs, in a few multi-row statements.

History is recorded as given, not placed: ORD-2's intake checks are not applied (bad values are
kept and flagged on the order), no stock is reserved or deducted, no SLA clock starts, no outbox
row is written (so no notification), and every sweep of the worker leaves imported orders alone
(`Order.imported_at`). An order already stored under its channel and channel order number is left
as it is (re-importing a file changes nothing). Each order stored is audited (`order.imported`).

Customers are found or created by a valid mainland mobile (CRM-1's blind index) or else by the
platform's id for them (`CustomerKey`); an order without either has no customer and stays out of
the customer metrics. SKUs are found by code or created (not for sale) with a product filed under
the line's category path (`catalog.category_for`). An order counts (ANA-1) on its first captured
payment's time; one without dates (`placed_at` None) counts in all-time figures only."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics.importing import repository
from shopflow.analytics.importing.records import CHANNEL, CURRENCY, MAX_ORDER_NO, HistoricalOrder, Identity
from shopflow.catalog import service as catalog
from shopflow.catalog.models import ListingStatus, PriceBand
from shopflow.core import audit, clock, crypto
from shopflow.core.audit import Actor
from shopflow.core.crypto import SECRET_BYTES, Owned
from shopflow.crm import service as crm
from shopflow.crm.models import Source, Tier, platform_key
from shopflow.orders.models import UNDATED, OrderStatus, mobile
from shopflow.payments.models import PaymentStatus

# The payments of imported history: what took the money was the other platform.
PROVIDER = "history"


@dataclass(frozen=True, slots=True)
class Written:
    """What a batch stored: orders new and already present, customers and SKUs created."""

    loaded: int
    present: int
    customers: int
    skus: int


def history_order_no(channel: str, channel_order_no: str) -> str:
    """Our number of an imported order: `H` and 20 hex digits of its channel and number, the same
    on every import of it."""
    digest = hashlib.sha256(f"{channel}\n{channel_order_no}".encode()).hexdigest()
    return f"H{digest[:20].upper()}"


def _checked(batch: Sequence[HistoricalOrder]) -> None:
    for order in batch:
        if not CHANNEL.fullmatch(order.channel):
            raise ValueError(f"{order.channel!r} is not a channel name")
        if not 0 < len(order.channel_order_no) <= MAX_ORDER_NO:
            raise ValueError(f"{order.channel_order_no!r} is not a channel order number")
        if order.currency is not None and not CURRENCY.fullmatch(order.currency):
            raise ValueError(f"{order.currency!r} is not an ISO currency code")


async def write(session: AsyncSession, actor: Actor, batch: Sequence[HistoricalOrder]) -> Written:
    """Store the orders of `batch` not stored yet (by channel and channel order number; a number
    twice in the batch is stored once), with their customers, SKUs, lines and captures; flushes,
    never commits. ValueError for an order no parser yields (a bad channel, number or currency)."""
    _checked(batch)
    at = clock.now()
    first: dict[tuple[str, str], HistoricalOrder] = {}
    for order in batch:
        first.setdefault((order.channel, order.channel_order_no), order)
    unique = list(first.values())
    skus, created_skus = await _skus(session, unique, at)
    customers, created_customers = await _customers(session, unique, at)
    rows = [_order_row(order, customers.get(id(order)), actor, at) for order in unique]
    stored = await repository.add_orders(session, rows)
    lines: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    trail: list[dict[str, Any]] = []
    value: list[dict[str, Any]] = []  # what each customer's order brought in (CRM-1)
    for order in unique:
        order_id = stored.get((order.channel, order.channel_order_no))
        if order_id is None:
            continue
        customer_id = customers.get(id(order))
        taken = sum(c.amount for c in order.captures if c.captured)
        if customer_id is not None and taken:
            at_paid = order.paid_at or order.placed_at or UNDATED
            value.append(
                {
                    "customer_id": customer_id,
                    "order_id": order_id,
                    "amount": taken,
                    "at": at_paid,
                    "placed_at": order.placed_at,
                }
            )
        lines += [
            {
                "order_id": order_id,
                "sku_id": skus[line.sku],
                "sku_code": line.sku,
                "name": line.name[:200],
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "line_total": line.unit_price * line.quantity - line.discount,
                "unit_cost": line.unit_cost,
                "cost_backfilled": False,
            }
            for line in order.lines
        ]
        payments += [
            {
                "order_id": order_id,
                "provider": PROVIDER,
                "method": capture.method[:30],
                "amount": capture.amount,
                "status": PaymentStatus.SUCCEEDED if capture.captured else PaymentStatus.FAILED,
                "created_by": actor.user_id,
                "created_at": capture.at or order.placed_at or UNDATED,
                "updated_at": capture.at or order.placed_at or UNDATED,
                "refund_reserved": 0,
            }
            for capture in order.captures
        ]
        after = {"channel": order.channel, "channel_order_no": order.channel_order_no, "status": order.status}
        trail.append(audit.row(actor, "order.imported", "order", order_id, None, after, at))
    await repository.add_lines_and_payments(session, lines, payments)
    await crm.history_paid(session, value, at)
    await audit.record(session, *trail)
    return Written(len(stored), len(batch) - len(stored), created_customers, created_skus)


async def _skus(
    session: AsyncSession, batch: Sequence[HistoricalOrder], at: datetime
) -> tuple[dict[str, int], int]:
    """The id of every SKU code the batch names, those not known created (with a product each,
    under its category); and how many were created."""
    wanted = {line.sku: line for order in batch for line in order.lines}
    known = {code: facts.id for code, facts in (await catalog.sale_facts(session, list(wanted))).items()}
    missing = [line for code, line in wanted.items() if code not in known]
    if not missing:
        return known, 0
    categories: dict[tuple[str, ...], int] = {}
    for path in {line.category for line in missing if line.category}:
        categories[path] = await catalog.category_for(session, path)
    product_rows = [
        {
            "name": line.name[:200],
            "description": "",
            "created_at": at,
            "category_id": categories.get(line.category),
            "status": ListingStatus.PUBLISHED,  # history's products were on sale (CAT-4 not applied)
            "published_at": at,
        }
        for line in missing
    ]
    products = await repository.add_products(session, product_rows)
    await repository.add_skus(
        session,
        [
            {
                "product_id": product_id,
                "code": line.sku,
                "name": line.name[:200],
                "price": line.unit_price,
                "cost": line.unit_cost,
                "weight_g": 0,
                "barcode": None,
                "price_band": PriceBand.PROFIT,
                "sellable": False,  # history names it; selling it again is set up in the catalog
                "safety_stock": 0,  # no stock is kept for it: no low-stock alert (INV-4)
            }
            for product_id, line in zip(products, missing, strict=True)
        ],
    )
    return {**known, **await repository.sku_ids(session, [line.sku for line in missing])}, len(missing)


def _hashes(identity: Identity) -> tuple[str | None, str | None]:
    """The blind index of the identity's phone when it is a mainland mobile, else of its platform key."""
    vault = crypto.vault()
    phone = mobile(identity.phone) if identity.phone else None
    if phone is not None:
        return vault.lookup_hash(phone), None
    if identity.key:
        return None, vault.lookup_hash(platform_key(identity.platform, identity.key))
    return None, None


async def _customers(
    session: AsyncSession, batch: Sequence[HistoricalOrder], at: datetime
) -> tuple[dict[int, int], int]:
    """The customer id of each order (by `id(order)`) that names someone, those not known
    created; and how many were created."""
    hashed = {id(o): _hashes(o.customer) for o in batch if o.customer is not None}
    phone_hashes = {p for p, _ in hashed.values() if p is not None}
    key_hashes = {k for _, k in hashed.values() if k is not None}
    phones, keys = await repository.customers_known(session, phone_hashes, key_hashes)
    new: dict[tuple[str | None, str | None], int] = {}
    rows: list[dict[str, Any]] = []
    phone_rows: list[dict[str, Any]] = []
    key_rows: list[dict[str, Any]] = []
    for order in batch:
        pair = hashed.get(id(order))
        if pair is None or pair == (None, None) or pair in new:
            continue
        phone_hash, key_hash = pair
        if (phone_hash is not None and phone_hash in phones) or (key_hash is not None and key_hash in keys):
            continue
        identity = order.customer
        assert identity is not None
        new[pair] = len(rows)
        secret = os.urandom(SECRET_BYTES)  # RSK-3: the customer's own key's
        rows.append(
            {
                "secret": secret,
                "personal": Owned(secret, {"name": identity.name, "email": identity.email, "addresses": []}),
                "tags": [],
                "tier": Tier.NONE,
                "source": Source.IMPORT,
                "lifetime_value": 0,
                "order_count": 0,
                "first_order_at": None,
                "last_order_at": None,
                "merged_into": None,
                "created_at": at,
                "updated_at": at,
            }
        )
        if phone_hash is not None:
            number = mobile(identity.phone or "")
            phone_rows.append(
                {
                    "customer_id": new[pair],
                    "phone_hash": phone_hash,
                    "phone": number,
                    "is_primary": True,
                    "created_at": at,
                }
            )
        else:
            key_rows.append({"customer_id": new[pair], "key_hash": key_hash, "created_at": at})
    ids = await repository.add_customers(session, rows, phone_rows, key_rows) if rows else []
    found: dict[int, int] = {}
    for order_key, (phone_hash, key_hash) in hashed.items():
        if phone_hash is not None and phone_hash in phones:
            found[order_key] = phones[phone_hash]
        elif key_hash is not None and key_hash in keys:
            found[order_key] = keys[key_hash]
        elif (phone_hash, key_hash) in new:
            found[order_key] = ids[new[(phone_hash, key_hash)]]
    return found, len(rows)


def _order_row(order: HistoricalOrder, customer_id: int | None, actor: Actor, at: datetime) -> dict[str, Any]:
    identity = order.customer
    phone = mobile(identity.phone) if identity is not None and identity.phone else None
    contact = {
        "customer": {
            "name": identity.name if identity else "",
            "phone": identity.phone if identity else None,
            "email": identity.email if identity else None,
        },
        "shipping_address": order.address,
    }
    placed = order.placed_at or UNDATED
    paid = order.paid_at
    subtotal = order.subtotal
    status = order.status
    return {
        "order_no": history_order_no(order.channel, order.channel_order_no),
        "channel": order.channel,
        "channel_order_no": order.channel_order_no,
        "idempotency_key": None,
        "request_hash": None,
        "status": status,
        "held_from": None,
        "hold_reason": None,
        "contact": contact,
        "phone_hash": crypto.vault().lookup_hash(phone) if phone else "",
        "customer_id": customer_id,
        "ship_province": order.ship_province[:40],
        "buyer_ip": None,
        "note": None,
        "subtotal": subtotal,
        "shipping_fee": order.shipping,
        "discount": order.discount,
        "total": order.total if order.total is not None else subtotal + order.shipping - order.discount,
        "created_by": actor.user_id,
        "created_at": placed,
        "updated_at": at,
        "confirmed_at": None if status is OrderStatus.PENDING else (paid or order.placed_at),
        "paid_at": paid,
        "shipped_at": order.shipped_at,
        "delivered_at": order.delivered_at,
        "completed_at": order.completed_at,
        "closed_at": None,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": "cancelled on the platform" if status == OrderStatus.CANCELLED else None,
        "payment_terms": None,
        "payment_due_at": None,
        "currency": order.currency,
        "imported_at": at,
        "undated": order.undated,
        "import_flags": order.flags or None,
    }
