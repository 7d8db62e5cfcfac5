"""Who sees personal data unmasked, and the log of every time they did (RSK-3).

Roles holding `personal_data.read` see customers' names, phones, emails and streets as stored;
everyone else sees them masked (`core.privacy`). Each request that shows unmasked personal data
to staff writes one row per record shown (who, whose, when, which endpoint), all rows of the
request queued on its transaction and written at commit as one multi-row INSERT. The echo of a
record the caller has just created (`POST /orders`) is not a read, so order intake writes none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import auth, clock, db
from shopflow.core.audit import Actor
from shopflow.core.auth import User
from shopflow.core.db import Base, BigId, UTCDateTime
from shopflow.core.privacy import masked_contact

PERMISSION = "personal_data.read"  # sees personal data unmasked (each read logged)
LOG_PERMISSION = "personal_data.reads"  # reads the log of those reads
_LOGGED = "shopflow.personal_data_logged"  # session.info key: what this transaction has logged


class PersonalDataRead(Base):
    """One record of personal data shown unmasked to one user by one request."""

    __tablename__ = "personal_data_reads"
    __table_args__ = (Index("ix_personal_data_reads_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(40))  # whose: "order"
    subject_id: Mapped[int] = mapped_column(BigId, index=True)
    endpoint: Mapped[str] = mapped_column(String(200))  # "GET /api/v1/orders/{order_id}"


def endpoint(method: str, path: str, parameters: Mapping[str, object]) -> str:
    """A request's endpoint as its route is written: "GET /api/v1/orders/{order_id}" for
    GET /api/v1/orders/42 (each path segment holding a parameter's value named by it)."""
    names = {str(value): f"{{{name}}}" for name, value in parameters.items()}
    return f"{method} {'/'.join(names.get(part, part) for part in path.split('/'))}"


def reveals(role: str) -> bool:
    """Whether this role sees personal data unmasked."""
    return auth.allowed(role, PERMISSION)


def log(session: AsyncSession, actor: Actor, endpoint: str, subject: str, ids: Iterable[int]) -> None:
    """Log that `actor` was shown the personal data of `subject`s `ids` by `endpoint`: one row
    each, queued on the transaction (written with its other queued rows, at the latest at commit)."""
    if actor.user_id is None:
        return
    logged: set[tuple[str, int]] = session.info.setdefault(_LOGGED, set())
    fresh = [(subject, i) for i in dict.fromkeys(ids) if (subject, i) not in logged]
    logged.update(fresh)
    at = clock.now()
    rows = [
        {"at": at, "user_id": actor.user_id, "subject": subject, "subject_id": i, "endpoint": endpoint}
        for _, i in fresh
    ]
    db.queue(session, PersonalDataRead, *rows)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who a request shows personal data to, and through which endpoint."""

    actor: Actor
    endpoint: str

    @property
    def revealed(self) -> bool:
        return reveals(self.actor.role)

    def contact(
        self, session: AsyncSession, subject: str, subject_id: int, contact: dict[str, Any]
    ) -> dict[str, Any]:
        """A record's contact as this viewer may see it: as stored (and the read logged) or masked."""
        if not self.revealed:
            return masked_contact(contact)
        log(session, self.actor, self.endpoint, subject, [subject_id])
        return contact


async def reads(
    session: AsyncSession, *, username: str | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[tuple[PersonalDataRead, str]], int]:
    """Logged reads with their reader's username, newest first (all, or those of `username`),
    and how many there are."""
    stmt = select(PersonalDataRead, User.username).join(User, User.id == PersonalDataRead.user_id)
    if username is not None:
        stmt = stmt.where(PersonalDataRead.user_id == (await auth.find_user(session, username)).id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    found = await session.execute(stmt.order_by(PersonalDataRead.id.desc()).offset(offset).limit(limit))
    return [(read, reader) for read, reader in found.tuples()], int(total or 0)
