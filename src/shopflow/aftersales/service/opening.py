"""Opening a case and deciding it (ASV-1, ASV-2, ASV-5): what a request would be, the case
opened, approved, rejected or cancelled; the cases read, and the order's after-sales standing."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import repository
from shopflow.aftersales.errors import NotEligible, OverLimit
from shopflow.aftersales.models import (
    PAYING,
    RETURNING,
    Case,
    CaseClock,
    CaseLine,
    CaseType,
    Eligibility,
    LineAsk,
    Refund,
    RefundLine,
    ReturnShipment,
    case_subject,
    discount_share,
    eligibility,
    order_standing,
    refund,
    whole_order_back,
)
from shopflow.aftersales.schemas import CaseIn
from shopflow.aftersales.service.steps import (
    C,
    asked,
    get_case,
    notice,
    refund_deadline,
    release_order,
    state_row,
    step,
)
from shopflow.core import audit, clock, events, money, policy, sla
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.orders.models import Order, OrderClock, OrderLine, order_subject
from shopflow.orders.service import queries
from shopflow.payments import refunds
from shopflow.payments import service as payments


def _case_no(at: datetime) -> str:
    return f"AS{at:%y%m%d}{secrets.randbelow(10**8):08d}"


@dataclass(frozen=True, slots=True)
class Assessment:
    """What a request would be: its eligibility and itemised refund, its lines' order lines."""

    eligibility: Eligibility
    refund: Refund
    lines: list[tuple[OrderLine, int]]


def _order_lines(order: Order, data: CaseIn) -> list[tuple[OrderLine, int]]:
    by_sku = {line.sku_code: line for line in order.lines}
    errors, wanted = asked(data.lines, by_sku.keys(), f"on order {order.order_no}")
    if data.type is CaseType.COMPENSATION:
        if data.amount is None or data.amount <= 0:
            errors.append(FieldError("amount", "a compensation needs an amount above 0"))
    elif not data.lines:
        errors.append(FieldError("lines", "at least one line is required"))
    if len(wanted) != len(data.lines):
        errors.append(FieldError("lines", "name each SKU once"))
    if errors:
        raise Invalid("the request has errors; nothing was stored", errors=errors)
    return [(by_sku[sku], quantity) for sku, quantity in wanted.items()]


def assess(order: Order, data: CaseIn, held: dict[int, int], now: datetime) -> Assessment:
    """ASV-1, ASV-2, ASV-4 for a request on `order` whose lines other cases hold `held` of."""
    lines = _order_lines(order, data)
    rules = policy.current().aftersales
    asks = [LineAsk(line.sku_code, quantity, line.quantity, held.get(line.id, 0)) for line, quantity in lines]
    found = eligibility(order.delivered_at, data.reason, data.opened, asks, now, rules)
    after = Counter(held)
    for line, quantity in lines:
        after[line.id] += quantity
    whole = bool(lines) and whole_order_back({line.id: line.quantity for line in order.lines}, after)
    refund_lines = [
        RefundLine(line.unit_price, quantity, line.quantity, line.discount, held.get(line.id, 0))
        for line, quantity in lines
    ]
    amount = refund(data.type, data.reason, refund_lines, whole, order.shipping_fee, data.amount, rules)
    return Assessment(found, amount, lines)


async def preview(session: AsyncSession, data: CaseIn) -> Assessment:
    """What `open_case` would decide for `data`, stored nowhere: the eligibility sentence naming
    the rule and the itemised refund, shown to the customer before they send the request. The
    same validation (422 naming the field) for lines that are not on the order."""
    order = await queries.get_order(session, data.order_id)
    return assess(order, data, await repository.held_by_line(session, order.id), clock.now())


async def open_case(session: AsyncSession, actor: Actor, data: CaseIn) -> Case:
    """A new case in `requested` (its review clock running), or 422 `not_eligible` naming the
    rule and nothing stored. The order row is locked while its cases' quantities are counted,
    so concurrent requests never return more than was delivered (ASV-2)."""
    order = await queries.get_order(session, data.order_id, lock=True)
    at = clock.now()
    held = await repository.held_by_line(session, order.id)
    found = assess(order, data, held, at)
    if not found.eligibility.eligible:
        raise NotEligible(found.eligibility.sentence, errors=list(found.eligibility.errors))
    case = Case(
        case_no=_case_no(at),
        order_id=order.id,
        type=data.type,
        reason=data.reason,
        opened=data.opened,
        state=C.REQUESTED,
        rule=found.eligibility.rule,
        deadline=found.eligibility.deadline,
        amount=data.amount,
        items=found.refund.items,
        discount_share=found.refund.discount_share,
        shipping=found.refund.shipping,
        return_shipping=found.refund.return_shipping,
        refund_total=found.refund.total,
        refunded=0,
        note=data.note,
        created_by=actor.user_id,
        created_at=at,
        updated_at=at,
    )
    session.add(case)
    await session.flush()
    for line, quantity in found.lines:
        share = RefundLine(line.unit_price, quantity, line.quantity, line.discount, held.get(line.id, 0))
        session.add(
            CaseLine(
                case_id=case.id,
                order_line_id=line.id,
                sku_id=line.sku_id,
                sku_code=line.sku_code,
                quantity=quantity,
                unit_price=line.unit_price,
                discount_share=discount_share(share),
                restocked=0,
                written_off=0,
            )
        )
    review_by = at + timedelta(hours=policy.current().aftersales.review_hours)
    await sla.start(session, case_subject(case.id), CaseClock.REVIEW, review_by)
    await sla.pause(session, order_subject(order.id), OrderClock.AFTERSALES)
    events.queue(session, "aftersales.requested", order_subject(order.id), notice(case))
    await audit.record(
        session,
        state_row(
            actor,
            case,
            None,
            at,
            order_id=order.id,
            rule=case.rule,
            sentence=found.eligibility.sentence,
            refund_total=money.fmt(case.refund_total),
        ),
    )
    return await get_case(session, case.id)


async def list_cases(
    session: AsyncSession,
    state: str | None,
    case_type: str | None,
    order_id: int | None,
    page: int,
    page_size: int,
    late: bool = False,
) -> tuple[list[Case], int]:
    # The late cases as a query the page nests: however many are late, none is read into Python.
    late_ids = sla.late_subject_ids(clock.now(), "case:") if late else None
    return await repository.page(
        session, state, case_type, order_id, late_ids, (page - 1) * page_size, page_size
    )


async def return_shipment(session: AsyncSession, case_id: int) -> ReturnShipment | None:
    return await repository.return_shipment(session, case_id)


async def cases_of_order(session: AsyncSession, order_id: int) -> list[Case]:
    return await repository.of_order(session, order_id)


async def cases_of_customer(session: AsyncSession, customer_id: int, limit: int) -> list[Case]:
    """The cases of the customer's orders, the newest first (what the customer's profile lists)."""
    return await repository.of_customer(session, customer_id, limit)


async def order_aftersales(session: AsyncSession, order_id: int) -> queries.AftersalesView:
    """The order's after-sales standing and what its payments' ledgers refunded (settled
    refunds: cases, a cancellation, money it could not take), against what they captured."""
    order = await queries.get_order(session, order_id)
    cases = await repository.of_order(session, order.id)
    ledgers = [await refunds.ledger(session, p.id) for p in await payments.payments_of(session, order.id)]
    captured = sum(ledger.captured for ledger in ledgers)
    refunded = sum(ledger.refunded for ledger in ledgers)
    return queries.AftersalesView(order_standing(cases, captured, refunded), refunded)


async def approve(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """ASV-3, ASV-5: approved by an agent; a compensation only up to the approver's own
    `policy.authority(role)` (an agent 500 yuan; above it 403 naming the limit, and a supervisor
    approves it). Refund-only and compensation cases start their refund clock."""
    case = await get_case(session, case_id, lock=True)
    limit = policy.authority(actor.role).compensation_amount
    if case.type == CaseType.COMPENSATION and limit is not None and (case.amount or 0) > limit:
        raise OverLimit(
            f"the compensation {money.fmt(case.amount or 0)} is above the {actor.role} limit of "
            f"{money.fmt(limit)} yuan: a supervisor approves it"
        )
    at = clock.now()
    await step(session, actor, case, C.APPROVED, at, amount=money.fmt(case.refund_total))
    subject = case_subject(case.id)
    await sla.stop(session, subject, CaseClock.REVIEW)
    if case.type in PAYING and case.type not in RETURNING:
        await sla.start(session, subject, CaseClock.REFUND, refund_deadline(at))
    await events.record(session, "aftersales.approved", order_subject(case.order_id), notice(case))
    return case


async def reject(session: AsyncSession, actor: Actor, case_id: int, reason: str) -> Case:
    case = await get_case(session, case_id, lock=True)
    await step(session, actor, case, C.REJECTED, clock.now(), reason=reason)
    case.reject_reason = reason
    await sla.stop(session, case_subject(case.id), CaseClock.REVIEW)
    await release_order(session, case)
    await events.record(
        session, "aftersales.rejected", order_subject(case.order_id), notice(case, reason=reason)
    )
    return case


async def cancel(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """The customer withdraws the request before the goods are sent: its clocks never reach their goal."""
    case = await get_case(session, case_id, lock=True)
    await step(session, actor, case, C.CANCELLED, clock.now())
    await sla.cancel(session, case_subject(case.id), CaseClock.REVIEW, CaseClock.REFUND)
    await release_order(session, case)
    await events.record(session, "aftersales.cancelled", order_subject(case.order_id), notice(case))
    return case
