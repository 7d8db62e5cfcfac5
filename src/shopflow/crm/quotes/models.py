"""B2B quotes and contracts (CRM-6, CAT-2): states, the TRANSITIONS table, and the pure rules:
a line's price after discount, the totals to the fen, and why a quote needs approval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core import money
from shopflow.core.crypto import Sealed
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import InvalidTransition

APPROVAL_KIND = "quote.discount"  # what a quote asks of core.approvals
BASIS_POINTS = 10_000  # a discount percent is kept in hundredths of a percent (12.5% = 1250)


class QuoteState(StrEnum):
    DRAFT = "draft"  # 草稿
    PENDING_APPROVAL = "pending_approval"  # 待审批
    APPROVED = "approved"  # 已批准
    SENT = "sent"  # 已发送
    ACCEPTED = "accepted"  # 已接受
    REJECTED = "rejected"  # 已拒绝
    EXPIRED = "expired"  # 已过期


Q = QuoteState
TRANSITIONS: dict[QuoteState, frozenset[QuoteState]] = {
    Q.DRAFT: frozenset({Q.PENDING_APPROVAL, Q.APPROVED}),
    Q.PENDING_APPROVAL: frozenset({Q.APPROVED, Q.REJECTED}),  # the supervisor's decision (CAT-2)
    Q.APPROVED: frozenset({Q.SENT, Q.EXPIRED}),
    Q.SENT: frozenset({Q.ACCEPTED, Q.REJECTED, Q.EXPIRED}),  # the customer's answer, or none in time
    Q.ACCEPTED: frozenset(),
    Q.REJECTED: frozenset(),
    Q.EXPIRED: frozenset(),
}
# The states the expiry sweep looks at: valid until `expires_at`.
EXPIRING = (Q.APPROVED, Q.SENT)


def quote_subject(quote_id: int) -> str:
    return f"quote:{quote_id}"


def contract_subject(contract_id: int) -> str:
    return f"contract:{contract_id}"


class Quote(Base):
    __tablename__ = "quotes"
    __table_args__ = (Index("ix_quotes_state_expires", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    # Personal data, sealed: {"buyer": {name, phone}, "ship_to": {name, phone, province, ...}}.
    contact: Mapped[dict[str, Any]] = mapped_column(Sealed)
    state: Mapped[str] = mapped_column(String(20))
    delivery_date: Mapped[date] = mapped_column(Date)
    payment_terms: Mapped[str] = mapped_column(String(10))
    aftersales_terms: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    subtotal: Mapped[int] = mapped_column(BigInteger)  # fen, at the quoted unit prices
    discount: Mapped[int] = mapped_column(BigInteger)  # fen, the lines' discounts
    total: Mapped[int] = mapped_column(BigInteger)  # fen, what the customer pays for the goods
    reasons: Mapped[list[str]] = mapped_column(JSONType)  # why it needed approval (CAT-2)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[QuoteLine]] = relationship(order_by="QuoteLine.id", lazy="selectin")

    def can_move_to(self, target: QuoteState) -> bool:
        return target in TRANSITIONS[QuoteState(self.state)]

    def move_to(self, target: QuoteState, at: datetime) -> QuoteState:
        """Change state if TRANSITIONS allows it (409 otherwise), setting the step's time."""
        previous = QuoteState(self.state)
        if not self.can_move_to(target):
            raise InvalidTransition("quote", previous, target)
        self.state = target
        self.updated_at = at
        match target:
            case Q.PENDING_APPROVAL:
                self.submitted_at = at
            case Q.APPROVED:
                self.submitted_at = self.submitted_at or at
                self.approved_at = at
            case Q.SENT:
                self.sent_at = at
            case Q.ACCEPTED | Q.REJECTED:
                self.answered_at = at
            case Q.EXPIRED | Q.DRAFT:
                pass
        return previous


class QuoteLine(Base):
    __tablename__ = "quote_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), index=True)
    sku_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)  # fen, as quoted
    discount_bp: Mapped[int] = mapped_column(Integer)  # hundredths of a percent
    list_price: Mapped[int] = mapped_column(BigInteger)  # fen, the SKU's price when quoted
    price_band: Mapped[str] = mapped_column(String(20))
    net_unit_price: Mapped[int] = mapped_column(BigInteger)  # fen, after the discount
    line_total: Mapped[int] = mapped_column(BigInteger)  # fen, net unit price × quantity


class Contract(Base):
    """An accepted quote's contract (CRM-6): numbered, its lines and terms frozen, and its order."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contract_no: Mapped[str] = mapped_column(String(20), unique=True)  # HT202612070001
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    contact: Mapped[dict[str, Any]] = mapped_column(Sealed)  # the quote's, sealed
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    delivery_date: Mapped[date] = mapped_column(Date)
    payment_terms: Mapped[str] = mapped_column(String(10))
    payment_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    aftersales_terms: Mapped[str] = mapped_column(Text)
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- pure rules ---------------------------------------------------------------------------------


def net_unit_price(unit_price: int, discount_bp: int) -> int:
    """The unit price (fen) after a discount of `discount_bp` hundredths of a percent, rounded to
    the fen, half up."""
    return (unit_price * (BASIS_POINTS - discount_bp) * 2 + BASIS_POINTS) // (2 * BASIS_POINTS)


@dataclass(frozen=True, slots=True)
class Priced:
    """A quote line as checked: what the SKU lists at, its band's floor, the price quoted."""

    sku: str
    quantity: int
    unit_price: int
    discount_bp: int
    list_price: int
    band: str
    floor_percent: float

    @property
    def net(self) -> int:
        return net_unit_price(self.unit_price, self.discount_bp)

    @property
    def total(self) -> int:
        return self.net * self.quantity

    @property
    def floor(self) -> int:
        """The lowest unit price (fen) before approval is needed (CAT-2), rounded up to the fen."""
        return -(-self.list_price * round(self.floor_percent * 100) // BASIS_POINTS)

    @property
    def off_list_bp(self) -> int:
        """How far below the list price the net price is, in hundredths of a percent (rounded up)."""
        if self.list_price <= 0 or self.net >= self.list_price:
            return 0
        return -(-(self.list_price - self.net) * BASIS_POINTS // self.list_price)


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: int
    discount: int
    total: int


def totals(lines: Sequence[Priced]) -> Totals:
    """The quote's totals in fen: quoted value, discounts, and the sum of the net lines."""
    subtotal = sum(line.unit_price * line.quantity for line in lines)
    total = sum(line.total for line in lines)
    return Totals(subtotal=subtotal, discount=subtotal - total, total=total)


@dataclass(frozen=True, slots=True)
class Needed:
    """Why a quote needs a supervisor's approval (CAT-2), and the discount authority (percent)
    an approver needs; no reasons: it is approved as submitted."""

    reasons: tuple[str, ...]
    discount_percent: float


def percent_text(bp: int) -> str:
    return f"{bp / 100:g}%"


def approval_needed(lines: Sequence[Priced], role: str, authority_percent: float) -> Needed:
    """CAT-2: a line priced below its band's floor, or discounted off list beyond the submitter's
    role authority, needs approval; each such line gives its reason."""
    reasons: list[str] = []
    authority_bp = round(authority_percent * 100)
    for i, line in enumerate(lines, start=1):
        if line.net < line.floor:
            reasons.append(
                f"line {i} {line.sku}: {money.fmt(line.net)} is below the {line.band} band's floor "
                f"{money.fmt(line.floor)} ({line.floor_percent:g}% of {money.fmt(line.list_price)})"
            )
        if line.off_list_bp > authority_bp:
            reasons.append(
                f"line {i} {line.sku}: {percent_text(line.off_list_bp)} off list exceeds the "
                f"{role} authority of {authority_percent:g}%"
            )
    deepest = max((line.off_list_bp for line in lines), default=0)
    return Needed(tuple(reasons), deepest / 100)


def contract_no(day: date, sequence: int) -> str:
    """The contract number of the day's `sequence`-th contract: HT202612070001."""
    return f"HT{day:%Y%m%d}{sequence:04d}"


def line_snapshot(line: QuoteLine) -> dict[str, Any]:
    """A quote line as its contract keeps it."""
    return {
        "sku": line.sku_code,
        "name": line.name,
        "spec": line.spec,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount_bp": line.discount_bp,
        "net_unit_price": line.net_unit_price,
        "line_total": line.line_total,
    }
