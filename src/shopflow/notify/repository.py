"""Every query of the notify domain: the outbox relay's claims, deliveries, attempts, webhooks."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shopflow.core.db import insert_for
from shopflow.core.events import OutboxEvent
from shopflow.notify.models import AttemptStatus, Channel, Delivery, DeliveryAttempt, DeliveryState, Webhook


async def lock_pending_outbox(session: AsyncSession, now: datetime, limit: int) -> list[OutboxEvent]:
    """Outbox events due for delivery, oldest first; rows another worker holds are skipped."""
    stmt = (
        select(OutboxEvent)
        .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.available_at <= now)
        .order_by(OutboxEvent.available_at, OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def mark_outbox_delivered(session: AsyncSession, ids: list[int], at: datetime) -> None:
    if ids:
        await session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(delivered_at=at))


async def insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert deliveries; one that exists for its (outbox event, channel, target), or under its
    idempotency id (a scheduled report's email queued twice), is left alone."""
    if rows:
        await session.execute(insert_for(session, Delivery).on_conflict_do_nothing(), rows)


async def existing_idempotency_ids(session: AsyncSession, ids: Collection[str]) -> set[str]:
    """Those of `ids` some delivery already has."""
    if not ids:
        return set()
    found = await session.scalars(select(Delivery.idempotency_id).where(Delivery.idempotency_id.in_(ids)))
    return set(found)


async def lock_due_deliveries(session: AsyncSession, now: datetime, limit: int) -> list[Delivery]:
    """Pending deliveries whose next attempt is due and whose last claim (if any) has run out;
    rows another worker is claiming right now are skipped."""
    stmt = (
        select(Delivery)
        .where(
            Delivery.state == DeliveryState.PENDING,
            Delivery.next_attempt_at <= now,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def lock_deliveries(session: AsyncSession, ids: Collection[int]) -> dict[int, Delivery]:
    """The deliveries as they are now (another worker may have claimed them since), locked."""
    stmt = (
        select(Delivery)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {delivery.id: delivery for delivery in await session.scalars(stmt)}


async def interrupt_attempts(session: AsyncSession, delivery_ids: Collection[int]) -> None:
    """The `sending` attempts of deliveries claimed again: their worker died before it knew."""
    if delivery_ids:
        await session.execute(
            update(DeliveryAttempt)
            .where(
                DeliveryAttempt.delivery_id.in_(delivery_ids),
                DeliveryAttempt.status == AttemptStatus.SENDING,
            )
            .values(status=AttemptStatus.INTERRUPTED)
        )


async def get_delivery(session: AsyncSession, delivery_id: int, *, lock: bool = False) -> Delivery | None:
    stmt = select(Delivery).options(selectinload(Delivery.log)).where(Delivery.id == delivery_id)
    if lock:
        stmt = stmt.with_for_update(of=Delivery)
    return (await session.scalars(stmt)).first()


async def page_deliveries(
    session: AsyncSession,
    *,
    state: DeliveryState | None,
    channel: Channel | None,
    offset: int,
    limit: int,
    event: str | None = None,
    search: str | None = None,
) -> tuple[list[Delivery], int]:
    """Deliveries newest first. `event` is a filter as webhooks write them ("order.shipped",
    "order.*", "*"); `search` finds part of the recipient, a subject ("order:42", or just "42")
    or an idempotency id."""
    conditions: list[ColumnElement[bool]] = []
    if state is not None:
        conditions.append(Delivery.state == state)
    if channel is not None:
        conditions.append(Delivery.channel == channel)
    if event and event != "*":
        prefix = event.removesuffix("*")
        conditions.append(
            Delivery.event.startswith(prefix, autoescape=True) if prefix != event else Delivery.event == event
        )
    if search:
        conditions.append(
            or_(
                Delivery.recipient.icontains(search, autoescape=True),
                Delivery.subject == search,
                Delivery.subject.endswith(f":{search}", autoescape=True),
                Delivery.idempotency_id == search,
            )
        )
    total = await session.scalar(select(func.count()).select_from(Delivery).where(*conditions))
    stmt = (
        select(Delivery)
        .options(selectinload(Delivery.log))
        .where(*conditions)
        .order_by(Delivery.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def live_webhooks(session: AsyncSession) -> list[Webhook]:
    stmt = select(Webhook).where(Webhook.deleted_at.is_(None)).order_by(Webhook.id)
    return list((await session.scalars(stmt)).all())


async def webhooks_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, Webhook]:
    if not ids:
        return {}
    found = await session.scalars(select(Webhook).where(Webhook.id.in_(ids)))
    return {hook.id: hook for hook in found}


async def get_webhook(session: AsyncSession, webhook_id: int, *, lock: bool = False) -> Webhook | None:
    stmt = select(Webhook).where(Webhook.id == webhook_id, Webhook.deleted_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def page_webhooks(session: AsyncSession, offset: int, limit: int) -> tuple[list[Webhook], int]:
    live = Webhook.deleted_at.is_(None)
    total = await session.scalar(select(func.count()).select_from(Webhook).where(live))
    stmt = select(Webhook).where(live).order_by(Webhook.id).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)
