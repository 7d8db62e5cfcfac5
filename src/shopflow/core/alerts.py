"""Alerts (ANA-3): each raised once per dedupe key, to be seen and acknowledged on the console."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import audit, clock
from shopflow.core.audit import Actor
from shopflow.core.db import Base, BigId, UTCDateTime, insert_for, insert_rows
from shopflow.core.errors import InvalidTransition, NotFound


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


def row(kind: str, subject: str, message: str, dedupe_key: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "subject": subject,
        "message": message,
        "dedupe_key": dedupe_key,
        "state": AlertState.OPEN,
        "created_at": clock.now(),
    }


async def raise_alert(session: AsyncSession, kind: str, subject: str, message: str, dedupe_key: str) -> None:
    """Insert the alert unless one with the same key exists (once, not on every repeat)."""
    stmt = insert_for(session, Alert).values(row(kind, subject, message, dedupe_key))
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))


async def raise_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """`raise_alert` for many `row`s in one statement; keys already raised are skipped."""
    await insert_rows(session, Alert, rows, skip_conflicts=True)


async def page(
    session: AsyncSession, state: AlertState | None, offset: int, limit: int, kind: str | None = None
) -> tuple[list[Alert], int]:
    """Alerts newest first, optionally of one state and one kind; and how many there are."""
    conditions = [] if state is None else [Alert.state == state]
    if kind is not None:
        conditions.append(Alert.kind == kind)
    total = await session.scalar(select(func.count()).select_from(Alert).where(*conditions))
    stmt = select(Alert).where(*conditions).order_by(Alert.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def acknowledge(session: AsyncSession, actor: Actor, alert_id: int) -> Alert:
    """Someone has seen the alert and owns it now (ANA-3); acknowledging twice is refused (409)."""
    alert = await session.scalar(select(Alert).where(Alert.id == alert_id).with_for_update())
    if alert is None:
        raise NotFound(f"no alert {alert_id}", code="alert_not_found")
    if alert.state != AlertState.OPEN:
        raise InvalidTransition("alert", alert.state, AlertState.ACKNOWLEDGED)
    at = clock.now()
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_at = at
    alert.acknowledged_by = actor.user_id
    await audit.record(
        session,
        audit.row(
            actor,
            "alert.acknowledged",
            "alert",
            alert.id,
            {"state": AlertState.OPEN},
            {"state": AlertState.ACKNOWLEDGED},
            at,
        ),
    )
    await session.flush()
    return alert
