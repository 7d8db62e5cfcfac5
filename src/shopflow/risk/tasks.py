"""What the worker does for risk: velocity counters past every window deleted (RSK-1), and, only
when the policy says so, orders scored past `reject` cancelled without a person."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock
from shopflow.risk import repository
from shopflow.risk.service import reviews

# Longer than any window a rule may have (its parameters allow 1,440 minutes).
COUNTERS_KEPT = timedelta(days=1, minutes=1)


async def prune_counters(session: AsyncSession) -> int:
    return await repository.delete_counters_before(session, clock.now() - COUNTERS_KEPT)


async def cancel_rejected(session: AsyncSession) -> int:
    return await reviews.cancel_rejected(session)
