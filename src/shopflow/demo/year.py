"""The demo's year of history before its weeks of trading (issue 15): finished orders written by
the history writer, as an import of the store's own past would be, so every chart of the
dashboard has a year to draw. Busier at weekends, on 618 and on Double 11 and 12, quiet over the
Spring Festival, growing through the year; a third of the orders by customers who came back;
a few cancelled before payment. History starts no clock and tells no customer anything."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics.importing.records import Capture, HistoricalLine, HistoricalOrder, Identity
from shopflow.analytics.importing.writer import write
from shopflow.core import clock
from shopflow.core.audit import SYSTEM
from shopflow.demo.store import Sku, customer
from shopflow.orders.models import OrderStatus

DAYS = 365
PER_DAY = 6  # orders on an ordinary weekday at the start of the year; twice that by its end
BATCH = 500  # orders per write
REPEAT = 0.35  # the share of orders by a customer who bought before
CANCELLED = 0.05  # the share cancelled before payment (they never count)
FREE_SHIPPING = 9900  # fen: orders below it paid 10.00 shipping
SHIPPING = 1000
CHANNELS = ("web", "web", "web", "manual", "import", "import")
METHODS = ("alipay", "alipay", "wechat", "wechat", "card")
# (month, day) -> how much busier than usual: the shopping festivals and their run-ups.
FESTIVALS = {(6, 16): 2.0, (6, 17): 2.5, (6, 18): 4.0, (11, 10): 3.0, (11, 11): 6.0, (11, 12): 2.0}
FESTIVALS |= {(11, d): 1.5 for d in range(1, 10)} | {(12, 12): 3.0}


def _busy(day: date, index: int) -> float:
    """How many orders `day` (the index-th of the year) expects."""
    weekend = 1.3 if day.weekday() >= 5 else 1.0
    spring_festival = 0.4 if (day.month, day.day) >= (1, 25) and (day.month, day.day) <= (2, 10) else 1.0
    growth = 1 + index / DAYS
    return PER_DAY * weekend * spring_festival * growth * FESTIVALS.get((day.month, day.day), 1.0)


def _placed(rng: random.Random, day: date) -> datetime:
    """A store-local time of `day`, mostly in the evening, as UTC."""
    hour = min(23, max(0, round(rng.gauss(20, 3.5))))
    local = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), clock.store_zone())
    return local.astimezone(UTC)


def orders(
    rng: random.Random, first: date, skus: list[Sku], days: int = DAYS
) -> Iterator[tuple[int, HistoricalOrder]]:
    """The orders of `days` days from `first`, in time order, each with the day's index."""
    regulars: list[Identity] = []
    number = 0
    for index in range(days):
        day = first + timedelta(days=index)
        expected = _busy(day, index)
        for placed in sorted(_placed(rng, day) for _ in range(round(rng.gauss(expected, expected**0.5)))):
            number += 1
            if regulars and rng.random() < REPEAT:
                who = rng.choice(regulars)
            else:
                contact, _ = customer(rng)
                who = Identity("demo", None, contact.name, contact.phone, str(contact.email))
                regulars.append(who)
            yield index, _order(rng, f"Y{day:%Y%m%d}{number:05d}", placed, who, skus)


def _order(
    rng: random.Random, number: str, placed: datetime, who: Identity, skus: list[Sku]
) -> HistoricalOrder:
    lines = tuple(
        HistoricalLine(sku.code, sku.name, rng.choice((1, 1, 1, 2)), sku.price, unit_cost=sku.cost)
        for sku in rng.sample(skus, rng.choice((1, 1, 1, 2, 2, 3)))
    )
    subtotal = sum(line.unit_price * line.quantity for line in lines)
    shipping = 0 if subtotal >= FREE_SHIPPING else SHIPPING
    channel = rng.choice(CHANNELS)
    if rng.random() < CANCELLED:
        return HistoricalOrder(
            channel,
            number,
            OrderStatus.CANCELLED,
            placed,
            0,
            lines,
            customer=who,
            shipping=shipping,
            cancelled_at=placed + timedelta(minutes=rng.uniform(5, 30)),
        )
    paid = placed + timedelta(minutes=rng.uniform(1, 20))
    shipped = paid + timedelta(hours=rng.uniform(2, 30))
    delivered = shipped + timedelta(hours=rng.uniform(24, 72))
    return HistoricalOrder(
        channel,
        number,
        OrderStatus.COMPLETED,
        placed,
        0,
        lines,
        (Capture(subtotal + shipping, rng.choice(METHODS), paid),),
        who,
        shipping=shipping,
        shipped_at=shipped,
        delivered_at=delivered,
        completed_at=delivered + timedelta(days=rng.uniform(1, 10)),
    )


async def write_year(
    session: AsyncSession,
    rng: random.Random,
    ends: date,
    skus: list[Sku],
    advance: Callable[[int], None],
    days: int = DAYS,
) -> int:
    """Write `days` of history ending the day before `ends`; `advance` is told how many days are
    written after each batch. How many orders were written."""
    written = 0
    batch: list[HistoricalOrder] = []
    for index, order in orders(rng, ends - timedelta(days=days), skus, days):
        batch.append(order)
        if len(batch) == BATCH:
            written += (await write(session, SYSTEM, batch)).loaded
            advance(index)
            batch = []
    written += (await write(session, SYSTEM, batch)).loaded if batch else 0
    advance(days)
    return written
