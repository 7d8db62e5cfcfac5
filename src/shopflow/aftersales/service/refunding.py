"""Refund and settlement (ASV-4, PAY-3): the case's refund asked of the payments ledger, a
part for each captured payment, and the case settled when the ledger says every part succeeded."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales.errors import NothingToRefund
from shopflow.aftersales.models import Case, CaseClock, case_subject, refund_parts
from shopflow.aftersales.service.steps import C, get_case, notice, release_order, step
from shopflow.core import audit, clock, events, money, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.loyalty import points
from shopflow.orders.models import line_values, order_subject
from shopflow.orders.service import queries
from shopflow.payments import refunds
from shopflow.payments import service as payments
from shopflow.payments.models import Refund as LedgerRefund


async def request_refund(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """ASV-4: the case's itemised refund is asked of the payments ledger; the case is `refunding`."""
    case = await get_case(session, case_id, lock=True)
    await step(session, actor, case, C.REFUNDING, clock.now(), amount=money.fmt(case.refund_total))
    await refund_requested(session, actor, case)
    return case


def refund_key(case_no: str, part: int) -> str:
    """The idempotency key of a case's refund from its `part`-th payment (0 first): the same key
    on every retry, so the gateway pays each part once."""
    return f"case:{case_no}:refund" if part == 0 else f"case:{case_no}:refund:{part + 1}"


async def refund_requested(session: AsyncSession, actor: Actor, case: Case) -> None:
    """The hand-over to the refund ledger (PAY-3): the case's total is refunded from the order's
    captured payments, the one with the most left first (`refund_parts`), each part through the
    ledger under its own key (`refund_key`: a retry is the same refund); audited, and told as
    `aftersales.refund_requested` naming the first part and listing every part."""
    captured = [p for p in await payments.payments_of(session, case.order_id) if p.status == "succeeded"]
    plan = refund_parts([(p.id, p.amount - p.refund_reserved) for p in captured], case.refund_total)
    if not plan:
        held = money.fmt(sum(p.amount - p.refund_reserved for p in captured))
        raise NothingToRefund(
            f"the order's captured payments hold {held} more, not {money.fmt(case.refund_total)}"
        )
    reason = f"after-sales case {case.case_no}"
    parts = []
    for index, (payment_id, amount) in enumerate(plan):
        key = refund_key(case.case_no, index)
        refund = await refunds.request_refund(session, actor, payment_id, amount, key, reason, case.id)
        parts.append(
            {
                "payment_id": payment_id,
                "refund_id": refund.id,
                "amount": money.fmt(amount),
                "idempotency_key": key,
            }
        )
    payload = notice(
        case,
        payment_id=parts[0]["payment_id"],
        refund_id=parts[0]["refund_id"],
        amount=money.fmt(case.refund_total),
        idempotency_key=parts[0]["idempotency_key"],
        parts=parts,
    )
    events.queue(session, "aftersales.refund_requested", order_subject(case.order_id), payload)
    await audit.record(session, audit.row(actor, "case.refund_requested", "case", case.id, None, payload))


async def settled_by_ledger(session: AsyncSession, refund: LedgerRefund) -> None:
    """Told by the refund ledger of every refund that succeeded (`refunds.ON_SETTLED`): a case's
    refund settles its case once every part of it has succeeded; until then the case shows what
    has (a case refunded from several payments)."""
    if refund.case_id is None:
        return
    # The case first: two parts settling at once count each other's success, one after the other.
    case = await get_case(session, refund.case_id, lock=True)
    settled = sum(
        r.amount for r in await refunds.refunds_of_case(session, refund.case_id) if r.status == "succeeded"
    )
    if settled >= case.refund_total:
        await refund_settled(session, case.id, settled)
    else:
        case.refunded = settled
        await session.flush()


async def refund_settled(session: AsyncSession, case_id: int, refunded_fen: int) -> Case:
    """The ledger's callback: the refund reached the customer; the case is `refunded`."""
    case = await get_case(session, case_id, lock=True)
    case.refunded = refunded_fen
    await step(session, SYSTEM, case, C.REFUNDED, clock.now(), refunded=money.fmt(refunded_fen))
    await sla.stop(session, case_subject(case.id), CaseClock.REFUND)
    await release_order(session, case)
    # LOY-1: the points earned on the refunded units taken back, the points redeemed for them returned.
    order = await queries.get_order(session, case.order_id)
    units = Counter[int]()
    for line in case.lines:
        units[line.order_line_id] += line.quantity
    await points.refunded(session, order.id, order.customer_id, line_values(order), dict(units))
    await events.record(
        session,
        "aftersales.refunded",
        order_subject(case.order_id),
        notice(case, refunded=money.fmt(refunded_fen)),
    )
    return case
