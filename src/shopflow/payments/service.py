"""Payment use cases: start a payment, apply a verified gateway callback (PAY-1, PAY-2, PAY-5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import assert_never

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, audit, clock, db, money, policy
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.errors import FieldError, Invalid, InvalidTransition
from shopflow.crm import service as customers
from shopflow.orders.models import Order, OrderStatus, order_subject
from shopflow.orders.service import fulfillment_steps, lifecycle
from shopflow.payments import refunds, repository, sandbox
from shopflow.payments.errors import PaymentNotFound
from shopflow.payments.gateway import Event, EventKind
from shopflow.payments.models import (
    CallbackResult,
    Payment,
    PaymentReceipt,
    PaymentStatus,
    RefundCallbackResult,
    payment_id_of,
)
from shopflow.payments.schemas import CallbackIn

PaidRisk = Callable[[AsyncSession, Order, int], Awaitable[None]]
# Who scores an order when its payment is captured (RSK-1's payment rules, with the order's failed
# payments): the risk domain (a later one) registers by `risk_from` (`shopflow.wiring.connect`); it
# holds the paid order for review when the score says so.
_RISK: list[PaidRisk] = []


def risk_from(source: PaidRisk) -> None:
    """Ask `source` to score every order paid from now on."""
    _RISK[:] = [source]


async def start_payment(
    session: AsyncSession, actor: Actor, order_id: int, method: str, provider: str = sandbox.PROVIDER
) -> Payment:
    """Open a payment for the order's total with `provider` (`gateway.for_method`)."""
    methods = policy.current().payments.methods
    if method not in methods:
        raise Invalid(
            "unknown payment method",
            errors=[FieldError("method", f"must be one of {', '.join(methods)}")],
        )
    order = await fulfillment_steps.lock_order(session, order_id)
    if not order.can_take_payment():  # confirmed, or held before it was paid (ORD-3)
        raise InvalidTransition("order", order.status, OrderStatus.PAID)
    at = clock.now()
    values = {
        "order_id": order.id,
        "provider": provider,
        "method": method,
        "amount": order.total,
        "status": PaymentStatus.PENDING,
        "created_by": actor.user_id,
        "created_at": at,
        "updated_at": at,
    }
    started = audit.row(
        actor, "payment.started", "payment", None, None, {"order_id": order.id, "method": method}, at
    )
    del started["entity_id"]  # the new payment's id, filled in by the INSERT
    return await repository.insert_started(session, values, [started])


async def get_payment(session: AsyncSession, payment_id: int) -> Payment:
    payment = await repository.get(session, payment_id)
    if payment is None:
        raise PaymentNotFound(f"no payment {payment_id}")
    return payment


async def amount_of(session: AsyncSession, payment_id: int) -> int:
    """What the gateway was asked to collect for the payment (the sandbox signs it)."""
    found = await repository.amount(session, payment_id)
    if found is None:
        raise PaymentNotFound(f"no payment {payment_id}")
    return found


async def payments_of(session: AsyncSession, order_id: int) -> list[Payment]:
    return await repository.of_order(session, order_id)


async def apply_callback(session: AsyncSession, provider: str, data: CallbackIn) -> CallbackResult:
    """Apply a callback whose signature the caller verified. Idempotent per event id (PAY-2).

    The payment and its order are locked together, once; the rows the callback adds (audit,
    receipt, outbox) are written together at the end."""
    locked = await repository.lock_with_order(session, data.payment_id)
    if locked is None:
        raise PaymentNotFound(f"no payment {data.payment_id}")
    payment, order = locked
    if payment.provider != provider:
        raise PaymentNotFound(f"no payment {data.payment_id} with {provider}")
    at = clock.now()
    result = _decide(payment, data)
    stored = await repository.record_callback(
        session,
        {
            "provider": provider,
            "event_id": data.event_id,
            "payment_id": payment.id,
            "outcome": data.outcome,
            "amount": data.amount,
            "result": result,
            "body": data.model_dump(mode="json"),
            "received_at": at,
        },
    )
    if stored is None:
        # A rejected event stays rejected however often the gateway retries it.
        first = await repository.callback_result(session, provider, data.event_id)
        return first if first is CallbackResult.AMOUNT_MISMATCH else CallbackResult.DUPLICATE
    match result:
        case CallbackResult.AMOUNT_MISMATCH:
            await alerts.raise_alert(
                session,
                "payment_amount_mismatch",
                f"payment:{payment.id}",
                f"callback {data.event_id} says {money.fmt(data.amount)}, "
                f"payment {payment.id} is {money.fmt(payment.amount)}",
                f"payment_amount_mismatch:{provider}:{data.event_id}",
            )
        case CallbackResult.IGNORED:
            pass
        case CallbackResult.APPLIED if data.outcome == "failure":
            await _move(session, payment, PaymentStatus.FAILED, at, data.event_id)
        case CallbackResult.APPLIED:
            payment.provider_reference = data.reference
            await _move(session, payment, PaymentStatus.SUCCEEDED, at, data.event_id)
            result = await _captured(session, payment, order, at)
        case CallbackResult.DUPLICATE | CallbackResult.ORDER_NOT_PAYABLE:
            raise AssertionError(f"_decide does not return {result}")
    await db.write(session)  # the audit trail, the receipt and the outbox row, in one round trip
    return result


async def apply_event(
    session: AsyncSession, provider: str, event: Event
) -> CallbackResult | RefundCallbackResult:
    """Apply what a provider's verified notification (or the answer to a query) says, through the
    same idempotent handling as every callback: a payment paid or closed, a refund made."""
    payment_id = payment_id_of(event.out_trade_no)
    if payment_id is None:
        raise PaymentNotFound(
            f"{event.out_trade_no!r} is not a payment number of this store",
            errors=[FieldError("out_trade_no", "names no payment here")],
        )
    match event.kind:
        case EventKind.PAID | EventKind.CLOSED:
            data = CallbackIn.model_construct(
                event_id=event.event_id,
                payment_id=payment_id,
                outcome="success" if event.kind is EventKind.PAID else "failure",
                amount=event.amount,
                occurred_at=event.at,
                reference=event.reference or None,
            )
            return await apply_callback(session, provider, data)
        case EventKind.REFUNDED:
            return await refunds.apply_provider_refund(session, provider, payment_id, event)
        case _:
            assert_never(event.kind)


def _decide(payment: Payment, data: CallbackIn) -> CallbackResult:
    if data.amount != payment.amount:
        return CallbackResult.AMOUNT_MISMATCH
    target = PaymentStatus.SUCCEEDED if data.outcome == "success" else PaymentStatus.FAILED
    return CallbackResult.APPLIED if payment.can_move_to(target) else CallbackResult.IGNORED


async def _move(
    session: AsyncSession, payment: Payment, target: PaymentStatus, at: datetime, event_id: str
) -> None:
    before = payment.status
    payment.move_to(target, at)
    await repository.move(session, payment)
    audit.queue(
        session,
        audit.row(
            SYSTEM,
            f"payment.{target}",
            "payment",
            payment.id,
            {"status": before},
            {"status": target, "event_id": event_id},
            at,
        ),
    )


async def _captured(session: AsyncSession, payment: Payment, order: Order, at: datetime) -> CallbackResult:
    """Money arrived: ledger it (PAY-5) and pay the locked order, or alert if it cannot be paid."""
    db.queue(
        session,
        PaymentReceipt,
        {
            "payment_id": payment.id,
            "order_id": order.id,
            "customer_hash": order.phone_hash,
            "method": payment.method,
            "amount": payment.amount,
            "received_at": at,
        },
    )
    try:
        await lifecycle.mark_paid_locked(session, SYSTEM, order)
    except InvalidTransition:
        # PAY-3: money the order cannot take goes back through the refund ledger, once: a
        # cancelled order's by the worker's cancel sweep, any other's (paid twice) at once.
        if order.status == OrderStatus.CANCELLED:
            outcome = "the cancel sweep refunds it"
        else:
            key, reason = refunds.unpayable_key(payment.id), f"order {order.order_no} is {order.status}"
            refund = await refunds.request_refund(session, SYSTEM, payment.id, payment.amount, key, reason)
            outcome = f"refund {refund.id} is {refund.status}"
        await alerts.raise_alert(
            session,
            "payment_for_unpayable_order",
            order_subject(order.id),
            f"payment {payment.id} captured {money.fmt(payment.amount)} "
            f"but order {order.order_no} is {order.status}; {outcome}",
            f"payment_for_unpayable_order:{payment.id}",
        )
        return CallbackResult.ORDER_NOT_PAYABLE
    if _RISK:  # RSK-1: scored again with the payment rules; a risky order is held, paid, for review
        await _RISK[0](session, order, await repository.failed_count(session, order.id))
    await customers.order_paid(session, order, payment.id, payment.amount, at)  # lifetime value (CRM-1)
    await session.flush()
    return CallbackResult.APPLIED


async def receipts(
    session: AsyncSession, start: datetime | None, end: datetime | None, page: int, page_size: int
) -> tuple[list[PaymentReceipt], int]:
    return await repository.receipts(session, start, end, (page - 1) * page_size, page_size)


@dataclass(frozen=True, slots=True)
class ReceiptTotal:
    method: str
    count: int
    amount: int  # fen


async def receipt_totals(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> list[ReceiptTotal]:
    """PAY-5: how many receipts and how much money per method in [start, end), by method."""
    return [ReceiptTotal(*row) for row in await repository.receipt_totals(session, start, end)]


@dataclass(frozen=True, slots=True)
class Takings:
    per_interval: list[int]  # fen received in each interval
    orders: int  # orders those receipts paid

    @property
    def total(self) -> int:
        return sum(self.per_interval)

    @property
    def average_order_value(self) -> int:
        """ANA-1: sales / orders, in fen (0 when there were no orders)."""
        return self.total // self.orders if self.orders else 0


async def takings(session: AsyncSession, bounds: Sequence[datetime]) -> Takings:
    """Sales received between consecutive `bounds` (e.g. the hours of a day) and their orders."""
    per_interval, paid_orders = await repository.takings(session, bounds)
    return Takings(per_interval, paid_orders)
