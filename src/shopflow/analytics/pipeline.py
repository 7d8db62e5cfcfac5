"""The pipeline (ANA-2): how many orders, after-sales cases and tickets are in each state, how
many of them are past a clock (a running clock past its deadline, or a breached one not yet
stopped: `core.sla`'s late clocks) and which, by number, up to a cap. Imported order history is
no live work: it is left out."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales.models import Case
from shopflow.core import clock, sla
from shopflow.orders.models import Order
from shopflow.service.models import Ticket

LATE_SHOWN = 20  # the late items named per state; the count covers them all


@dataclass(slots=True)
class Stage:
    state: str
    count: int
    late: int = 0
    late_items: list[str] = field(default_factory=list)  # order and case numbers, ticket ids


# Each pipeline: its name, its model, the column holding the state, the number shown, the clocks'
# subject prefix (`order_subject`, `case_subject`, `ticket_subject`), which of its rows are live.
PIPELINES: tuple[tuple[str, Any, Any, Any, str, Any], ...] = (
    ("orders", Order, Order.status, Order.order_no, "order:", Order.imported_at.is_(None)),
    ("cases", Case, Case.state, Case.case_no, "case:", true()),
    ("tickets", Ticket, Ticket.state, Ticket.id, "ticket:", true()),
)


def _ids(subjects: set[str], prefix: str) -> list[int]:
    """The ids of subjects `prefix<id>` exactly ("case:7", not "case:RMA1:refund")."""
    tails = (s.removeprefix(prefix) for s in subjects)
    return sorted(int(t) for t in tails if t.isdigit())


async def pipeline(session: AsyncSession) -> dict[str, list[Stage]]:
    """Per pipeline, its states (most items first) with their late items."""
    now = clock.now()
    found: dict[str, list[Stage]] = {}
    for name, model, state, number, prefix, live in PIPELINES:
        counts = await session.execute(select(state, func.count()).where(live).group_by(state))
        stages = {s: Stage(s, int(n)) for s, n in counts}
        ids = _ids(await sla.late_subjects(session, now, prefix), prefix)
        late: dict[str, list[str]] = defaultdict(list)
        if ids:
            rows = await session.execute(select(state, number).where(model.id.in_(ids)).order_by(model.id))
            for s, shown in rows:
                late[s].append(str(shown))
        for s, items in late.items():
            stages[s].late = len(items)
            stages[s].late_items = items[:LATE_SHOWN]
        found[name] = sorted(stages.values(), key=lambda g: (-g.count, g.state))
    return found
