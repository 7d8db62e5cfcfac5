"""Order exports of other platforms as order history, one row per order line, the rows of an
order one after another (as Shopify and WooCommerce write them): Shopify's orders export
(`Name`, `Lineitem …`), WooCommerce's order CSV (`order_number`, `billing_*`, `item_total`) and
Shopflow's own layout (`docs/imports.md`). Each parser reads the file as a stream (csv module,
one order's rows at a time) and yields `HistoricalOrder`s and `RowError`s with line numbers; an
order with a bad row is not imported, each of its bad rows reported. The order-level fields are
read from an order's first row."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator
from datetime import tzinfo
from typing import TextIO

from shopflow.analytics.importing.records import (
    CHANNEL,
    CURRENCY,
    IMPORT_CHANNEL,
    MAX_ORDER_NO,
    Bad,
    Capture,
    HistoricalLine,
    HistoricalOrder,
    Identity,
    RowError,
    amount,
    count,
    email_flags,
    timestamp,
)
from shopflow.orders.models import OrderStatus

S = OrderStatus
Row = dict[str, str]
Parsed = HistoricalOrder | RowError
Reader = Callable[[str, list[tuple[int, Row]], tzinfo], HistoricalOrder]


def _grouped(
    handle: TextIO, key: str, required: tuple[str, ...]
) -> Iterator[tuple[str, list[tuple[int, Row]]] | RowError]:
    """The rows of each order (by the `key` column) with their first lines; a RowError for a file
    without the `required` columns and for rows without a key."""
    reader = csv.DictReader(handle)
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        yield RowError(1, f"no column {', '.join(missing)}: not a file of this format")
        return
    current: str | None = None
    rows: list[tuple[int, Row]] = []
    start = reader.line_num + 1
    for row in reader:
        number = (row.get(key) or "").strip()
        if not number:
            yield RowError(start, f"{key} is blank")
        elif len(number) > MAX_ORDER_NO:
            yield RowError(start, f"{key}: longer than {MAX_ORDER_NO} characters")
        else:
            if number != current and rows:
                yield current or "", rows
                rows = []
            current = number
            rows.append((start, row))
        start = reader.line_num + 1
    if rows:
        yield current or "", rows


def parse(handle: TextIO, layout: str, zone: tzinfo) -> Iterator[Parsed]:
    """The orders of a file of `layout` (`LAYOUTS`) and the rows rejected; times without an
    offset are in `zone`."""
    key, required, read = LAYOUTS[layout]
    for found in _grouped(handle, key, required):
        if isinstance(found, RowError):
            yield found
            continue
        number, rows = found
        try:
            yield read(number, rows, zone)
        except Bad as exc:
            yield RowError(_bad_line(exc, rows), f"order {number} not imported: {exc.args[0]}")


def _bad_line(exc: Bad, rows: list[tuple[int, Row]]) -> int:
    return exc.args[1] if len(exc.args) > 1 else rows[0][0]


def _lines(rows: list[tuple[int, Row]], read: Callable[[Row], HistoricalLine]) -> tuple[HistoricalLine, ...]:
    found = []
    for line, row in rows:
        try:
            found.append(read(row))
        except Bad as exc:
            raise Bad(exc.args[0], line) from None
    return tuple(found)


def _text(row: Row, name: str) -> str:
    return (row.get(name) or "").strip()


def _currency(text: str) -> str | None:
    text = text.strip().upper()
    if not text:
        return None
    if not CURRENCY.fullmatch(text):
        raise Bad(f"currency: {text!r} is not an ISO 4217 code")
    return text


# --- Shopify -----------------------------------------------------------------------------------

SHOPIFY = "shopify"
CAPTURED_STATES = {"paid", "partially_paid", "partially_refunded", "refunded"}


def _shopify_line(row: Row) -> HistoricalLine:
    name = _text(row, "Lineitem name")
    return HistoricalLine(
        sku=_text(row, "Lineitem sku") or f"{SHOPIFY}:{name}"[:64],
        name=name,
        quantity=count(row.get("Lineitem quantity") or "", "Lineitem quantity"),
        unit_price=amount(row.get("Lineitem price") or "", "Lineitem price"),
        discount=amount(row.get("Lineitem discount") or "", "Lineitem discount", blank=0),
    )


def _shopify(number: str, rows: list[tuple[int, Row]], zone: tzinfo) -> HistoricalOrder:
    first_line, first = rows[0]
    placed = timestamp(_text(first, "Created at"), "Created at", zone)
    if placed is None:
        raise Bad("Created at is blank")
    paid = timestamp(_text(first, "Paid at"), "Paid at", zone)
    fulfilled = timestamp(_text(first, "Fulfilled at"), "Fulfilled at", zone)
    cancelled = timestamp(_text(first, "Cancelled at"), "Cancelled at", zone)
    financial = _text(first, "Financial Status").lower()
    total = amount(_text(first, "Total"), "Total")
    flags = email_flags(_text(first, "Email"))
    captures: tuple[Capture, ...] = ()
    if financial in CAPTURED_STATES:
        taken = total
        if financial == "partially_paid":
            taken = max(
                0, total - amount(_text(first, "Outstanding Balance"), "Outstanding Balance", blank=0)
            )
        if paid is None:
            flags["paid_at"] = "is blank on a paid order: its creation time is used"
        captures = (Capture(taken, _text(first, "Payment Method") or "other", paid or placed),)
    if cancelled is not None or financial == "voided":
        status = S.CANCELLED
    elif _text(first, "Fulfillment Status").lower() == "fulfilled":
        status = S.COMPLETED
    elif captures:
        status = S.PAID
    else:
        status = S.PENDING
    if financial in {"refunded", "partially_refunded"}:
        flags["refunds"] = "refunded on the platform; refunds are not imported"
    email = _text(first, "Email") or None
    phone = _text(first, "Phone") or _text(first, "Billing Phone") or _text(first, "Shipping Phone")
    return HistoricalOrder(
        channel=SHOPIFY,
        channel_order_no=number,
        status=status,
        placed_at=placed,
        line=first_line,
        lines=_lines(rows, _shopify_line),
        captures=captures,
        customer=Identity(SHOPIFY, email, _text(first, "Billing Name"), phone or None, email)
        if email or phone
        else None,
        currency=_currency(_text(first, "Currency")),
        shipping=amount(_text(first, "Shipping"), "Shipping", blank=0),
        discount=amount(_text(first, "Discount Amount"), "Discount Amount", blank=0),
        total=total,
        ship_province=_text(first, "Shipping Province Name") or _text(first, "Shipping Province"),
        address={"city": _text(first, "Shipping City"), "country": _text(first, "Shipping Country")},
        shipped_at=fulfilled if status is S.COMPLETED else None,
        completed_at=fulfilled if status is S.COMPLETED else None,
        cancelled_at=cancelled,
        flags=flags,
    )


# --- WooCommerce -------------------------------------------------------------------------------

WOOCOMMERCE = "woocommerce"
WOO_STATUSES = {
    "completed": S.COMPLETED,
    "processing": S.PAID,
    "pending": S.PENDING,
    "on-hold": S.PENDING,  # WooCommerce: awaiting a transfer or a cheque
    "cancelled": S.CANCELLED,
    "failed": S.CANCELLED,
    "refunded": S.COMPLETED,
}


def _woo_line(row: Row) -> HistoricalLine:
    quantity = count(row.get("quantity") or "", "quantity")
    line_total = amount(row.get("item_total") or "", "item_total")
    unit = math.ceil(line_total / quantity)
    name = _text(row, "product_name")
    return HistoricalLine(
        sku=_text(row, "sku") or f"{WOOCOMMERCE}:{name}"[:64],
        name=name,
        quantity=quantity,
        unit_price=unit,
        discount=unit * quantity - line_total,  # the line's total kept exactly
    )


def _woocommerce(number: str, rows: list[tuple[int, Row]], zone: tzinfo) -> HistoricalOrder:
    first_line, first = rows[0]
    state = _text(first, "status").lower().removeprefix("wc-")
    if state not in WOO_STATUSES:
        raise Bad(f"status: {state!r} is not one of {', '.join(WOO_STATUSES)}")
    status = WOO_STATUSES[state]
    placed = timestamp(_text(first, "order_date"), "order_date", zone)
    if placed is None:
        raise Bad("order_date is blank")
    paid = timestamp(_text(first, "paid_date"), "paid_date", zone)
    completed = timestamp(_text(first, "completed_date"), "completed_date", zone)
    total = amount(_text(first, "order_total"), "order_total")
    email = _text(first, "billing_email") or _text(first, "customer_email") or None
    flags = email_flags(email)
    if state == "refunded":
        flags["refunds"] = "refunded on the platform; refunds are not imported"
    captures = (Capture(total, _text(first, "payment_method") or "other", paid),) if paid is not None else ()
    phone = _text(first, "billing_phone") or None
    name = f"{_text(first, 'billing_first_name')} {_text(first, 'billing_last_name')}".strip()
    return HistoricalOrder(
        channel=WOOCOMMERCE,
        channel_order_no=number,
        status=status,
        placed_at=placed,
        line=first_line,
        lines=_lines(rows, _woo_line),
        captures=captures,
        customer=Identity(WOOCOMMERCE, email, name, phone, email) if email or phone else None,
        currency=_currency(_text(first, "order_currency")),
        shipping=amount(_text(first, "shipping_total"), "shipping_total", blank=0),
        discount=amount(_text(first, "discount_total"), "discount_total", blank=0),
        total=total,
        ship_province=_text(first, "shipping_state") or _text(first, "billing_state"),
        address={
            "city": _text(first, "shipping_city") or _text(first, "billing_city"),
            "country": _text(first, "shipping_country") or _text(first, "billing_country"),
        },
        completed_at=completed if status is S.COMPLETED else None,
        flags=flags,
    )


# --- Shopflow's own layout ---------------------------------------------------------------------

SHOPFLOW_STATUSES = {s.value: s for s in OrderStatus if s is not S.ON_HOLD}


def _shopflow_line(row: Row) -> HistoricalLine:
    category = tuple(part.strip() for part in _text(row, "category").split("/") if part.strip())
    if len(category) > 2:
        raise Bad("category: at most two levels, 'Top / Sub'")
    sku = _text(row, "sku")
    if not sku or len(sku) > 64:
        raise Bad("sku: blank or longer than 64 characters")
    return HistoricalLine(
        sku=sku,
        name=_text(row, "product") or sku,
        quantity=count(row.get("quantity") or "", "quantity"),
        unit_price=amount(row.get("unit_price") or "", "unit_price"),
        discount=amount(row.get("line_discount") or "", "line_discount", blank=0),
        unit_cost=amount(row.get("unit_cost") or "", "unit_cost", blank=0),
        category=category,
    )


def _shopflow(number: str, rows: list[tuple[int, Row]], zone: tzinfo) -> HistoricalOrder:
    first_line, first = rows[0]
    channel = _text(first, "channel") or IMPORT_CHANNEL
    if not CHANNEL.fullmatch(channel):
        raise Bad(f"channel: {channel!r} is not a channel name (lower-case letters, digits, _)")
    state = _text(first, "status").lower()
    if state not in SHOPFLOW_STATUSES:
        raise Bad(f"status: {state!r} is not one of {', '.join(SHOPFLOW_STATUSES)}")
    status = SHOPFLOW_STATUSES[state]
    placed = timestamp(_text(first, "placed_at"), "placed_at", zone)
    if placed is None and status not in (S.COMPLETED, S.CLOSED):
        raise Bad("placed_at is blank: only a completed or closed order may have no date")
    paid_text = _text(first, "paid_amount")
    paid_at = timestamp(_text(first, "paid_at"), "paid_at", zone)
    captures = (
        (
            Capture(
                amount(paid_text, "paid_amount"), _text(first, "payment_method") or "other", paid_at or placed
            ),
        )
        if paid_text
        else ()
    )
    email = _text(first, "customer_email") or None
    key = _text(first, "customer_key") or email
    phone = _text(first, "customer_phone") or None
    total_text = _text(first, "total")
    return HistoricalOrder(
        channel=channel,
        channel_order_no=number,
        status=status,
        placed_at=placed,
        line=first_line,
        lines=_lines(rows, _shopflow_line),
        captures=captures,
        customer=Identity(channel, key, _text(first, "customer_name"), phone, email)
        if key or phone
        else None,
        currency=_currency(_text(first, "currency")),
        shipping=amount(_text(first, "shipping"), "shipping", blank=0),
        discount=amount(_text(first, "discount"), "discount", blank=0),
        total=amount(total_text, "total") if total_text else None,
        ship_province=_text(first, "ship_province"),
        completed_at=placed if status in (S.COMPLETED, S.CLOSED) else None,
        cancelled_at=placed if status is S.CANCELLED else None,
        flags=email_flags(email),
    )


# Each layout: the column naming the order, the columns a file must have, its reader.
LAYOUTS: dict[str, tuple[str, tuple[str, ...], Reader]] = {
    SHOPIFY: ("Name", ("Name", "Created at", "Total", "Lineitem quantity", "Lineitem price"), _shopify),
    WOOCOMMERCE: (
        "order_number",
        ("order_number", "order_date", "status", "quantity", "item_total"),
        _woocommerce,
    ),
    "csv": ("order_no", ("order_no", "status", "sku", "quantity", "unit_price"), _shopflow),
}
