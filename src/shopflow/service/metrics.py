"""The agents' month (STF-2's data, STF-3's flag): per agent, the tickets handled, first
responses and their breaches, the response-timeout rate (response clocks breached ÷ response
clocks that ended in the month, each charged to the clock's owner — the assignee — at its
deadline), the resolution and 24-hour resolution rates, and the mean satisfaction of the ticket
surveys of tickets they resolved; agents above `staff.response_timeout_rate_percent` flagged.
Months are the store's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, policy
from shopflow.core.errors import FieldError, Invalid
from shopflow.core.roles import Role
from shopflow.service import care_repository as repository
from shopflow.service import repository as tickets
from shopflow.service.care_repository import AgentCounts

MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True, slots=True)
class AgentMonth:
    user_id: int
    username: str
    counts: AgentCounts
    timeout_rate: float | None
    resolution_rate: float | None
    resolution_24h_rate: float | None
    satisfaction: float | None
    flagged: bool


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def parse_month(text: str | None) -> date:
    """`YYYY-MM` as its first day; the store's current month when not given (422 otherwise)."""
    if text is None:
        return clock.today().replace(day=1)
    found = MONTH.fullmatch(text)
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 1970:
        raise Invalid("month must be YYYY-MM", errors=[FieldError("month", "must be YYYY-MM, e.g. 2026-11")])
    return date(int(found.group(1)), int(found.group(2)), 1)


def month_bounds(first: date) -> tuple[datetime, datetime]:
    """The month's start and end (the next month's start) as UTC instants, in the store's zone."""
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return clock.local_midnight(first).astimezone(UTC), clock.local_midnight(following).astimezone(UTC)


def judge(counts: AgentCounts, limit_percent: float) -> tuple[float | None, bool]:
    """The response-timeout rate and whether it is above the limit (STF-3)."""
    rate = _ratio(counts.breaches, counts.ended)
    return rate, rate is not None and rate * 100 > limit_percent


async def agent_month(session: AsyncSession, month: str | None) -> tuple[date, list[AgentMonth]]:
    """Every customer-service agent's month (with zeros when they did nothing), and anyone else
    who held tickets or clocks in it; by username."""
    first = parse_month(month)
    start, end = month_bounds(first)
    found = await repository.agent_month(session, start, end)
    for agent in await tickets.staff(session, Role.CUSTOMER_SERVICE):
        found.setdefault(agent.id, AgentCounts())
    names = await tickets.usernames(session, found.keys())
    limit = policy.current().staff.response_timeout_rate_percent
    rows = []
    for user_id, counts in found.items():
        rate, flagged = judge(counts, limit)
        rows.append(
            AgentMonth(
                user_id=user_id,
                username=names.get(user_id, str(user_id)),
                counts=counts,
                timeout_rate=rate,
                resolution_rate=_ratio(counts.resolved, counts.handled),
                resolution_24h_rate=_ratio(counts.resolved_in_time, counts.handled),
                satisfaction=None if counts.scores == 0 else round(counts.score_sum / counts.scores, 2),
                flagged=flagged,
            )
        )
    return first, sorted(rows, key=lambda row: row.username)
