"""One approval mechanism (CAT-2): a change that waits for a supervisor's decision.

A domain asks (`request`) with what it wants (JSON), why it needs approval (reasons) and the
discount authority an approver needs; a supervisor approves or rejects it (`decide`). Each step is
audited, an alert tells the approvers while it waits and is resolved by the decision. Nobody
decides their own request, and an approver's `policy.authority(role).discount_percent` must cover
the asked discount (admin always may). What the decision does is the asking domain's: its use
case calls `decide` and then acts on the approval returned. Core knows no domain's subjects.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core import alerts, audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.db import Base, BigId, JSONType, UTCDateTime
from shopflow.core.errors import Forbidden, InvalidTransition, NotFound
from shopflow.core.roles import Role

PENDING_ALERT = "approval.pending"  # owned by `approval` in the policy's alert owners (manager)


class ApprovalState(StrEnum):
    PENDING = "pending"  # 待审批
    APPROVED = "approved"  # 已批准
    REJECTED = "rejected"  # 已驳回


A = ApprovalState
TRANSITIONS: dict[ApprovalState, frozenset[ApprovalState]] = {
    A.PENDING: frozenset({A.APPROVED, A.REJECTED}),
    A.APPROVED: frozenset(),
    A.REJECTED: frozenset(),
}


class ApprovalNotFound(NotFound):
    code = "approval_not_found"


class SelfApproval(Forbidden):
    code = "own_request"


class BeyondAuthority(Forbidden):
    code = "beyond_authority"


def approval_subject(approval_id: int) -> str:
    return f"approval:{approval_id}"


def may_approve(role: str, discount_percent: float) -> bool:
    """Whether a member of `role` may decide a request asking `discount_percent` (CAT-2): an
    admin always, anyone else within their role's discount authority."""
    return role == Role.ADMIN or policy.authority(role).discount_percent >= discount_percent


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (
        Index("ix_approvals_subject", "subject"),
        Index("ix_approvals_state_requested", "state", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64))  # what the change is about: "quote:12"
    kind: Mapped[str] = mapped_column(String(40))  # what is asked: "quote.discount", "price.change"
    asked: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the change as the domain states it
    reasons: Mapped[list[str]] = mapped_column(JSONType)  # why it needs approval
    # The discount authority (percent) an approver needs to decide it.
    discount_percent: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_by_name: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approver_name: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)  # the decision's note
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def decide(self, actor: Actor, approve: bool, note: str, at: datetime) -> ApprovalState:
        """Approved or rejected by `actor`: never by the requester (403), only within the
        actor's authority (403), only while pending (409). The state left."""
        target = A.APPROVED if approve else A.REJECTED
        previous = ApprovalState(self.state)
        if target not in TRANSITIONS[previous]:
            raise InvalidTransition("approval", previous, target)
        if actor.user_id is not None and actor.user_id == self.requested_by:
            raise SelfApproval("nobody approves or rejects their own request")
        if not may_approve(actor.role, self.discount_percent):
            raise BeyondAuthority(
                f"a {actor.role} may grant up to {policy.authority(actor.role).discount_percent:g}%;"
                f" this asks {self.discount_percent:g}%"
            )
        self.state = target
        self.approver_id = actor.user_id
        self.approver_name = actor.name
        self.note = note
        self.decided_at = at
        return previous


def _alert_key(approval_id: int) -> str:
    return f"{approval_subject(approval_id)}:pending"


async def request(
    session: AsyncSession,
    actor: Actor,
    subject: str,
    kind: str,
    asked: dict[str, Any],
    reasons: list[str],
    discount_percent: float,
) -> Approval:
    """A pending request (audited), and an alert to the approvers while it waits."""
    at = clock.now()
    approval = Approval(
        subject=subject,
        kind=kind,
        asked=asked,
        reasons=reasons,
        discount_percent=discount_percent,
        state=A.PENDING,
        requested_by=actor.user_id,
        requested_by_name=actor.name,
        requested_at=at,
    )
    session.add(approval)
    await session.flush()
    after = {"subject": subject, "kind": kind, "asked": asked, "reasons": reasons}
    audit.queue(session, audit.row(actor, "approval.requested", "approval", approval.id, None, after, at))
    message = f"{subject}: {kind} by {actor.name} waits for approval: {'; '.join(reasons)}"
    await alerts.raise_alert(session, PENDING_ALERT, subject, message, _alert_key(approval.id))
    return approval


async def get(session: AsyncSession, approval_id: int, *, lock: bool = False) -> Approval:
    stmt = select(Approval).where(Approval.id == approval_id)
    if lock:
        stmt = stmt.with_for_update()
    approval = (await session.scalars(stmt)).first()
    if approval is None:
        raise ApprovalNotFound(f"no approval {approval_id}")
    return approval


async def decide(session: AsyncSession, actor: Actor, approval_id: int, approve: bool, note: str) -> Approval:
    """Approve or reject the pending request (`Approval.decide`), audited; its alert resolved."""
    approval = await get(session, approval_id, lock=True)
    at = clock.now()
    previous = approval.decide(actor, approve, note, at)
    await session.flush()
    audit.queue(
        session,
        audit.row(
            actor,
            f"approval.{approval.state}",
            "approval",
            approval.id,
            {"state": previous},
            {"state": approval.state, "note": note},
            at,
        ),
    )
    await alerts.resolve_cause(session, _alert_key(approval.id), f"{approval.state} by {actor.name}")
    return approval


async def of_subject(session: AsyncSession, subject: str) -> list[Approval]:
    """The subject's requests, oldest first."""
    stmt = select(Approval).where(Approval.subject == subject).order_by(Approval.id)
    return list((await session.scalars(stmt)).all())
