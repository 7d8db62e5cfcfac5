"""Refund use cases (PAY-3, ASV-4): one ledger of refunds per payment that can never pay more than
was captured, nor twice.

A refund first reserves its amount on the payment (one conditional UPDATE, in the transaction
that inserts the refund row), then goes to the gateway. A gateway failure leaves it `failed`, its
reservation released and its idempotency key kept: a retry under the same key reserves again and
goes to the gateway under the same key, which the gateway dedupes. The gateway's signed callback
settles it, also after a time-out failed it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, audit, clock, db, events, money, policy
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.crm import service as customers
from shopflow.orders.models import order_subject
from shopflow.orders.service import queries as orders
from shopflow.payments import repository
from shopflow.payments.errors import NotRefundable, PaymentNotFound, RefundKeyReused, RefundNotFound
from shopflow.payments.gateway import PROVIDERS, Event, GatewayError
from shopflow.payments.models import (
    Payment,
    Refund,
    RefundCallbackResult,
    RefundRetry,
    RefundStatus,
    refund_callback_result,
    refund_number,
)
from shopflow.payments.schemas import RefundCallbackIn

RS = RefundStatus
CANCEL_BATCH = 100  # cancelled orders' payments refunded per worker transaction


# Told, in the settling transaction, of every refund that succeeded: the after-sales domain (a
# later one, which payments cannot import) registers its `settled_by_ledger` by `when_settled`
# when the app is made (`shopflow.wiring.connect`).
Settled = Callable[[AsyncSession, Refund], Awaitable[None]]
ON_SETTLED: list[Settled] = []


def when_settled(hook: Settled) -> None:
    """Tell `hook` of every refund that succeeds, from now on (once, however often registered)."""
    if hook not in ON_SETTLED:
        ON_SETTLED.append(hook)


async def request_refund(
    session: AsyncSession,
    actor: Actor,
    payment_id: int,
    amount: int,
    key: str,
    reason: str,
    case_id: int | None = None,
) -> Refund:
    """Refund `amount` fen of a captured payment, once per idempotency `key`, in the caller's
    transaction (`reserve_refund`, then the gateway).

    The same key returns the same refund; a failed one is retried under its key. More than the
    payment's refundable rest (captured - refunded - pending) is a 409 with nothing stored. The
    payment stays locked through the gateway call: a caller that can commit in between (the API)
    calls `reserve_refund` and `submit_refund` in two transactions instead.
    """
    reserved = await reserve_refund(session, actor, payment_id, amount, key, reason, case_id)
    if reserved.waiting:
        await _submit(session, actor, reserved, reserved.refund)
    await db.write(session)  # the audit trail and the outbox row, in one round trip
    return reserved.refund


@dataclass(frozen=True, slots=True)
class Reserved:
    """A refund whose amount is reserved on its payment (or the refund its key already named),
    and the provider whose gateway takes it."""

    refund: Refund
    provider: str
    total: int  # the payment's amount (WeChat Pay is told it with every refund)

    @property
    def waiting(self) -> bool:
        """Reserved but not yet with the gateway."""
        return self.refund.status == RS.REQUESTED


async def reserve_refund(
    session: AsyncSession,
    actor: Actor,
    payment_id: int,
    amount: int,
    key: str,
    reason: str,
    case_id: int | None = None,
) -> Reserved:
    """`request_refund`'s first step: store the refund under `key` and reserve its amount on the
    payment by one conditional UPDATE checked by its row count (a failed refund is retried:
    reserved again under its key). The same key again answers its refund as it stands; one still
    `requested` (its submission never came) goes to the gateway again, which dedupes the key."""
    errors = []
    if amount <= 0:
        errors.append(FieldError("amount", "must be positive"))
    if not key.strip() or len(key) > 120:
        errors.append(FieldError("idempotency_key", "must be 1 to 120 characters"))
    if not reason.strip():
        errors.append(FieldError("reason", "is required"))
    if errors:
        raise Invalid("the refund has errors; nothing was stored", errors=errors)
    payment = await repository.get(session, payment_id)
    if payment is None:
        raise PaymentNotFound(f"no payment {payment_id}")
    at = clock.now()
    refund = await repository.insert_refund(
        session,
        {
            "payment_id": payment.id,
            "order_id": payment.order_id,
            "case_id": case_id,
            "amount": amount,
            "status": RS.REQUESTED,
            "idempotency_key": key,
            "provider_reference": None,
            "reason": reason[:200],
            "failure": None,
            "requested_by": actor.user_id,
            "requested_at": at,
            "updated_at": at,
            "settled_at": None,
        },
    )
    if refund is None:
        refund = await _repeat(session, payment, amount, key)
        if refund.status != RS.FAILED:
            return Reserved(refund, payment.provider, payment.amount)  # the same key: the same refund
        await _reserve(session, payment, amount)
        refund.retry(clock.now())
        await repository.move_refund(session, refund)
        _audit(session, actor, refund, "refund.retried", {"status": RS.FAILED})
    else:
        await _reserve(session, payment, amount)
        _audit(session, actor, refund, "refund.requested", None)
        events.queue(session, "payment.refund_requested", order_subject(payment.order_id), _notice(refund))
    return Reserved(refund, payment.provider, payment.amount)


async def submit_refund(session: AsyncSession, actor: Actor, reserved: Reserved) -> Refund:
    """`request_refund`'s second step, in a transaction after the one of `reserve_refund`: the
    refund locked afresh (a twin request or a callback of it waits) and, still `requested`, handed
    to the gateway with its payment unlocked: `pending` under the gateway's reference, or
    `failed` with its reservation released and its key kept. As it stands otherwise."""
    if not reserved.waiting:
        return reserved.refund
    refund = await repository.get_refund(session, reserved.refund.id, lock=True)
    assert refund is not None, "a refund is never deleted"
    if refund.status == RS.REQUESTED:
        await _submit(session, actor, reserved, refund)
        await db.write(session)
    return refund


async def _repeat(session: AsyncSession, payment: Payment, amount: int, key: str) -> Refund:
    """The refund already stored under `key`, locked; 409 if the key names another refund."""
    refund = await repository.refund_by_key(session, key)
    assert refund is not None, "ON CONFLICT waited for the row holding the key to commit"
    if refund.payment_id != payment.id or refund.amount != amount:
        raise RefundKeyReused(
            f"idempotency key {key!r} names refund {refund.id} of {money.fmt(refund.amount)} "
            f"on payment {refund.payment_id}",
            errors=[FieldError("idempotency_key", "already used for a different refund")],
        )
    return refund


async def _reserve(session: AsyncSession, payment: Payment, amount: int) -> None:
    if not await repository.reserve_refund(session, payment.id, amount):
        await session.refresh(payment)
        raise NotRefundable(
            f"payment {payment.id} can refund {money.fmt(payment.captured - payment.refund_reserved)} "
            f"more; {money.fmt(amount)} asked; nothing was stored",
            errors=[FieldError("amount", "exceeds what is still refundable")],
        )


async def _submit(session: AsyncSession, actor: Actor, reserved: Reserved, refund: Refund) -> None:
    """Hand the reserved refund to the gateway: pending under its reference (succeeded at once
    when the provider says the money already left), or failed with its reservation released (the
    payment locked only then, by that UPDATE)."""
    before = {"status": refund.status}
    at = clock.now()
    try:
        provider = PROVIDERS.get(reserved.provider)
        if provider is None:
            raise GatewayError(f"{reserved.provider} is not configured here")
        answer = await provider.refund(
            refund.idempotency_key, refund.payment_id, refund.amount, reserved.total
        )
    except GatewayError as exc:
        refund.fail(f"gateway: {exc}" if str(exc) else "gateway: no answer", at)
        await repository.move_refund(session, refund)
        await repository.release_refund(session, refund.payment_id, refund.amount)
        _audit(session, actor, refund, "refund.failed", before)
        return
    refund.submitted(answer.reference, at)
    await repository.move_refund(session, refund)
    _audit(session, actor, refund, "refund.submitted", before)
    if answer.settled:
        refund.succeed(at)
        await repository.move_refund(session, refund)
        await _succeeded(session, refund, {"status": RS.PENDING}, at)


async def _succeeded(session: AsyncSession, refund: Refund, before: dict[str, object], at: datetime) -> None:
    """What a refund's success tells: the audit trail, the outbox, the customer's value, the hooks."""
    _audit(session, SYSTEM, refund, "refund.succeeded", before)
    events.queue(session, "payment.refunded", order_subject(refund.order_id), _notice(refund))
    await customers.refund_settled(session, refund.id, refund.payment_id, refund.amount, at)  # CRM-1
    for told in ON_SETTLED:
        await told(session, refund)


def _audit(
    session: AsyncSession, actor: Actor, refund: Refund, action: str, before: dict[str, object] | None
) -> None:
    """Queue the audit row of a refund's step for the transaction's next write (AUD-1)."""
    after = {
        "status": refund.status,
        "amount": money.fmt(refund.amount),
        "payment_id": refund.payment_id,
        "idempotency_key": refund.idempotency_key,
        "reference": refund.provider_reference,
        "failure": refund.failure,
    }
    audit.queue(session, audit.row(actor, action, "refund", refund.id, before, after))


def _notice(refund: Refund) -> dict[str, object]:
    return {
        "refund_id": refund.id,
        "payment_id": refund.payment_id,
        "order_id": refund.order_id,
        "case_id": refund.case_id,
        "amount": money.fmt(refund.amount),
        "reason": refund.reason,
    }


async def get_refund(session: AsyncSession, refund_id: int) -> Refund:
    refund = await repository.get_refund(session, refund_id)
    if refund is None:
        raise RefundNotFound(f"no refund {refund_id}")
    return refund


@dataclass(frozen=True, slots=True)
class Ledger:
    payment: Payment
    refunds: list[Refund]
    refunded: int  # succeeded
    pending: int  # requested or pending at the gateway

    @property
    def captured(self) -> int:
        return self.payment.captured

    @property
    def refundable(self) -> int:
        return self.captured - self.refunded - self.pending


async def ledger(session: AsyncSession, payment_id: int) -> Ledger:
    """A payment's refunds and their totals."""
    payment = await repository.get(session, payment_id)
    if payment is None:
        raise PaymentNotFound(f"no payment {payment_id}")
    refunds = await repository.refunds_of(session, payment_id)
    sums = await repository.refund_sums(session, payment_id)
    pending = sums.get(RS.REQUESTED, 0) + sums.get(RS.PENDING, 0)
    return Ledger(payment, refunds, sums.get(RS.SUCCEEDED, 0), pending)


async def apply_callback(
    session: AsyncSession, provider: str, data: RefundCallbackIn
) -> RefundCallbackResult:
    """Apply a refund callback whose signature the caller verified. Idempotent per event id;
    a repeat of the settled outcome is ignored, a failure after success refused and recorded."""
    refund = await repository.get_refund(session, data.refund_id, lock=True)
    if refund is None:
        raise RefundNotFound(f"no refund {data.refund_id}")
    at = clock.now()
    result = refund_callback_result(refund, data.outcome, data.amount)
    stored = await repository.record_refund_callback(
        session,
        {
            "provider": provider,
            "event_id": data.event_id,
            "refund_id": refund.id,
            "outcome": data.outcome,
            "amount": data.amount,
            "result": result,
            "body": data.model_dump(mode="json"),
            "received_at": at,
        },
    )
    if stored is None:
        first = await repository.refund_callback_result(session, provider, data.event_id)
        return (
            RefundCallbackResult(first)
            if first == RefundCallbackResult.AMOUNT_MISMATCH
            else RefundCallbackResult.DUPLICATE
        )
    before: dict[str, object] = {"status": refund.status}
    match result:
        case RefundCallbackResult.AMOUNT_MISMATCH:
            await alerts.raise_alert(
                session,
                "refund_amount_mismatch",
                f"payment:{refund.payment_id}",
                f"refund callback {data.event_id} says {money.fmt(data.amount)}, "
                f"refund {refund.id} is {money.fmt(refund.amount)}",
                f"refund_amount_mismatch:{provider}:{data.event_id}",
            )
        case RefundCallbackResult.IGNORED | RefundCallbackResult.REFUSED:
            pass
        case RefundCallbackResult.APPLIED if data.outcome == "failed":
            refund.fail("gateway: the refund failed", at)
            await repository.release_refund(session, refund.payment_id, refund.amount)
            await session.flush()
            _audit(session, SYSTEM, refund, "refund.failed", before)
        case RefundCallbackResult.APPLIED:
            if refund.status == RS.FAILED and not await repository.reserve_refund(
                session, refund.payment_id, refund.amount
            ):
                return await _late_success_without_room(session, refund, stored, data.event_id)
            refund.succeed(at)
            await session.flush()
            await _succeeded(session, refund, before, at)
        case RefundCallbackResult.DUPLICATE:
            raise AssertionError("refund_callback_result does not return duplicate")
    await db.write(session)
    return result


async def apply_provider_refund(
    session: AsyncSession, provider: str, payment_id: int, event: Event
) -> RefundCallbackResult:
    """A provider's verified word that a refund of the payment was made: the refund whose number
    there (`refund_number` of its key) it names, settled through `apply_callback`."""
    named = [
        r
        for r in await repository.refunds_of(session, payment_id)
        if refund_number(r.idempotency_key) == event.refund_key
    ]
    if not named:
        raise RefundNotFound(
            f"payment {payment_id} has no refund {event.refund_key!r}",
            errors=[FieldError("out_refund_no", "names no refund of the payment")],
        )
    data = RefundCallbackIn.model_construct(
        event_id=event.event_id,
        refund_id=named[0].id,
        reference=event.reference,
        outcome="succeeded",
        amount=event.amount,
        occurred_at=event.at,
    )
    return await apply_callback(session, provider, data)


async def _late_success_without_room(
    session: AsyncSession, refund: Refund, callback_id: int, event_id: str
) -> RefundCallbackResult:
    """A success for a refund failed by a time-out, when its room has since gone to other refunds:
    the gateway says it paid; recorded as refused and alerted for finance, never double-counted."""
    await repository.set_refund_callback_result(session, callback_id, RefundCallbackResult.REFUSED)
    await alerts.raise_alert(
        session,
        "refund_beyond_captured",
        f"payment:{refund.payment_id}",
        f"the gateway reports refund {refund.id} ({money.fmt(refund.amount)}) paid after it timed out, "
        f"but payment {refund.payment_id} has no room left for it; reconcile with the gateway",
        f"refund_beyond_captured:{refund.id}:{event_id}",
    )
    return RefundCallbackResult.REFUSED


UNPAYABLE = ":unpayable"  # ends the key of the refund of a capture its order could not take


def unpayable_key(payment_id: int) -> str:
    """The idempotency key of the refund of a capture its order could not take (paid twice)."""
    return f"payment:{payment_id}{UNPAYABLE}"


def cancel_key(order_no: str, payment_id: int) -> str:
    """The idempotency key of the refund of a cancelled order's payment."""
    return f"order:{order_no}:cancel:{payment_id}"


async def refund_cancelled_orders(session: AsyncSession) -> int:
    """PAY-3/ORD-3: a cancelled order's captured money goes back through the ledger, once.

    The worker's sweep: payments of cancelled orders with money not yet reserved for a refund, or
    whose cancel refund failed more than `payments.refund_retry_seconds` ago; how many it tried.
    """
    retry = timedelta(seconds=policy.current().payments.refund_retry_seconds)
    found = await repository.cancelled_unrefunded(session, clock.now() - retry, CANCEL_BATCH)
    for payment in found:
        order = await orders.get_order(session, payment.order_id)
        key = cancel_key(order.order_no, payment.id)
        previous = await repository.refund_by_key(session, key)
        amount = previous.amount if previous is not None else payment.amount - payment.refund_reserved
        await request_refund(session, SYSTEM, payment.id, amount, key, f"order {order.order_no} cancelled")
    return len(found)


# --- the worker's retries of failed automatic refunds (PAY-3, ASV-4) ---------------------------

RETRY_BATCH = 100  # failed refunds retried per worker transaction


def retry_wait(attempts: int, base_seconds: int) -> timedelta:
    """The wait before the worker's next try after `attempts` tries: base, 2×base, 4×base, …"""
    return timedelta(seconds=base_seconds * 2**attempts)


async def refunds_of_case(session: AsyncSession, case_id: int) -> list[Refund]:
    return await repository.refunds_of_case(session, case_id)


def _refunded_for(refund: Refund) -> str:
    if refund.case_id is None:
        return "a capture its order could not take"
    return f"after-sales case {refund.case_id}"


async def retry_failed_refunds(session: AsyncSession) -> int:
    """The worker's sweep: a case refund, or the refund of a capture its order could not take,
    that the gateway failed (or timed out on) is asked again under its own idempotency key, so
    the gateway pays it once however often it is tried, after
    `payments.refund_retry_seconds`, then twice that, …, `payments.refund_retry_attempts` times;
    a refund still failing after the last try, or with no room left on its payment, is alerted
    (`refund_failed`, finance) and left for a person. How many it handled."""
    rules = policy.current().payments
    now = clock.now()
    due = await repository.due_retries(
        session, now, now - timedelta(seconds=rules.refund_retry_seconds), UNPAYABLE, RETRY_BATCH
    )
    for refund, retry in due:
        if retry is None:
            retry = RefundRetry(refund_id=refund.id, attempts=0)
            session.add(retry)
        if retry.attempts < rules.refund_retry_attempts:
            retry.attempts += 1
            try:
                await request_refund(
                    session,
                    SYSTEM,
                    refund.payment_id,
                    refund.amount,
                    refund.idempotency_key,
                    refund.reason,
                    refund.case_id,
                )
            except NotRefundable:
                retry.attempts = rules.refund_retry_attempts  # the room went to other refunds
        if refund.status == RS.FAILED and retry.attempts >= rules.refund_retry_attempts:
            retry.next_at = None
            await alerts.raise_alert(
                session,
                "refund_failed",
                f"payment:{refund.payment_id}",
                f"refund {refund.id} ({money.fmt(refund.amount)}) of {_refunded_for(refund)} "
                f"still fails after {retry.attempts} tries ({refund.failure}); "
                f"its key {refund.idempotency_key} is kept: settle it with the gateway",
                f"refund_failed:{refund.id}",
            )
        else:
            retry.next_at = now + retry_wait(retry.attempts, rules.refund_retry_seconds)
    await session.flush()
    return len(due)
