"""The demo's traffic counts (CRM-5): 60 days of visitors and inquiries on the web store and one
marketplace (the first the policy adds, else the marketplace orders' `import` channel), busier at
weekends, so the funnel shows its drop-offs from visitors to repeat buyers."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics import service
from shopflow.analytics.schemas import TrafficIn
from shopflow.core import policy
from shopflow.core.audit import Actor
from shopflow.core.policy import BUILT_IN_CHANNELS

DAYS = 60
ACTOR = Actor(user_id=None, name="import:traffic-demo.csv", role="system")
# channel -> (visitors on a weekday, from, to), (inquiries per visitor, from, to)
SHAPES = {"web": ((800, 1400), (0.05, 0.09)), "marketplace": ((300, 650), (0.08, 0.13))}


def marketplace() -> str:
    channels = policy.current().orders.channels
    return next((c for c in channels if c not in BUILT_IN_CHANNELS), "import")


async def count_days(session: AsyncSession, rng: random.Random, today: date) -> int:
    """The last DAYS days' counts of both channels; how many rows."""
    rows = []
    for back in range(DAYS):
        day = today - timedelta(days=back)
        busy = 1.3 if day.weekday() >= 5 else 1.0
        for channel, ((low, high), (least, most)) in (
            ("web", SHAPES["web"]),
            (marketplace(), SHAPES["marketplace"]),
        ):
            visitors = int(rng.randint(low, high) * busy)
            inquiries = int(visitors * rng.uniform(least, most))
            rows.append(TrafficIn(date=day, channel=channel, visitors=visitors, inquiries=inquiries))
    return await service.record_traffic(session, ACTOR, rows)
