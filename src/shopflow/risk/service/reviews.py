"""The review queue (RSK-2): held orders with their score, reasons, the customer's history and
similar orders (other buyers' from the same IP address), the oldest first; a reviewer assigned;
approve releases the hold (ORD-3), reject cancels the order (its captured money refunded through
the refund ledger, PAY-3); both audited with a reason (AUD-1) and both stop the review's clock
(SLA-1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, auth, clock, policy, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.inventory.models import ReservationState
from shopflow.orders.models import Order, OrderClock, order_subject
from shopflow.orders.service import lifecycle, queries
from shopflow.risk import repository
from shopflow.risk.errors import ReviewNotFound
from shopflow.risk.models import Decision, ReviewState, RiskReview, RiskScore

REJECTED = "risk_rejected"  # the cancel reason of an order a reviewer rejected (ORD-3)
HISTORY = 20  # the customer's latest orders on the review page
SIMILAR = 20  # … and other buyers' orders from its IP address, within SIMILAR_DAYS of it
SIMILAR_DAYS = 7
AUTO_CANCEL_BATCH = 100


@dataclass(frozen=True, slots=True)
class QueueItem:
    review: RiskReview
    order: Order
    score: RiskScore | None

    def late(self, now: datetime) -> bool:
        """Still open past its clock's deadline (RSK-2: the customer hears back within 2 hours)."""
        return self.review.state == ReviewState.OPEN and self.review.due_at < now


async def queue(
    session: AsyncSession, state: ReviewState | None, page: int, page_size: int
) -> tuple[list[QueueItem], int]:
    """A page of reviews in `state` (open: of orders still held), the oldest first."""
    rows, total = await repository.queue_page(session, state, (page - 1) * page_size, page_size)
    scores = await repository.scores_of_orders(session, [order.id for _, order in rows])
    return [QueueItem(review, order, scores.get(order.id)) for review, order in rows], total


@dataclass(frozen=True, slots=True)
class ReviewView:
    item: QueueItem
    scores: list[RiskScore]
    history: list[Order]  # the customer's latest orders, this one included
    similar: list[Order]  # other buyers' orders from its IP address (`repository.similar_orders`)


async def review_of(session: AsyncSession, order_id: int) -> ReviewView:
    """An order's review with its scores, its customer's order history and similar orders."""
    review = await repository.review_of(session, order_id)
    if review is None:
        raise ReviewNotFound(f"order {order_id} has no risk review")
    order = await queries.get_order(session, order_id)
    scores = await repository.scores_of(session, order_id)
    history = (
        []
        if order.customer_id is None
        else await repository.customer_orders(session, order.customer_id, HISTORY)
    )
    similar = await repository.similar_orders(session, order, SIMILAR_DAYS, SIMILAR)
    return ReviewView(QueueItem(review, order, scores[0] if scores else None), scores, history, similar)


async def order_risk(session: AsyncSession, order_id: int) -> tuple[list[RiskScore], RiskReview | None]:
    """An order's scores (with their reasons and rules' versions) and its review, if any; 404 for
    no such order."""
    await queries.get_order(session, order_id)
    return await repository.scores_of(session, order_id), await repository.review_of(session, order_id)


async def _open_review(session: AsyncSession, order_id: int) -> RiskReview:
    review = await repository.review_of(session, order_id, lock=True)
    if review is None:
        raise ReviewNotFound(f"order {order_id} has no risk review")
    return review


async def approve(session: AsyncSession, actor: Actor, order_id: int, reason: str) -> RiskReview:
    """RSK-2: the hold is released (ORD-3): an order held at intake is confirmed now (its one
    confirmation, ORD-8) and its pay clock starts; one paid during the hold is `paid`. Its review
    clock stops. A second decision is refused (409): nothing is sent or started twice. An order
    whose stock was short at intake has it reserved now, or stays held (409 out_of_stock)."""
    review = await _open_review(session, order_id)
    at = clock.now()
    before = review.decide(ReviewState.APPROVED, actor.user_id, reason, at)
    await session.flush()
    await sla.stop(session, order_subject(order_id), OrderClock.RISK_REVIEW)
    reservations = await queries.reservations(session, order_id)
    reserved = any(r.state == ReservationState.ACTIVE for r in reservations)
    await lifecycle.release(session, actor, order_id, reserve=not reserved)
    await audit.record(session, _decision_row(actor, review, before, at))
    return review


async def reject(session: AsyncSession, actor: Actor, order_id: int, reason: str) -> RiskReview:
    """RSK-2: the order is cancelled (ORD-3: a held order can always be cancelled), its stock and
    coupons released; money captured during the hold is refunded through the refund ledger by the
    payments worker's sweep (PAY-3), once. Its review clock stops."""
    review = await _open_review(session, order_id)
    at = clock.now()
    before = review.decide(ReviewState.REJECTED, actor.user_id, reason, at)
    await session.flush()
    await sla.stop(session, order_subject(order_id), OrderClock.RISK_REVIEW)
    await lifecycle.cancel(session, actor, order_id, REJECTED)
    await audit.record(session, _decision_row(actor, review, before, at))
    return review


def _decision_row(actor: Actor, review: RiskReview, before: ReviewState, at: datetime) -> dict[str, object]:
    after = {"state": review.state, "reason": review.reason}
    return audit.row(
        actor, f"risk_review.{review.state}", "risk_review", review.order_id, {"state": before}, after, at
    )


async def assign(session: AsyncSession, actor: Actor, order_id: int, assignee_id: int | None) -> RiskReview:
    """The review goes to `assignee_id` (None: to nobody); its clock is charged to them (SLA-3)."""
    review = await _open_review(session, order_id)
    if assignee_id is not None:
        await auth.get_user(session, assignee_id)
    before = review.assignee_id
    review.assignee_id = assignee_id
    await session.flush()
    await sla.set_owner(session, order_subject(order_id), assignee_id)
    row = audit.row(
        actor,
        "risk_review.assigned",
        "risk_review",
        order_id,
        {"assignee_id": before},
        {"assignee_id": assignee_id},
    )
    await audit.record(session, row)
    return review


async def cancel_rejected(session: AsyncSession) -> int:
    """RSK-1: when the policy says so (`risk.auto_cancel_rejected`), orders scored past `reject`
    are cancelled without a person (the worker's sweep); never otherwise. How many."""
    if not policy.current().risk.auto_cancel_rejected:
        return 0
    rows, _ = await repository.queue_page(session, ReviewState.OPEN, 0, AUTO_CANCEL_BATCH)
    rejected = [order.id for review, order in rows if review.decision == Decision.REJECT]
    for order_id in rejected:
        await reject(
            session, SYSTEM, order_id, "scored past the reject threshold (policy: cancelled without review)"
        )
    return len(rejected)
