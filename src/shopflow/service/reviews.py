"""Reviews (SVC-7, ANA-3): a review from a review site or a marketplace is kept; a negative one
(rated at most the policy's, or holding a negative keyword) opens a `negative_review` ticket on
its 1-hour clock and raises one alert. The CSV import's parsing is here too (pure)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid, NotFound, pydantic_message
from shopflow.orders.service import queries as orders
from shopflow.service import service
from shopflow.service.models import Priority, Review, TicketType, is_negative, ticket_subject
from shopflow.service.schemas import ReviewIn, TicketIn

NEGATIVE_ALERT = "review.negative"
COLUMNS = ("channel", "order_no", "rating", "text")


async def submit(session: AsyncSession, actor: Actor, data: ReviewIn) -> Review:
    """Keep the review (its text sealed, never audited); a negative one opens its ticket (high
    priority, linked to the order) and raises the alert `review.negative` on that ticket."""
    order_id = None
    if data.order_no is not None:
        try:
            order_id = (await orders.get_by_number(session, data.order_no)).id
        except NotFound:
            raise Invalid("no such order", errors=[FieldError("order_no", "no such order")]) from None
    negative = is_negative(data.rating, data.text, policy.current().service)
    ticket = None
    if negative:
        opened = TicketIn(
            type=TicketType.NEGATIVE_REVIEW,
            channel=data.channel,
            subject=f"{data.rating}★ {data.text[:80]}",
            priority=Priority.HIGH,
            order_id=order_id,
            body=data.text,
        )
        ticket = await service.create_ticket(session, actor, opened)
    at = clock.now()
    review = Review(
        channel=data.channel,
        order_id=order_id,
        rating=data.rating,
        content={"text": data.text},
        negative=negative,
        ticket_id=None if ticket is None else ticket.id,
        created_by=actor.user_id,
        created_at=at,
    )
    session.add(review)
    await session.flush()
    after = {
        "rating": review.rating,
        "negative": negative,
        "order_id": order_id,
        "ticket_id": review.ticket_id,
    }
    audit.queue(session, audit.row(actor, "review.received", "review", review.id, None, after, at))
    if ticket is not None:
        message = f"a {data.rating}-star review on {data.channel} opened ticket {ticket.id}"
        found = alerts.row(NEGATIVE_ALERT, ticket_subject(ticket.id), message, f"review:{review.id}:negative")
        await alerts.raise_many(session, [found])
    await session.flush()
    return review


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str


def parse(text: str) -> tuple[list[tuple[int, ReviewIn]], list[RowError]]:
    """The rows of a CSV with the header `channel,order_no,rating,text` (order_no may be empty):
    the good ones with their line, and each bad one's line and reason naming its field."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], [RowError(1, f"the header lacks {', '.join(missing)}")]
    rows: list[tuple[int, ReviewIn]] = []
    errors: list[RowError] = []
    for record in reader:
        line = reader.line_num
        values = {key: (record.get(key) or "").strip() or None for key in COLUMNS}
        try:
            rows.append((line, ReviewIn.model_validate(values)))
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {pydantic_message(e)}" for e in exc.errors())
            errors.append(RowError(line, reason))
    return rows, errors
