"""After-sales cases (ASV-1..6): types, states, the TRANSITIONS table, and the pure rules:
the return window (shared with the order's close clock, ORD-7), eligibility, the itemised refund."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopflow.core import clock
from shopflow.core.db import Base, BigId, UTCDateTime
from shopflow.core.errors import FieldError, InvalidTransition
from shopflow.core.policy import Aftersales as AftersalesRules
from shopflow.orders.models import AftersalesStanding


class CaseType(StrEnum):
    REFUND_ONLY = "refund_only"  # 仅退款
    RETURN_REFUND = "return_refund"  # 退货退款
    EXCHANGE = "exchange"  # 换货
    REPAIR = "repair"  # 维修
    COMPENSATION = "compensation"  # 补偿


class Reason(StrEnum):
    NO_REASON = "no_reason"  # 七天无理由
    QUALITY = "quality"  # 质量问题
    WRONG_ITEM = "wrong_item"  # 发错货
    DAMAGED_IN_TRANSIT = "damaged_in_transit"  # 运输损坏
    OTHER = "other"  # 其他


class CaseState(StrEnum):
    REQUESTED = "requested"  # 待审核
    APPROVED = "approved"  # 已同意
    REJECTED = "rejected"  # 已拒绝
    AWAITING_RETURN = "awaiting_return"  # 待退回
    RECEIVED = "received"  # 已收货
    INSPECTED = "inspected"  # 已检验
    REFUNDING = "refunding"  # 退款中
    REFUNDED = "refunded"  # 已退款
    EXCHANGED = "exchanged"  # 已换货
    REPAIRED = "repaired"  # 已维修
    CLOSED = "closed"  # 已关闭
    CANCELLED = "cancelled"  # 已撤销


C = CaseState
# ASV-1..6. `refund_only` and `compensation` go approved -> refunding; goods that come back go
# approved -> awaiting_return -> received -> inspected and then refunding, exchanged or repaired.
# A quality complaint's replacement may ship at once (approved -> exchanged); that case closes
# when the return arrives. The customer cancels only before the goods are sent.
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    C.REQUESTED: frozenset({C.APPROVED, C.REJECTED, C.CANCELLED}),
    C.APPROVED: frozenset({C.AWAITING_RETURN, C.REFUNDING, C.EXCHANGED, C.CANCELLED}),
    C.AWAITING_RETURN: frozenset({C.RECEIVED}),
    C.RECEIVED: frozenset({C.INSPECTED}),
    C.INSPECTED: frozenset({C.REFUNDING, C.EXCHANGED, C.REPAIRED}),
    C.REFUNDING: frozenset({C.REFUNDED}),
    C.REFUNDED: frozenset({C.CLOSED}),
    C.EXCHANGED: frozenset({C.CLOSED}),
    C.REPAIRED: frozenset({C.CLOSED}),
    C.CLOSED: frozenset(),
    C.REJECTED: frozenset(),
    C.CANCELLED: frozenset(),
}
# A case in these states still holds its order open (ORD-7: the order does not close).
OPEN_STATES = frozenset({C.REQUESTED, C.APPROVED, C.AWAITING_RETURN, C.RECEIVED, C.INSPECTED, C.REFUNDING})
# Cases in these states never took anything back: their quantities are free again (ASV-2).
VOID_STATES = frozenset({C.REJECTED, C.CANCELLED})
# Types whose goods travel back to the store.
RETURNING = frozenset({CaseType.RETURN_REFUND, CaseType.EXCHANGE, CaseType.REPAIR})
# Types that pay money back.
PAYING = frozenset({CaseType.REFUND_ONLY, CaseType.RETURN_REFUND, CaseType.COMPENSATION})
# The store pays the return postage for these reasons; the customer for the others (ASV-4).
STORE_PAYS_RETURN = frozenset({Reason.QUALITY, Reason.WRONG_ITEM, Reason.DAMAGED_IN_TRANSIT})


class CaseClock(StrEnum):
    """A case's SLA clocks (SLA-1); the replacement's 24 h is its order's ship clock."""

    REVIEW = "aftersales.review"  # requested -> approved | rejected (ASV-3)
    REFUND = "aftersales.refund"  # approved (returns: inspected) -> refunded (ASV-4)


def case_subject(case_id: int) -> str:
    return f"case:{case_id}"


def case_of_subject(subject: str) -> int:
    return int(subject.removeprefix("case:"))


class Case(Base):
    __tablename__ = "aftersales_cases"
    __table_args__ = (
        Index("ix_aftersales_cases_state_created", "state", "created_at"),
        Index("ix_aftersales_cases_type_created", "type", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(30))
    opened: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(40))  # the eligibility rule applied (ASV-1)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)  # the end of that rule's window
    amount: Mapped[int | None] = mapped_column(BigInteger)  # a compensation's amount
    items: Mapped[int] = mapped_column(BigInteger)
    discount_share: Mapped[int] = mapped_column(BigInteger)
    shipping: Mapped[int] = mapped_column(BigInteger)
    return_shipping: Mapped[int] = mapped_column(BigInteger)
    refund_total: Mapped[int] = mapped_column(BigInteger)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)  # settled by the ledger
    note: Mapped[str | None] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    replacement_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    inspected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list[CaseLine]] = relationship(back_populates="case", order_by="CaseLine.id", lazy="raise")

    @property
    def is_open(self) -> bool:
        """Still holds its order open: undecided, goods or money on their way, or a quality
        replacement shipped whose return has not been received and inspected yet."""
        if self.state == C.EXCHANGED:
            return self.return_pending
        return self.state in OPEN_STATES

    @property
    def return_pending(self) -> bool:
        """A quality replacement shipped before the goods came back (approved -> exchanged): they
        are still to be sent back, received and inspected, in the `exchanged` state; the case
        closes once they are inspected (ASV-6, INV-1)."""
        return self.state == C.EXCHANGED and self.type in RETURNING and self.inspected_at is None

    @property
    def can_ship_back(self) -> bool:
        """The customer may tell the return's carrier and tracking number now."""
        return self.can_move_to(C.AWAITING_RETURN) or (self.return_pending and self.received_at is None)

    @property
    def can_receive(self) -> bool:
        return self.state == C.AWAITING_RETURN or (self.return_pending and self.received_at is None)

    @property
    def can_inspect(self) -> bool:
        return self.state == C.RECEIVED or (self.return_pending and self.received_at is not None)

    def can_move_to(self, target: CaseState) -> bool:
        """The TRANSITIONS table, and the case's type: only paying types refund (a return after
        inspection, the others at once), only returning types await goods, an exchange's
        replacement ships before inspection only for a quality complaint."""
        current = CaseState(self.state)
        if target not in TRANSITIONS[current]:
            return False
        kind = CaseType(self.type)
        match target:
            case C.REFUNDING:
                return kind in PAYING and (current is C.INSPECTED) is (kind in RETURNING)
            case C.AWAITING_RETURN:
                return kind in RETURNING
            case C.EXCHANGED:
                return kind is CaseType.EXCHANGE and (
                    current is C.INSPECTED or self.reason in STORE_PAYS_RETURN
                )
            case C.REPAIRED:
                return kind is CaseType.REPAIR
            case C.CLOSED:
                return not self.is_open
            case C.REQUESTED | C.APPROVED | C.REJECTED | C.RECEIVED | C.INSPECTED | C.REFUNDED | C.CANCELLED:
                return True

    def move_to(self, target: CaseState, at: datetime) -> CaseState:
        """Change state if TRANSITIONS allows it (409 otherwise); returns the state left."""
        if not self.can_move_to(target):
            raise InvalidTransition("case", self.state, target)
        previous = CaseState(self.state)
        self.state = target
        self.updated_at = at
        match target:
            case C.APPROVED | C.REJECTED:
                self.decided_at = at
            case C.RECEIVED:
                self.received_at = at
            case C.INSPECTED:
                self.inspected_at = at
            case C.REFUNDED:
                self.refunded_at = at
            case C.CLOSED:
                self.closed_at = at
            case C.REQUESTED | C.AWAITING_RETURN | C.REFUNDING | C.EXCHANGED | C.REPAIRED | C.CANCELLED:
                pass
        return previous


class CaseLine(Base):
    __tablename__ = "aftersales_case_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("aftersales_cases.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    sku_code: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    discount_share: Mapped[int] = mapped_column(BigInteger)
    restocked: Mapped[int] = mapped_column(Integer, default=0)
    written_off: Mapped[int] = mapped_column(Integer, default=0)

    case: Mapped[Case] = relationship(back_populates="lines")


class ReturnShipment(Base):
    """The goods' way back (ASV-3): the customer's carrier and tracking number."""

    __tablename__ = "aftersales_return_shipments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("aftersales_cases.id"), unique=True)
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_no: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReturnEvent(Base):
    """A carrier's tracking event of a return shipment (ASV-3), by the same push or file as the
    store's own parcels (FUL-5); a repeated event (same shipment, time and status) is stored once."""

    __tablename__ = "aftersales_return_events"
    __table_args__ = (UniqueConstraint("shipment_id", "occurred_at", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("aftersales_return_shipments.id"))
    status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(20))  # push or import
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- the return window (ASV-1, ORD-7): pure --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    rule: str  # no_reason_return | quality_return | other_with_approval
    days: int
    ends: datetime  # the first instant after the window: midnight after its last store day

    @property
    def last_minute(self) -> str:
        """The window's end as the store reads it: "2026-11-20 23:59"."""
        return clock.local_text(self.ends - timedelta(minutes=1))


def return_window(delivered_at: datetime, reason: Reason, rules: AftersalesRules) -> Window:
    """ASV-1: the window a return for `reason` has, counted in store days from delivery (day 0):
    the last day is delivery's date plus the window's days, up to 23:59 in the store's zone.
    `wrong_item` and `damaged_in_transit` share the quality window; `other` too, with approval."""
    match reason:
        case Reason.NO_REASON:
            rule, days = "no_reason_return", rules.no_reason_return_days
        case Reason.QUALITY | Reason.WRONG_ITEM | Reason.DAMAGED_IN_TRANSIT:
            rule, days = "quality_return", rules.quality_return_days
        case Reason.OTHER:
            rule, days = "other_with_approval", rules.quality_return_days
    return Window(rule, days, clock.after_store_days(delivered_at, days))


# --- eligibility (ASV-1, ASV-2): pure ----------------------------------------------------------

RULE_SENTENCES = {
    "no_reason_return": "{days}-day no-reason return",
    "quality_return": "{days}-day quality return",
    "other_with_approval": "{days}-day return for another reason (an agent approves it)",
}


def rule_days(rule: str, rules: AftersalesRules) -> int:
    return rules.no_reason_return_days if rule == "no_reason_return" else rules.quality_return_days


def rule_name(rule: str, rules: AftersalesRules) -> str:
    """A window rule as people say it: "7-day no-reason return"."""
    return RULE_SENTENCES[rule].format(days=rule_days(rule, rules))


@dataclass(frozen=True, slots=True)
class LineAsk:
    """One requested line: its SKU, how many, how many were delivered, how many other cases
    (not rejected nor cancelled) already hold."""

    sku: str
    quantity: int
    delivered: int
    in_other_cases: int


@dataclass(frozen=True, slots=True)
class Eligibility:
    eligible: bool
    rule: str
    deadline: datetime
    sentence: str
    needs_approval: bool = False
    errors: tuple[FieldError, ...] = ()


def eligibility(
    delivered_at: datetime | None,
    reason: Reason,
    opened: bool,
    lines: Sequence[LineAsk],
    now: datetime,
    rules: AftersalesRules,
) -> Eligibility:
    """ASV-1, ASV-2: whether the request may be opened, by which rule, until when; the sentence
    names both ("7-day no-reason return ended 2026-11-20 23:59")."""
    if delivered_at is None:
        return Eligibility(False, "not_delivered", now, "the order is not delivered yet")
    window = return_window(delivered_at, reason, rules)
    name = rule_name(window.rule, rules)
    if reason is Reason.NO_REASON and opened:
        sentence = f"opened goods are not eligible for the {name}"
        return Eligibility(False, "opened_goods", window.ends, sentence)
    if now >= window.ends:
        return Eligibility(False, window.rule, window.ends, f"{name} ended {window.last_minute}")
    errors = tuple(
        FieldError(
            f"lines[{i}].quantity",
            f"{ask.sku}: {max(ask.delivered - ask.in_other_cases, 0)} of {ask.delivered} can still be "
            f"returned ({ask.in_other_cases} in other cases)",
        )
        for i, ask in enumerate(lines)
        if ask.quantity > ask.delivered - ask.in_other_cases
    )
    if errors:
        return Eligibility(
            False, "quantity", window.ends, "; ".join(e.message for e in errors), errors=errors
        )
    return Eligibility(
        True,
        window.rule,
        window.ends,
        f"{name} ends {window.last_minute}",
        needs_approval=reason is Reason.OTHER,
    )


# --- the itemised refund (ASV-4): pure ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundLine:
    unit_price: int
    quantity: int  # in this case
    line_quantity: int  # ordered on the order line
    line_discount: int  # the order line's share of order-level discounts
    returned_before: int  # of this line in earlier cases


@dataclass(frozen=True, slots=True)
class Refund:
    items: int
    discount_share: int
    shipping: int
    return_shipping: int

    @property
    def total(self) -> int:
        return self.items - self.discount_share + self.shipping + self.return_shipping


NO_REFUND = Refund(0, 0, 0, 0)


def discount_share(line: RefundLine) -> int:
    """The part of the line's discount that goes with `quantity` units after `returned_before`:
    the cumulative share rounded down, so the shares of every case of a line add up to the fen."""
    if line.line_quantity == 0:
        return 0
    after = line.line_discount * (line.returned_before + line.quantity) // line.line_quantity
    before = line.line_discount * line.returned_before // line.line_quantity
    return after - before


def refund(
    case_type: CaseType,
    reason: Reason,
    lines: Sequence[RefundLine],
    whole_order: bool,
    order_shipping: int,
    amount: int | None,
    rules: AftersalesRules,
) -> Refund:
    """ASV-4: items at their unit price, minus their share of order discounts; the order's
    shipping back when the whole order is returned; the return postage when the store bears it."""
    match case_type:
        case CaseType.COMPENSATION:
            return Refund(amount or 0, 0, 0, 0)
        case CaseType.EXCHANGE | CaseType.REPAIR:
            return NO_REFUND
        case CaseType.REFUND_ONLY | CaseType.RETURN_REFUND:
            pass
    items = sum(line.unit_price * line.quantity for line in lines)
    share = sum(discount_share(line) for line in lines)
    postage = rules.return_shipping_fee if case_type in RETURNING and reason in STORE_PAYS_RETURN else 0
    return Refund(items, share, order_shipping if whole_order else 0, postage)


def refund_parts(rests: Sequence[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    """How a case's `total` is refunded across the order's captured payments, given as (payment
    id, refundable rest): the largest rest first, the latest of equal ones first, each part no
    more than its payment's rest; (payment id, amount) per part. Empty if they cannot hold it."""
    parts = []
    left = total
    for payment_id, rest in sorted(rests, key=lambda pr: (pr[1], pr[0]), reverse=True):
        if left <= 0:
            break
        if rest > 0:
            parts.append((payment_id, min(rest, left)))
            left -= parts[-1][1]
    return parts if left <= 0 else []


def whole_order_back(delivered: Mapping[int, int], held: Mapping[int, int]) -> bool:
    """Whether every unit of every line (`delivered` per order line) is in a case (`held`)."""
    return all(held.get(line_id, 0) >= quantity for line_id, quantity in delivered.items())


# --- the order's after-sales standing (ASV, ORD-7): pure --------------------------------------

S = AftersalesStanding


def order_standing(cases: Sequence[Case], captured: int, refunded: int) -> AftersalesStanding:
    """`in_progress` while a case is open; else `refunded` when the settled refunds of the
    order's payments (`refunded`) equal what they captured, `partially_refunded` when some money
    went back, `returned` when goods came back without money (an exchange), else `none`."""
    if any(case.is_open for case in cases):
        return S.IN_PROGRESS
    if refunded > 0:
        return S.REFUNDED if refunded >= captured else S.PARTIALLY_REFUNDED
    if any(case.received_at is not None and case.state not in VOID_STATES for case in cases):
        return S.RETURNED
    return S.NONE
