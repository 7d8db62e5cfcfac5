from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import and_, case, distinct, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from shopflow.core.audit import AuditEntry
from shopflow.core.db import (
    driver_connection,
    fresh,
    insert_for,
    insert_linked,
    insert_rows,
    loaded,
    update_changed,
)
from shopflow.orders.models import Order, OrderStatus
from shopflow.payments.models import (
    RESERVING,
    CallbackResult,
    Payment,
    PaymentCallback,
    PaymentReceipt,
    PaymentStatus,
    Refund,
    RefundCallback,
    RefundRetry,
    RefundStatus,
)


async def get(session: AsyncSession, payment_id: int, *, lock: bool = False) -> Payment | None:
    stmt = select(Payment).where(Payment.id == payment_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def insert_started(
    session: AsyncSession, values: dict[str, Any], trail: list[dict[str, Any]]
) -> Payment:
    """Insert the new payment `values` and its audit `trail` (rows without `entity_id`: the new
    payment's id) in one round trip on PostgreSQL; the payment as stored, outside the session."""
    payment_id = await insert_linked(session, Payment, values, AuditEntry, trail, "entity_id")
    return loaded(Payment, {"refund_reserved": 0, **values, "id": payment_id})


_PAYMENT_COLUMNS = [c.name for c in Payment.__table__.columns]
_ORDER_COLUMNS = [c.name for c in Order.__table__.columns if c.name != "contact"]
# The payment and its order locked together on PostgreSQL (core.db.driver_connection), the order
# without its contact.
LOCK_WITH_ORDER_PG = (
    f"SELECT {', '.join(f'p.{name}' for name in _PAYMENT_COLUMNS)}, "
    f"{', '.join(f'o.{name}' for name in _ORDER_COLUMNS)}"
    " FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.id = $1 FOR UPDATE"
)


async def lock_with_order(session: AsyncSession, payment_id: int) -> tuple[Payment, Order] | None:
    """The payment and its order (without its lines and contact), both locked; in one round trip
    on PostgreSQL, as instances the session holds refreshed, else outside the session
    (`db.fresh`): the caller writes their changes with `move` and the orders domain's `move`."""
    driver = await driver_connection(session)
    if driver is not None:
        row = await driver.fetchrow(LOCK_WITH_ORDER_PG, payment_id)
        if row is None:
            return None
        values = list(row.values())
        width = len(_PAYMENT_COLUMNS)
        payment = fresh(session, Payment, dict(zip(_PAYMENT_COLUMNS, values[:width], strict=True)))
        order = fresh(session, Order, dict(zip(_ORDER_COLUMNS, values[width:], strict=True)))
        return payment, order
    stmt = (
        select(Payment, Order)
        .join(Order, Order.id == Payment.order_id)
        .options(defer(Order.contact, raiseload=True))
        .where(Payment.id == payment_id)
        .with_for_update()
    )
    found = (await session.execute(stmt)).first()
    return None if found is None else (found[0], found[1])


async def move(session: AsyncSession, payment: Payment) -> None:
    """Write the step the locked payment just took (`Payment.move_to`) by one UPDATE conditional
    on the status it left (`db.update_changed`)."""
    if await update_changed(session, payment, "status") != 1:
        raise RuntimeError(f"payment {payment.id} changed status under its lock")


async def unheard(
    session: AsyncSession, providers: Sequence[str], before: datetime, limit: int
) -> list[Payment]:
    """Payments with `providers` pending since before `before` and not asked about since then;
    locked, skipping the ones another worker holds, and marked asked at once (`queried_at`)."""
    stmt = (
        select(Payment)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.created_at <= before,
            Payment.provider.in_(providers),
            or_(Payment.queried_at.is_(None), Payment.queried_at <= before),
        )
        .order_by(Payment.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def amount(session: AsyncSession, payment_id: int) -> int | None:
    """The payment's amount (what the gateway was asked to collect); None if there is none."""
    driver = await driver_connection(session)
    if driver is not None:
        found = await driver.fetchval("SELECT amount FROM payments WHERE id = $1", payment_id)
    else:
        found = await session.scalar(select(Payment.amount).where(Payment.id == payment_id))
    return None if found is None else int(found)


async def of_order(session: AsyncSession, order_id: int) -> list[Payment]:
    stmt = select(Payment).where(Payment.order_id == order_id).order_by(Payment.id)
    return list((await session.scalars(stmt)).all())


async def failed_count(session: AsyncSession, order_id: int) -> int:
    """How many of the order's payments failed (RSK-1's failed-payments rule)."""
    stmt = select(func.count()).where(Payment.order_id == order_id, Payment.status == PaymentStatus.FAILED)
    return int(await session.scalar(stmt) or 0)


async def record_callback(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Store a callback once per (provider, event id); None when it was seen before."""
    stored = await insert_rows(session, PaymentCallback, [values], returning="id", skip_conflicts=True)
    return int(stored[0]) if stored else None


async def callback_result(session: AsyncSession, provider: str, event_id: str) -> CallbackResult:
    stmt = select(PaymentCallback.result).where(
        PaymentCallback.provider == provider, PaymentCallback.event_id == event_id
    )
    return CallbackResult((await session.execute(stmt)).scalar_one())


async def receipts(
    session: AsyncSession, start: datetime | None, end: datetime | None, offset: int, limit: int
) -> tuple[list[PaymentReceipt], int]:
    conditions = []
    if start is not None:
        conditions.append(PaymentReceipt.received_at >= start)
    if end is not None:
        conditions.append(PaymentReceipt.received_at < end)
    total = await session.scalar(select(func.count()).select_from(PaymentReceipt).where(*conditions))
    stmt = select(PaymentReceipt).where(*conditions).order_by(PaymentReceipt.id).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def receipt_totals(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> list[tuple[str, int, int]]:
    """Receipts received in [start, end) per method: (method, how many, amount), by method."""
    conditions = []
    if start is not None:
        conditions.append(PaymentReceipt.received_at >= start)
    if end is not None:
        conditions.append(PaymentReceipt.received_at < end)
    stmt = (
        select(PaymentReceipt.method, func.count(), func.coalesce(func.sum(PaymentReceipt.amount), 0))
        .where(*conditions)
        .group_by(PaymentReceipt.method)
        .order_by(PaymentReceipt.method)
    )
    return [
        (method, int(count), int(amount)) for method, count, amount in (await session.execute(stmt)).all()
    ]


async def takings(session: AsyncSession, bounds: Sequence[datetime]) -> tuple[list[int], int]:
    """Money received in each interval between consecutive `bounds` (PAY-5), and how many
    orders it paid; one pass over the receipts of the whole span."""
    at, amount = PaymentReceipt.received_at, PaymentReceipt.amount
    sums = [
        func.coalesce(func.sum(case(((at >= start) & (at < end), amount), else_=0)), 0)
        for start, end in pairwise(bounds)
    ]
    stmt = select(*sums, func.count(distinct(PaymentReceipt.order_id))).where(
        at >= bounds[0], at < bounds[-1]
    )
    row = (await session.execute(stmt)).one()
    return [int(value) for value in row[:-1]], int(row[-1])


# --- the refund ledger (PAY-3) -----------------------------------------------------------------


async def insert_refund(session: AsyncSession, values: dict[str, Any]) -> Refund | None:
    """The new refund row (every column given in `values`), outside the session, or None when
    its idempotency key is taken (a concurrent twin waits on the key, then finds the first
    refund). Its later steps are written with `move_refund`."""
    stored = await insert_rows(session, Refund, [values], returning="id", skip_conflicts=True)
    return loaded(Refund, {**values, "id": stored[0]}) if stored else None


async def move_refund(session: AsyncSession, refund: Refund) -> None:
    """Write the step the locked (or just inserted) refund took (`Refund.move_to` and the methods
    using it) by one UPDATE conditional on the status it left (`db.update_changed`)."""
    if await update_changed(session, refund, "status") != 1:
        raise RuntimeError(f"refund {refund.id} changed status under its lock")


async def get_refund(session: AsyncSession, refund_id: int, *, lock: bool = False) -> Refund | None:
    stmt = select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def refund_by_key(session: AsyncSession, key: str) -> Refund | None:
    """The refund of `key`, locked (a retry and a callback of one refund take turns)."""
    stmt = (
        select(Refund)
        .where(Refund.idempotency_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).first()


RESERVE_REFUND_PG = (
    "UPDATE payments SET refund_reserved = refund_reserved + $2"
    f" WHERE id = $1 AND status = '{PaymentStatus.SUCCEEDED}' AND amount - refund_reserved >= $2"
)


async def reserve_refund(session: AsyncSession, payment_id: int, amount: int) -> bool:
    """Reserve `amount` on a captured payment if that much is still refundable: one conditional
    UPDATE (captured - refunded - pending >= amount), checked by its row count."""
    driver = await driver_connection(session)
    if driver is not None:
        return await driver.execute(RESERVE_REFUND_PG, payment_id, amount) == "UPDATE 1"
    stmt = (
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.amount - Payment.refund_reserved >= amount,
        )
        .values(refund_reserved=Payment.refund_reserved + amount)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(stmt)).rowcount) == 1


async def release_refund(session: AsyncSession, payment_id: int, amount: int) -> None:
    """Give back the reservation of a refund that failed."""
    stmt = (
        update(Payment)
        .where(Payment.id == payment_id, Payment.refund_reserved >= amount)
        .values(refund_reserved=Payment.refund_reserved - amount)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(stmt)).rowcount != 1:
        raise RuntimeError(f"payment {payment_id} has less than {amount} reserved for refunds")


async def refunds_of(session: AsyncSession, payment_id: int) -> list[Refund]:
    stmt = select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.id)
    return list((await session.scalars(stmt)).all())


async def refund_sums(session: AsyncSession, payment_id: int) -> dict[RefundStatus, int]:
    """The payment's refunded amounts per refund status."""
    stmt = (
        select(Refund.status, func.sum(Refund.amount))
        .where(Refund.payment_id == payment_id)
        .group_by(Refund.status)
    )
    return {RefundStatus(status): int(total) for status, total in (await session.execute(stmt)).all()}


async def reserved_by_ledger(session: AsyncSession, payment_id: int) -> int:
    """The sum of the payment's refunds that hold a reservation (the ledger's side of
    `Payment.refund_reserved`)."""
    stmt = select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.payment_id == payment_id, Refund.status.in_(list(RESERVING))
    )
    return int(await session.scalar(stmt) or 0)


async def record_refund_callback(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Store a refund callback once per (provider, event id); None when it was seen before."""
    stmt = (
        insert_for(session, RefundCallback)
        .values(values)
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(RefundCallback.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def set_refund_callback_result(session: AsyncSession, callback_id: int, result: str) -> None:
    await session.execute(
        update(RefundCallback).where(RefundCallback.id == callback_id).values(result=result)
    )


async def refund_callback_result(session: AsyncSession, provider: str, event_id: str) -> str:
    stmt = select(RefundCallback.result).where(
        RefundCallback.provider == provider, RefundCallback.event_id == event_id
    )
    return str((await session.execute(stmt)).scalar_one())


async def cancelled_unrefunded(session: AsyncSession, retry_before: datetime, limit: int) -> list[Payment]:
    """Captured payments of cancelled orders with money not yet reserved for a refund and no
    refund in progress, or whose cancel refund failed before `retry_before`; locked, skipping
    the ones another worker holds."""
    cancel_refunds = select(Refund.id).where(
        Refund.payment_id == Payment.id,
        Refund.idempotency_key.like("order:%:cancel:%"),
        (Refund.status != RefundStatus.FAILED) | (Refund.updated_at >= retry_before),
    )
    stmt = (
        select(Payment)
        .join(Order, Order.id == Payment.order_id)
        .where(
            Order.status == OrderStatus.CANCELLED,
            Order.imported_at.is_(None),  # imported history: what the platform did stands
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.amount > Payment.refund_reserved,
            ~cancel_refunds.exists(),
        )
        .order_by(Payment.id)
        .limit(limit)
        .with_for_update(of=Payment, skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def refunds_of_case(session: AsyncSession, case_id: int) -> list[Refund]:
    """The refunds asked for an after-sales case (one per payment it is refunded from)."""
    stmt = select(Refund).where(Refund.case_id == case_id).order_by(Refund.id)
    return list((await session.scalars(stmt)).all())


async def due_retries(
    session: AsyncSession, now: datetime, failed_before: datetime, unpayable: str, limit: int
) -> list[tuple[Refund, RefundRetry | None]]:
    """Failed refunds due for the worker, of a case or of a capture its order could not take (key
    ending in `unpayable`): never retried and failed before `failed_before`, or retried and due
    again; locked, skipping the ones another worker holds."""
    stmt = (
        select(Refund, RefundRetry)
        .outerjoin(RefundRetry, RefundRetry.refund_id == Refund.id)
        .where(
            Refund.status == RefundStatus.FAILED,
            or_(Refund.case_id.is_not(None), Refund.idempotency_key.endswith(unpayable, autoescape=True)),
            or_(
                and_(RefundRetry.refund_id.is_(None), Refund.updated_at <= failed_before),
                RefundRetry.next_at <= now,
            ),
        )
        .order_by(Refund.id)
        .limit(limit)
        .with_for_update(of=Refund, skip_locked=True)
    )
    return [(refund, retry) for refund, retry in (await session.execute(stmt)).tuples().all()]
