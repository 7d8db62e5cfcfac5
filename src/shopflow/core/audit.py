"""Append-only audit rows (AUD-1): who, what, when, before and after.

The table refuses UPDATE at the database, and DELETE of rows younger than AUD-1's 3 years
(triggers in the migrations); the retention sweep (`service.retention`) deletes older ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import clock, db
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something: a user (via token or session) or the system itself."""

    user_id: int | None
    name: str
    role: str


SYSTEM = Actor(user_id=None, name="system", role="system")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id", "id"),
        Index("ix_audit_log_at", "at"),  # AUD-1: rows past retention, purged by the worker
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


def row(
    actor: Actor,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "at": at or clock.now(),
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "before": before,
        "after": after,
    }


async def record(session: AsyncSession, *rows: dict[str, Any]) -> None:
    """Write audit rows in the caller's transaction, after the rows it has queued (one round trip)."""
    await db.write(session, (AuditEntry, rows))


def queue(session: AsyncSession, *rows: dict[str, Any]) -> None:
    """Queue audit rows for the transaction's next write (`db.PendingRows`)."""
    db.queue(session, AuditEntry, *rows)


async def trail(session: AsyncSession, entity: str, entity_id: object) -> list[AuditEntry]:
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)
    )
    return list((await session.scalars(stmt)).all())
