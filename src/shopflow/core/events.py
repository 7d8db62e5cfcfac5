"""The outbox (ORD-8, NTF-1): events written in the caller's transaction, delivered after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import clock, db
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime


class OutboxEvent(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "available_at", postgresql_where="delivered_at IS NULL"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def row(event: str, subject: str, payload: dict[str, Any]) -> dict[str, Any]:
    at = clock.now()
    return {
        "event": event,
        "subject": subject,
        "payload": payload,
        "created_at": at,
        "available_at": at,
        "attempts": 0,
    }


async def record(session: AsyncSession, event: str, subject: str, payload: dict[str, Any]) -> None:
    """Write the event in the caller's transaction, after the rows it has queued (one round trip)."""
    await db.write(session, (OutboxEvent, [row(event, subject, payload)]))


def queue(session: AsyncSession, event: str, subject: str, payload: dict[str, Any]) -> None:
    """Queue the event for the transaction's next write (`db.PendingRows`)."""
    db.queue(session, OutboxEvent, row(event, subject, payload))
