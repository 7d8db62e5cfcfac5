"""Orders and their lifecycle (ORD-1..5): states, the TRANSITIONS table, intake rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    false,
    literal,
    literal_column,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core import clock, money
from shopflow.core.crypto import SealedFor, customer_secret
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import FieldError, InvalidTransition
from shopflow.core.policy import Aftersales as AftersalesRules
from shopflow.core.policy import Orders as OrderRules
from shopflow.loyalty.models import LineValue


class OrderStatus(StrEnum):
    PENDING = "pending"  # 待确认
    CONFIRMED = "confirmed"  # 已确认
    PAID = "paid"  # 已支付
    PICKING = "picking"  # 拣货中
    PACKED = "packed"  # 已打包
    SHIPPED = "shipped"  # 已发货
    DELIVERED = "delivered"  # 已送达
    COMPLETED = "completed"  # 已完成
    CLOSED = "closed"  # 已关闭
    CANCELLED = "cancelled"  # 已取消
    ON_HOLD = "on_hold"  # 挂起


S = OrderStatus
# ORD-3. `on_hold` returns only to the state it left, or to `paid` when money was captured
# during the hold (checked in `Order.release`).
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.CANCELLED, S.ON_HOLD}),
    S.CONFIRMED: frozenset({S.PAID, S.PICKING, S.CANCELLED, S.ON_HOLD}),  # picking: on credit (ORD-5)
    S.PAID: frozenset({S.PICKING, S.CANCELLED, S.ON_HOLD}),
    S.PICKING: frozenset({S.PACKED}),
    S.PACKED: frozenset({S.SHIPPED, S.PICKING}),  # FUL-2: a failed quality check goes back
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
    S.ON_HOLD: frozenset({S.PENDING, S.CONFIRMED, S.PAID, S.CANCELLED}),
}
HOLDABLE = frozenset({S.PENDING, S.CONFIRMED, S.PAID})


class OrderClock(StrEnum):
    """The SLA clocks of an order (SLA-1), each started and stopped by a transition."""

    PAY = "order.pay"  # ORD-5: confirmed -> paid
    SHIP = "order.ship"  # ORD-6: paid -> shipped
    DELIVER = "order.deliver"  # ORD-6: shipped -> delivered
    RECEIPT = "order.receipt"  # ORD-7: delivered -> completed (assumed after the window)
    AFTERSALES = "order.aftersales"  # ORD-7/ASV-1: completed -> closed when the window ends
    RISK_REVIEW = "order.risk_review"  # RSK-2: held for risk -> approved or rejected (the risk domain's)


class AftersalesStanding(StrEnum):
    """What the order's after-sales cases came to, as the order shows it (issue 11, item 8);
    decided by the after-sales domain's `order_standing`."""

    NONE = "none"
    IN_PROGRESS = "in_progress"  # a case is open
    REFUNDED = "refunded"  # the settled refunds equal what was captured
    PARTIALLY_REFUNDED = "partially_refunded"  # some money went back
    RETURNED = "returned"  # goods came back without money (an exchange)


class PaymentTerms(StrEnum):
    """When an order is paid: before it ships, or on credit within 30 or 60 days (CRM-6, ORD-5)."""

    PREPAID = "prepaid"
    NET30 = "net30"
    NET60 = "net60"


CREDIT_TERMS = frozenset({PaymentTerms.NET30, PaymentTerms.NET60})


@dataclass(frozen=True, slots=True)
class AgreedTerms:
    """A contract's order (CRM-6): priced as agreed, with its payment terms and, on credit, the day
    its payment is due. On credit (ORD-5) it has no unpaid-cancel clock and may be picked unpaid
    once confirmed."""

    terms: PaymentTerms
    due_at: datetime | None = None

    @property
    def on_credit(self) -> bool:
        return self.terms in CREDIT_TERMS


# The count time (`Order.counted_at`) of imported history whose dates its file does not give: before
# the first day any period can name (analytics' FIRST_DAY, in every time zone), inside all time.
UNDATED = datetime(1900, 1, 1, tzinfo=UTC)


class HoldReason(StrEnum):
    STOCK_SHORTAGE = "stock_shortage"
    RISK_REVIEW = "risk_review"
    MANUAL = "manual"


def order_subject(order_id: int) -> str:
    """The order's subject in SLA clocks, alerts and outbox rows ("order:42")."""
    return f"order:{order_id}"


def order_of_subject(subject: str) -> int:
    """The order id of an order's subject (`order_subject`)."""
    return int(subject.removeprefix("order:"))


def checked(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    """`target` if ORD-3 allows the step from `current`, else InvalidTransition (409)."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition("order", current, target)
    return target


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "channel_order_no"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_status_confirmed", "status", "confirmed_at"),
        Index("ix_orders_channel_created", "channel", "created_at"),
        # The console: orders by date alone, and found by the channel's own order number.
        Index("ix_orders_created_at", "created_at"),
        Index("ix_orders_channel_order_no", "channel_order_no"),
        # A customer's orders, and (RSK-1) their completed ones, counted at intake up to the
        # blocklist's exemption.
        Index("ix_orders_customer_status", "customer_id", "status"),
        # Found by a prefix of its number (LIKE 'SF2611%'): PostgreSQL's default operator class
        # serves LIKE only under the C collation, which a database rarely has.
        Index("ix_orders_order_no_pattern", "order_no", postgresql_ops={"order_no": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(40))
    channel_order_no: Mapped[str | None] = mapped_column(String(80))
    # ORD-1: the caller's Idempotency-Key scoped to its user and channel (`scoped_key`), and the
    # digest of the request it came with (`request_digest`): a repeat must match both.
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    held_from: Mapped[str | None] = mapped_column(String(20))
    hold_reason: Mapped[str | None] = mapped_column(String(40))
    # Personal data, encrypted at rest with the customer's own key when it has a customer
    # (`core.crypto`): {"customer": {...}, "shipping_address": {...}}.
    contact: Mapped[dict[str, Any]] = mapped_column(SealedFor(customer_secret))
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    # The customer whose phone placed it (CRM-1), found or created by intake.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))  # ix_orders_customer_status
    # LOY-2: placed by a member whose tier is picked first (diamond); waves take it first.
    pick_first: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ship_province: Mapped[str] = mapped_column(String(40))
    buyer_ip: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    subtotal: Mapped[int] = mapped_column(BigInteger)
    shipping_fee: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    # ORD-5: an order on credit (net30/net60, from a contract) and when its payment is due; NULL
    # for every other order. Finance's receivables read them.
    payment_terms: Mapped[str | None] = mapped_column(String(10))
    payment_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Imported history (ORD-1, `analytics.importing`): its currency as the file gave it (NULL: the
    # store's), when it was imported (NULL for every order placed here: no clock, reservation,
    # notification or sweep takes an imported one up), whether its file gives no dates (it then
    # counts in all-time figures only), and the values it was recorded with though bad
    # ({"customer.email": "is not an email address"}).
    currency: Mapped[str | None] = mapped_column(String(3))
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    import_flags: Mapped[dict[str, str] | None] = mapped_column(JSONType)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", lazy="raise"
    )

    def can_move_to(self, target: OrderStatus) -> bool:
        """ORD-3 for this order: the TRANSITIONS table, and a hold ends only by `release` (back to
        the state it left) or by cancellation, never by a step that skips the release."""
        current = OrderStatus(self.status)
        if current is S.ON_HOLD and target is not S.CANCELLED:
            return False
        if current is S.CONFIRMED and target is S.PICKING:  # ORD-5: unpaid, only on credit
            return self.on_credit
        return target in TRANSITIONS[current]

    @property
    def on_credit(self) -> bool:
        """Placed on credit terms (ORD-5): picked, packed and shipped before it is paid."""
        return self.payment_terms in CREDIT_TERMS

    @hybrid_property
    def counted_at(self) -> datetime | None:
        """When the order counts as a sale in the metrics: its first captured payment, or, on
        credit (ORD-5), its confirmation; imported history without dates: `UNDATED` (all time
        only); in a query, the same as one SQL expression."""
        if self.on_credit:
            return self.confirmed_at
        return UNDATED if self.undated else self.paid_at

    @counted_at.inplace.expression
    @classmethod
    def _counted_at(cls) -> ColumnElement[datetime | None]:
        # The terms and UNDATED as literals, so the statement matches the index on this expression
        # (`ix_orders_counted_at`, migration 0028) whatever the driver binds.
        terms = [literal_column(f"'{t}'") for t in sorted(CREDIT_TERMS)]
        return case(
            (cls.payment_terms.in_(terms), cls.confirmed_at),
            (cls.undated, literal(UNDATED, UTCDateTime(), literal_execute=True)),
            else_=cls.paid_at,
        )

    def move_to(self, target: OrderStatus, at: datetime) -> OrderStatus:
        """Change status if `can_move_to` allows it; returns the status left."""
        if not self.can_move_to(target):
            raise InvalidTransition("order", self.status, target)
        return self._set_status(target, at)

    def _set_status(self, target: OrderStatus, at: datetime) -> OrderStatus:
        previous = OrderStatus(self.status)
        self.status = checked(previous, target)
        self.updated_at = at
        return previous

    def hold(self, reason: HoldReason, at: datetime) -> OrderStatus:
        if self.status not in HOLDABLE:
            raise InvalidTransition("order", self.status, S.ON_HOLD)
        previous = self.move_to(S.ON_HOLD, at)
        self.held_from = previous
        self.hold_reason = reason
        return previous

    def cancel(self, reason: str, at: datetime) -> OrderStatus:
        """Cancelled (ORD-3), and so no longer held, whatever held it (the history keeps why)."""
        previous = self.move_to(S.CANCELLED, at)
        self.cancelled_at = at
        self.cancel_reason = reason
        self.held_from = None
        self.hold_reason = None
        return previous

    def release(self, at: datetime) -> OrderStatus:
        """Back to the state the hold interrupted, or to `paid` when its payment was captured
        during the hold (ORD-3); an order held at intake (never confirmed, see `new_order_row`)
        and paid meanwhile is confirmed by its release."""
        if self.status != S.ON_HOLD or self.held_from is None:
            raise InvalidTransition("order", self.status, "released")
        self._set_status(S.PAID if self.paid_at is not None else OrderStatus(self.held_from), at)
        if self.status == S.PAID and self.confirmed_at is None:
            self.confirmed_at = at
        self.held_from = None
        self.hold_reason = None
        return S.ON_HOLD

    @property
    def paid_on_hold(self) -> bool:
        """Held, with its payment captured (before or during the hold): released, it is `paid`."""
        return self.status == S.ON_HOLD and self.paid_at is not None

    def can_take_payment(self) -> bool:
        """Whether a captured payment pays this order (ORD-3, ORD-5): a confirmed order, or one
        held before it was paid (a stock-shortage or risk hold keeps the money and the hold)."""
        if self.status == S.ON_HOLD:
            return self.paid_at is None
        return self.can_move_to(S.PAID)

    def confirm(self, at: datetime) -> OrderStatus:
        """Confirmed with its stock reserved (ORD-4)."""
        previous = self.move_to(S.CONFIRMED, at)
        self.confirmed_at = at
        return previous

    def pay(self, at: datetime) -> OrderStatus:
        """Its payment was captured (ORD-5): `paid`; an order on hold stays held and remembers
        it is paid (`paid_at`), so that its release makes it `paid` (ORD-3)."""
        if not self.can_take_payment():
            raise InvalidTransition("order", self.status, S.PAID)
        previous = OrderStatus(self.status)
        if previous is not S.ON_HOLD:
            self._set_status(S.PAID, at)
        self.updated_at = at
        self.paid_at = at
        return previous

    def start_picking(self, at: datetime) -> OrderStatus:
        """Its pick task begins (FUL-1), or begins again after a failed quality check (FUL-2)."""
        return self.move_to(S.PICKING, at)

    def pack(self, at: datetime) -> OrderStatus:
        """Every parcel of the order is packed (FUL-2)."""
        return self.move_to(S.PACKED, at)

    def ship(self, at: datetime) -> OrderStatus:
        """Handed to the carrier (FUL-4): the delivery promise starts (ORD-6)."""
        previous = self.move_to(S.SHIPPED, at)
        self.shipped_at = at
        return previous

    def deliver(self, at: datetime) -> OrderStatus:
        """The carrier delivered it; the receipt window starts (ORD-7)."""
        previous = self.move_to(S.DELIVERED, at)
        self.delivered_at = at
        return previous

    def complete(self, at: datetime) -> OrderStatus:
        """Receipt confirmed or assumed (ORD-7)."""
        previous = self.move_to(S.COMPLETED, at)
        self.completed_at = at
        return previous

    def close(self, at: datetime) -> OrderStatus:
        """The after-sales window is over (ORD-7)."""
        previous = self.move_to(S.CLOSED, at)
        self.closed_at = at
        return previous


# The metrics read orders by their count time (migration 0028).
Index("ix_orders_counted_at", Order.counted_at)


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    sku_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    # This line's share of the order's discounts (coupons and points, `loyalty.service.Deal`),
    # what a refund of the line gives back less (ASV-4).
    discount: Mapped[int] = mapped_column(BigInteger)
    line_total: Mapped[int] = mapped_column(BigInteger)
    # The SKU's cost when the line was placed (FIN-3's cost of goods sold); lines placed before
    # costs were kept got the SKU's cost of the day of the migration, flagged `cost_backfilled`.
    unit_cost: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cost_backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    order: Mapped[Order] = relationship(back_populates="lines")


# --- intake rules (ORD-2): pure functions, no I/O ------------------------------------------

# ASCII digits only, the whole value (`\d` would take full-width digits, `$` a trailing newline).
MOBILE = re.compile(r"1[0-9]{10}")
POSTCODE = re.compile(r"[0-9]{6}")
# How people write a mainland mobile: spaced or hyphenated, with the country code or without.
PHONE_SEPARATORS = str.maketrans("", "", " -")
COUNTRY_CODES = ("+86", "0086")
# RFC 5322 atext: what an unquoted local part may hold besides letters and digits.
LOCAL_PART_SYMBOLS = frozenset("!#$%&'*+-/=?^_`{|}~")
ADDRESS_PARTS = ("name", "phone", "province", "city", "district", "street", "postcode")


def mobile(text: str) -> str | None:
    """The mainland mobile number (ORD-2) `text` is, as intake stores it (11 digits), when it
    is one written as people write it ("138 0013 8000", "+86 138-0013-8000"); else None."""
    digits = text.strip().translate(PHONE_SEPARATORS)
    for code in COUNTRY_CODES:
        digits = digits.removeprefix(code)
    return digits if MOBILE.fullmatch(digits) else None


def is_email(text: str) -> bool:
    """Whether `text` is one bare address mail can be sent to: local@domain.tld, the local part
    dot-separated atoms (no quoting, comments, display names or spaces), the domain's labels
    letters, digits and inner hyphens, the last not all digits (RFC 5321 lengths)."""
    if text.count("@") != 1:
        return False
    local, _, domain = text.partition("@")
    atoms, labels = local.split("."), domain.split(".")
    return (
        len(local) <= 64
        and len(domain) <= 253
        and all(atom and all(ch.isalnum() or ch in LOCAL_PART_SYMBOLS for ch in atom) for atom in atoms)
        and len(labels) >= 2
        and all(
            0 < len(label) <= 63
            and not label.startswith("-")
            and not label.endswith("-")
            and all(ch.isalnum() or ch == "-" for ch in label)
            for label in labels
        )
        and not labels[-1].isdigit()
    )


@dataclass(frozen=True, slots=True)
class SkuFacts:
    id: int
    name: str
    price: int
    sellable: bool
    cost: int = 0
    published: bool = True  # CAT-4: its product's listing is published


@dataclass(frozen=True, slots=True)
class LineRequest:
    sku: str
    quantity: int
    unit_price: int


# ASV-6: the replacement orders an exchange places; nothing else is, so no payment, receipt or
# sales figure (PAY-5, ANA-1) ever counts one.
EXCHANGE_CHANNEL = "exchange"


def intake_errors(
    channel: str,
    customer: Mapping[str, str],
    address: Mapping[str, str],
    lines: list[LineRequest],
    skus: Mapping[str, SkuFacts],
    rules: OrderRules,
    *,
    replacement: bool = False,
    agreed_prices: bool = False,
) -> list[FieldError]:
    """Every reason an order cannot be accepted, each naming its field; `rules` the policy's.
    A `replacement` (ASV-6: an exchange's goods, channel `exchange`) is priced at 0; an order of
    `agreed_prices` (a contract's, CRM-6) is priced as agreed, not at the current prices."""
    errors: list[FieldError] = []
    if channel not in rules.channels:
        errors.append(
            FieldError("channel", f"unknown channel {channel!r}: one of {', '.join(rules.channels)}")
        )
    elif (channel == EXCHANGE_CHANNEL) is not replacement:
        errors.append(
            FieldError("channel", "only an after-sales exchange places orders of the exchange channel")
            if not replacement
            else FieldError("channel", f"a replacement is placed in the {EXCHANGE_CHANNEL} channel")
        )
    if not customer.get("name", "").strip():
        errors.append(FieldError("customer.name", "is required"))
    if not MOBILE.fullmatch(customer.get("phone", "")):
        errors.append(FieldError("customer.phone", "must be 11 digits starting with 1"))
    email = customer.get("email")
    if email and not is_email(email):
        errors.append(FieldError("customer.email", "is not an email address"))
    for part in ADDRESS_PARTS:
        if not address.get(part, "").strip():
            errors.append(FieldError(f"shipping_address.{part}", "is required"))
    if address.get("phone", "").strip() and not MOBILE.fullmatch(address["phone"]):
        errors.append(FieldError("shipping_address.phone", "must be 11 digits starting with 1"))
    if address.get("postcode", "").strip() and not POSTCODE.fullmatch(address["postcode"]):
        errors.append(FieldError("shipping_address.postcode", "must be 6 digits"))
    if not lines:
        errors.append(FieldError("lines", "at least one line is required"))
    for i, line in enumerate(lines):
        if line.quantity <= 0:
            errors.append(FieldError(f"lines[{i}].quantity", "must be positive"))
        elif line.quantity > rules.max_line_quantity:
            errors.append(FieldError(f"lines[{i}].quantity", f"must be at most {rules.max_line_quantity}"))
        facts = skus.get(line.sku)
        if facts is None:
            errors.append(FieldError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}"))
        elif not facts.sellable:
            errors.append(FieldError(f"lines[{i}].sku", f"SKU {line.sku!r} is not for sale"))
        elif not facts.published:
            errors.append(
                FieldError(
                    f"lines[{i}].sku", f"SKU {line.sku!r} is not for sale: its product is not published"
                )
            )
        elif replacement and line.unit_price != 0:
            errors.append(FieldError(f"lines[{i}].unit_price", "a replacement is priced at 0"))
        elif agreed_prices and line.unit_price < 0:
            errors.append(FieldError(f"lines[{i}].unit_price", "must not be negative"))
        elif not replacement and not agreed_prices and line.unit_price != facts.price:
            errors.append(
                FieldError(
                    f"lines[{i}].unit_price",
                    f"does not match the current price {facts.price / 100:.2f}",
                )
            )
    value = sum(line.unit_price * line.quantity for line in lines if line.quantity > 0)
    if value > rules.max_order_value:
        worth, limit = money.fmt(value), money.fmt(rules.max_order_value)
        errors.append(FieldError("lines", f"the goods are worth {worth}; an order may be {limit} at most"))
    return errors


def new_order_row(fields: Mapping[str, Any], at: datetime, *, held_for: str | None = None) -> dict[str, Any]:
    """The row intake stores for a new order with the intake `fields`: confirmed at `at`; when it
    is `held_for` a reason (ORD-4's stock shortage, ORD-3's risk review), held from pending, as
    `Order.hold` holds it, and never confirmed."""
    row = {**fields, "created_at": at, "updated_at": at}
    if held_for is None:
        return {**row, "status": checked(S.PENDING, S.CONFIRMED), "confirmed_at": at}
    return {
        **row,
        "status": checked(S.PENDING, S.ON_HOLD),
        "held_from": S.PENDING,
        "hold_reason": held_for,
        "confirmed_at": None,
    }


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: int
    shipping: int
    discount: int
    total: int


def totals(lines: list[LineRequest], shipping_fee: int, free_threshold: int, discount: int = 0) -> Totals:
    """Order totals in fen with the goods' `discount` (coupons, LOY-4); shipping is free from the
    threshold up (FUL-3), counted on the goods before their discount."""
    subtotal = sum(line.unit_price * line.quantity for line in lines)
    shipping = 0 if subtotal >= free_threshold else shipping_fee
    return Totals(
        subtotal=subtotal, shipping=shipping, discount=discount, total=subtotal + shipping - discount
    )


def line_values(order: Order) -> list[LineValue]:
    """The order's lines as points see them (LOY-1): units and value after discounts."""
    return [LineValue(line.id, line.quantity, line.line_total - line.discount) for line in order.lines]


def aftersales_closes(delivered_at: datetime, rules: AftersalesRules) -> datetime:
    """ORD-7: when a delivered order's after-sales clock ends: with the longest return window of
    any reason (ASV-1; the after-sales domain's `return_window` counts them the same way)."""
    return clock.after_store_days(delivered_at, max(rules.no_reason_return_days, rules.quality_return_days))
