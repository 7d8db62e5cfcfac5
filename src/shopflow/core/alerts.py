"""Alerts (ANA-3), the one model every domain raises: each once per dedupe key, owned by a role or
a user (`policy.alerts`), told to its owner once through the outbox (`alert.raised`), and
`open → acknowledged → resolved`: resolved by the event that ends its cause or by hand with a note.

Who may acknowledge or resolve a kind is a permission per kind, `alerts.ack.<kind>`, looked up by
the longest dotted prefix `core.auth.PERMISSIONS` names (`alerts.ack.sla.breach.order`, …), down
to `alerts.ack` for kinds no entry names.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, String, Text, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import audit, auth, clock, db, events, policy
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.db import Base, BigId, UTCDateTime, insert_rows
from shopflow.core.errors import Forbidden, InvalidTransition, NotFound
from shopflow.core.events import OutboxEvent


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # someone has seen it and owns it
    RESOLVED = "resolved"  # its cause ended, or a person closed it with a note


A = AlertState
TRANSITIONS: dict[AlertState, frozenset[AlertState]] = {
    A.OPEN: frozenset({A.ACKNOWLEDGED, A.RESOLVED}),
    A.ACKNOWLEDGED: frozenset({A.RESOLVED}),
    A.RESOLVED: frozenset(),
}
RAISED_EVENT = "alert.raised"
ACK_PERMISSION = "alerts.ack"


def sources(target: AlertState) -> list[AlertState]:
    """The states an alert may move to `target` from: the condition of a bulk UPDATE."""
    return [state for state, targets in TRANSITIONS.items() if target in targets]


def permission(kind: str) -> str:
    """The permission to acknowledge or resolve alerts of `kind`: `alerts.ack.<longest prefix>`."""
    parts = kind.split(".")
    for end in range(len(parts), 0, -1):
        name = f"{ACK_PERMISSION}.{'.'.join(parts[:end])}"
        if name in auth.PERMISSIONS:
            return name
    return ACK_PERMISSION


def may_handle(role: str, kind: str) -> bool:
    return auth.allowed(role, permission(kind))


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    message: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    # A role ("operations") or one user ("user:alice"), from `policy.alerts` when raised.
    owner: Mapped[str] = mapped_column(String(80), index=True)
    state: Mapped[str] = mapped_column(String(20), default=AlertState.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: by its cause ending
    resolution_note: Mapped[str | None] = mapped_column(Text)

    def _move(self, target: AlertState) -> AlertState:
        previous = AlertState(self.state)
        if target not in TRANSITIONS[previous]:
            raise InvalidTransition("alert", previous, target)
        self.state = target
        return previous

    def acknowledge(self, user_id: int | None, at: datetime) -> AlertState:
        previous = self._move(AlertState.ACKNOWLEDGED)
        self.acknowledged_at = at
        self.acknowledged_by = user_id
        return previous

    def resolve(self, user_id: int | None, note: str, at: datetime) -> AlertState:
        previous = self._move(AlertState.RESOLVED)
        self.resolved_at = at
        self.resolved_by = user_id
        self.resolution_note = note
        return previous


def row(kind: str, subject: str, message: str, dedupe_key: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "subject": subject,
        "message": message,
        "dedupe_key": dedupe_key,
        "owner": policy.current().alerts.owner_of(kind),
        "state": AlertState.OPEN,
        "created_at": clock.now(),
    }


def _raised(alert: dict[str, Any], alert_id: int) -> dict[str, Any]:
    """The outbox row telling the alert's owner (webhooks subscribed to `alert.*`)."""
    payload = {key: alert[key] for key in ("kind", "subject", "message", "owner")}
    return events.row(RAISED_EVENT, f"alert:{alert_id}", {"alert_id": alert_id, **payload})


async def raise_alert(session: AsyncSession, kind: str, subject: str, message: str, dedupe_key: str) -> None:
    """Insert the alert unless one with the same key exists (once, not on every repeat)."""
    await raise_many(session, [row(kind, subject, message, dedupe_key)])


async def raise_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """`raise_alert` for many `row`s in one statement; keys already raised are skipped, and only
    the alerts stored now are told to their owners."""
    stored = await insert_rows(session, Alert, rows, returning="id", skip_conflicts=True)
    if not stored:
        return
    ids = dict(
        (await session.execute(select(Alert.dedupe_key, Alert.id).where(Alert.id.in_(stored)))).tuples().all()
    )
    await db.write(
        session, (OutboxEvent, [_raised(r, ids[r["dedupe_key"]]) for r in rows if r["dedupe_key"] in ids])
    )


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts a list or a bulk acknowledgement is about; None leaves a field open."""

    kind: str | None = None
    owner: str | None = None
    state: AlertState | None = None
    older_than_minutes: int | None = None  # raised at least this long ago
    since: datetime | None = None  # raised at or after this time

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.kind is not None:
            found.append(Alert.kind == self.kind)
        if self.owner is not None:
            found.append(Alert.owner == self.owner)
        if self.state is not None:
            found.append(Alert.state == self.state)
        if self.older_than_minutes is not None:
            found.append(Alert.created_at <= now - timedelta(minutes=self.older_than_minutes))
        if self.since is not None:
            found.append(Alert.created_at >= self.since)
        return found


async def page(
    session: AsyncSession, chosen: AlertFilter, offset: int, limit: int
) -> tuple[list[Alert], int]:
    """Alerts newest first, as `chosen` filters them; and how many there are."""
    conditions = chosen.conditions(clock.now())
    total = await session.scalar(select(func.count()).select_from(Alert).where(*conditions))
    stmt = select(Alert).where(*conditions).order_by(Alert.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


def _state_row(
    actor: Actor, alert_id: int, before: str, after: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return audit.row(actor, f"alert.{after['state']}", "alert", alert_id, {"state": before}, after, at)


async def _locked(session: AsyncSession, actor: Actor, alert_id: int) -> Alert:
    alert = await session.scalar(select(Alert).where(Alert.id == alert_id).with_for_update())
    if alert is None:
        raise NotFound(f"no alert {alert_id}", code="alert_not_found")
    auth.authorize(actor, permission(alert.kind))
    return alert


async def acknowledge(session: AsyncSession, actor: Actor, alert_id: int) -> Alert:
    """Someone has seen the alert and owns it now (ANA-3); acknowledging twice is refused (409)."""
    alert = await _locked(session, actor, alert_id)
    at = clock.now()
    previous = alert.acknowledge(actor.user_id, at)
    await audit.record(session, _state_row(actor, alert.id, previous, {"state": alert.state}, at))
    await session.flush()
    return alert


async def resolve(session: AsyncSession, actor: Actor, alert_id: int, note: str) -> Alert:
    """Close the alert by hand, saying why (audited); a resolved alert stays resolved (409)."""
    alert = await _locked(session, actor, alert_id)
    at = clock.now()
    previous = alert.resolve(actor.user_id, note, at)
    after = {"state": alert.state, "note": note}
    await audit.record(session, _state_row(actor, alert.id, previous, after, at))
    await session.flush()
    return alert


async def _kinds(session: AsyncSession, conditions: Sequence[ColumnElement[bool]]) -> set[str]:
    return set((await session.scalars(select(Alert.kind).where(*conditions).distinct())).all())


async def acknowledge_many(
    session: AsyncSession, actor: Actor, *, ids: Collection[int] = (), chosen: AlertFilter | None = None
) -> int:
    """Acknowledge the open alerts among `ids`, or all matching `chosen`, in one conditional
    UPDATE, audited per alert; how many were acknowledged. Alerts of a kind the actor may not
    handle are refused (403) when named (by id or by the filter's kind) and otherwise left open."""
    at = clock.now()
    open_ = Alert.state.in_(sources(AlertState.ACKNOWLEDGED))
    if chosen is None:
        conditions = [Alert.id.in_(ids), open_]
        named = await _kinds(session, conditions)
    else:
        conditions = [*chosen.conditions(at), open_]
        named = {chosen.kind} if chosen.kind is not None else set()
    refused = sorted(kind for kind in named if not may_handle(actor.role, kind))
    if refused:
        raise Forbidden(
            f"role {actor.role!r} may not acknowledge {', '.join(refused)} alerts", code="forbidden"
        )
    allowed = [kind for kind in await _kinds(session, conditions) if may_handle(actor.role, kind)]
    if not allowed:
        return 0
    stmt = (
        update(Alert)
        .where(*conditions, Alert.kind.in_(allowed))
        .values(state=AlertState.ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=actor.user_id)
        .returning(Alert.id)
    )
    done = (await session.scalars(stmt.execution_options(synchronize_session="fetch"))).all()
    after = {"state": AlertState.ACKNOWLEDGED}
    await audit.record(
        session, *(_state_row(actor, alert_id, AlertState.OPEN, after, at) for alert_id in done)
    )
    return len(done)


async def unresolved_subjects(session: AsyncSession, kind: str) -> set[str]:
    """The subjects with an alert of `kind` not yet resolved (open or acknowledged)."""
    stmt = select(Alert.subject).where(Alert.kind == kind, Alert.state != AlertState.RESOLVED).distinct()
    return set((await session.scalars(stmt)).all())


async def resolved_counts(session: AsyncSession, kind: str, subjects: Collection[str]) -> dict[str, int]:
    """How many alerts of `kind` each subject has had resolved: numbers a cause's next run, so a
    condition that ends and comes back (stock low again) is alerted again, once."""
    if not subjects:
        return {}
    stmt = (
        select(Alert.subject, func.count())
        .where(Alert.kind == kind, Alert.subject.in_(subjects), Alert.state == AlertState.RESOLVED)
        .group_by(Alert.subject)
    )
    return {subject: int(n) for subject, n in (await session.execute(stmt)).tuples()}


async def resolve_causes(session: AsyncSession, subject: str, kinds: Collection[str], note: str) -> int:
    """The cause of the subject's alerts of these kinds ended (a late step happened at last, the
    subject ended): they are resolved by the system, audited, in one UPDATE; how many."""
    if not kinds:
        return 0
    return await _resolve_by_system(session, [Alert.subject == subject, Alert.kind.in_(kinds)], note)


async def resolve_cause(session: AsyncSession, dedupe_key: str, note: str) -> int:
    """`resolve_causes` for the one alert raised with `dedupe_key` (one case of several on a subject)."""
    return await _resolve_by_system(session, [Alert.dedupe_key == dedupe_key], note)


async def _resolve_by_system(
    session: AsyncSession, conditions: Sequence[ColumnElement[bool]], note: str
) -> int:
    at = clock.now()
    stmt = (
        update(Alert)
        .where(*conditions, Alert.state.in_(sources(AlertState.RESOLVED)))
        .values(state=AlertState.RESOLVED, resolved_at=at, resolved_by=None, resolution_note=note)
        .returning(Alert.id, Alert.acknowledged_at)
    )
    done = (await session.execute(stmt.execution_options(synchronize_session="fetch"))).all()
    after = {"state": AlertState.RESOLVED, "note": note}
    trail = [
        _state_row(SYSTEM, alert_id, AlertState.OPEN if seen is None else AlertState.ACKNOWLEDGED, after, at)
        for alert_id, seen in done
    ]
    await audit.record(session, *trail)
    return len(done)
