"""Imported history as the parsers read it and the writer stores it (pure: no I/O): a historical
order with its lines, captures and customer, the rows a parser rejects, and the small readers of
amounts and timestamps that every layout shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from shopflow.orders.models import OrderStatus, is_email

# The channel of rows whose file names none (ORD-1's built-in `import`).
IMPORT_CHANNEL = "import"
CHANNEL = re.compile(r"[a-z][a-z0-9_]{0,39}")
CURRENCY = re.compile(r"[A-Z]{3}")
# A channel's own order number as `orders.channel_order_no` keeps it.
MAX_ORDER_NO = 80


@dataclass(frozen=True, slots=True)
class Identity:
    """Who placed an order, as the file names them: a mobile phone when it is a valid one finds
    the customer (CRM-1); otherwise the platform's own id for them (`platform`, `key`: Olist's
    `customer_unique_id`, a Shopify or WooCommerce email)."""

    platform: str
    key: str | None
    name: str = ""
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class HistoricalLine:
    """One line: the platform's SKU (code), its name and category path (top level first), and
    amounts in minor units as the file gives them."""

    sku: str
    name: str
    quantity: int
    unit_price: int
    discount: int = 0
    unit_cost: int = 0
    category: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Capture:
    """Money the platform took for the order: `captured` when it was (at `at`, None when the file
    does not say when), else an attempt that never took money."""

    amount: int
    method: str
    at: datetime | None
    captured: bool = True


@dataclass(frozen=True, slots=True)
class HistoricalOrder:
    """A finished (or abandoned) order of another platform, recorded as given: its final status
    and real timestamps (`placed_at` None: the file gives no date, the order counts in all-time
    figures only), amounts in minor units of `currency` (None: the store's), and `flags`: the bad
    values it was recorded with, by field. `line` is its first row in the file."""

    channel: str
    channel_order_no: str
    status: OrderStatus
    placed_at: datetime | None
    line: int
    lines: tuple[HistoricalLine, ...] = ()
    captures: tuple[Capture, ...] = ()
    customer: Identity | None = None
    currency: str | None = None
    shipping: int = 0
    discount: int = 0
    total: int | None = None  # as the file gives it (taxes included); None: lines + shipping − discount
    ship_province: str = ""
    address: dict[str, str] = field(default_factory=dict)
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def subtotal(self) -> int:
        return sum(line.unit_price * line.quantity - line.discount for line in self.lines)

    @property
    def paid_at(self) -> datetime | None:
        """Its first captured payment's time: when it counts as a sale (ANA-1)."""
        times = [c.at for c in self.captures if c.captured and c.at is not None]
        return min(times) if times else None

    @property
    def undated(self) -> bool:
        return self.placed_at is None


@dataclass(frozen=True, slots=True)
class RowError:
    """A row not imported: its line in the file (the first of a record spread over several), why,
    and the file's name when a parser reads several."""

    line: int
    reason: str
    file: str = ""


class Bad(ValueError):
    """A value a row cannot be read with; the parser turns it into the row's `RowError`."""


def amount(text: str, name: str, *, blank: int | None = None) -> int:
    """An amount with at most two decimals ("109.9", "1299.00") in minor units; blank is `blank`
    when given. Bad otherwise, naming the column."""
    text = text.strip()
    if not text and blank is not None:
        return blank
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Bad(f"{name}: {text!r} is not an amount") from None
    minor = value * 100
    if not value.is_finite() or value < 0 or minor != minor.to_integral_value() or minor >= 10**14:
        raise Bad(f"{name}: {text!r} is not an amount with at most two decimals")
    return int(minor)


def count(text: str, name: str) -> int:
    """A positive whole quantity; Bad otherwise."""
    text = text.strip()
    if not text.isdigit() or int(text) <= 0 or int(text) > 2**31 - 1:
        raise Bad(f"{name}: {text!r} is not a positive whole number")
    return int(text)


# Kaggle's Olist files and ISO text; the re-saved sample's M/D/YYYY H:MM; Shopify's "… -0500".
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d")


def timestamp(text: str, name: str, zone: tzinfo) -> datetime | None:
    """A timestamp as the files write it, in UTC: ISO 8601 with or without an offset, Kaggle's
    `2017-10-02 10:56:33`, the re-saved `10/2/2017 10:56`, Shopify's `2025-12-06 10:37:33 -0500`;
    a time without an offset is in `zone` (the store's). Blank is None; Bad otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        found = None
    if found is None:
        try:
            found = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            for layout in TIME_FORMATS:
                try:
                    found = datetime.strptime(text, layout)
                    break
                except ValueError:
                    continue
    if found is None:
        raise Bad(f"{name}: {text!r} is not a date and time")
    if found.tzinfo is None:
        found = found.replace(tzinfo=zone)
    return found.astimezone(UTC)


def email_flags(email: str | None, name: str = "customer.email") -> dict[str, str]:
    """The flag of an email that is not one (recorded as given, ORD-2 not applied)."""
    if email and not is_email(email):
        return {name: "is not an email address"}
    return {}
