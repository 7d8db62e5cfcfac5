"""Alerts (ANA-3): each raised once per dedupe key, to be seen and acknowledged on the console."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import clock
from shopflow.core.db import Base, BigId, UTCDateTime, insert_for


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    message: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=AlertState.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


async def raise_alert(session: AsyncSession, kind: str, subject: str, message: str, dedupe_key: str) -> None:
    """Insert the alert unless one with the same key exists (once, not on every repeat)."""
    values = {
        "kind": kind,
        "subject": subject,
        "message": message,
        "dedupe_key": dedupe_key,
        "state": AlertState.OPEN,
        "created_at": clock.now(),
    }
    stmt = insert_for(session, Alert).values(values)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))


async def for_subject(session: AsyncSession, subject: str) -> list[Alert]:
    stmt = select(Alert).where(Alert.subject == subject).order_by(Alert.id)
    return list((await session.scalars(stmt)).all())
