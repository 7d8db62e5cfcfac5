"""What happens to each demo order and when: a pure plan, replayed by `history` through the real
use cases under a simulated clock.

Four weeks of trading end at `now`. The warehouse builds a wave every four hours; the worker's
SLA sweep runs every two hours of the history but its last `QUIET_END`, so the clocks the demo
means to be late (`late`) pass their deadline after the last simulated sweep, show late, and are
alerted by the first real sweep. Every other delay is bounded well inside its clock (ORD-5..7,
FUL-6), so the bulk of the orders meets every deadline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from shopflow.core import policy
from shopflow.demo.store import SCARCE_UNITS, WAREHOUSES, Sku
from shopflow.fulfillment.models.shipments import TrackingStatus
from shopflow.orders.models import HoldReason

HISTORY = timedelta(days=28)
WAVE_EVERY = timedelta(hours=4)
LAST_WAVE = timedelta(minutes=100)  # before now
SWEEP_EVERY = timedelta(hours=2)
PUSH_EVERY = timedelta(hours=2)  # each carrier pushes what happened since its last push
QUIET_END = timedelta(hours=12)  # the last simulated sweep runs this long before now
NEVER = timedelta(days=3650)  # a step that has not happened by now
CASES_BEFORE = timedelta(hours=1)  # the after-sales desk's cases are opened this long before now
MIN_ORDERS = 21  # the tail: an order in every state and the late handful
# What the first real sweep raises: two ship clocks, one delivery clock, a stuck parcel's no-event
# clock and the exception case it opens (the damaged parcel's case is opened, and alerted, during
# the load), the scarce SKU below its safety stock (INV-4), and the order held for risk review three
# hours ago (RSK-2, `demo.risk`).
FIRST_SWEEP_ALERTS = 7

QUICK = timedelta(minutes=5)  # a tail order's payment, hold or check
STEP = timedelta(minutes=30)  # a tail parcel's packing or shipping
T = TrackingStatus
CHANNELS = ("web", "web", "web", "web", "web", "web", "web", "manual", "import", "import")
# When a carrier reports a parcel's events, after shipping: a journey of one to two days.
JOURNEY = (
    (T.PICKED_UP, 1, 4),
    (T.IN_TRANSIT, 6, 14),
    (T.AT_HUB, 18, 30),
    (T.OUT_FOR_DELIVERY, 30, 44),
    (T.DELIVERED, 45, 50),
)
HUB_REPORTED = 0.5  # the share of parcels whose carrier reports the hub


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


@dataclass(frozen=True, slots=True)
class Fate:
    """One order's life. Times of payment, cancellation and hold are after placing; picking
    starts with the first wave after payment; packing is after the wave, the check after packing,
    shipping after the check, tracking events after shipping, the customer's confirmation after
    delivery. A step planned after `now` has not happened."""

    placed: datetime
    lines: tuple[tuple[Sku, int], ...]
    channel: str = "web"
    pay_after: timedelta | None = QUICK
    cancel_after: timedelta | None = None  # by the customer, while the order may still be cancelled
    hold: HoldReason | None = None
    hold_after: timedelta = QUICK
    release_after: timedelta | None = None  # after placing; None: still held
    pack_after: timedelta = STEP
    repack_after: timedelta | None = None  # after a failed check; None: the check passes
    check_after: timedelta = QUICK
    ship_after: timedelta = STEP
    track: tuple[tuple[timedelta, TrackingStatus], ...] = ()
    confirm_after: timedelta | None = None  # None: receipt is assumed by the worker (ORD-7)


def journey(rng: random.Random, until: TrackingStatus = T.DELIVERED) -> tuple[tuple[timedelta, T], ...]:
    """A parcel's events up to `until`, paced to the delivery promise and the stuck parcel's
    silence (ORD-6, FUL-6; JOURNEY is for their defaults, 72 h and 48 h)."""
    rules = policy.current()
    pace = min(rules.orders.deliver_within_hours / 72, rules.fulfillment.stuck_without_event_hours / 48)
    steps = []
    for status, low, high in JOURNEY:
        if status is not T.AT_HUB or until is T.AT_HUB or rng.random() < HUB_REPORTED:
            steps.append((hours(rng.uniform(low, high) * pace), status))
        if status is until:
            break
    return tuple(steps)


def _busy_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A time in [start, end), mostly in the day: the shop sells less at night (UTC+8)."""
    span = (end - start).total_seconds()
    while True:
        at = start + timedelta(seconds=rng.uniform(0, span))
        if rng.random() < (0.15 if (at.hour + 8) % 24 < 8 else 1.0):
            return at


def _one(rng: random.Random, skus: list[Sku]) -> tuple[tuple[Sku, int], ...]:
    return ((rng.choice(skus), 1),)


def _lines(rng: random.Random, skus: list[Sku], scarce: Sku) -> tuple[tuple[Sku, int], ...]:
    picked = rng.sample(skus, k=rng.choice([1, 1, 1, 2, 2, 3]))
    lines = [(sku, rng.choice([1, 1, 1, 2, 3])) for sku in picked]
    if rng.random() < 0.005:
        lines.append((scarce, 1))
    return tuple(lines)


def bulk(rng: random.Random, placed: datetime, skus: list[Sku], scarce: Sku) -> Fate:
    """An ordinary order: paid within minutes (a few cancelled before or soon after), picked in the
    next wave, packed and shipped within hours, delivered in two days, receipt confirmed by some."""
    rules = policy.current().orders
    pay_window = minutes(rules.unpaid_cancel_minutes)
    lines = _lines(rng, skus, scarce)
    channel = rng.choice(CHANNELS)
    roll = rng.random()
    if roll < 0.06:
        return Fate(placed, lines, channel, pay_after=None, cancel_after=pay_window * rng.uniform(0.1, 0.8))
    pay = pay_window * rng.uniform(0.03, 0.66)
    return Fate(
        placed,
        lines,
        channel,
        pay_after=pay,
        cancel_after=pay + minutes(rng.uniform(5, 60)) if roll < 0.08 else None,
        hold=HoldReason.MANUAL if 0.08 <= roll < 0.09 else None,
        hold_after=pay + minutes(rng.uniform(2, 30)),
        release_after=pay + hours(rng.uniform(1, 8)),
        pack_after=minutes(rng.uniform(15, 180)),
        repack_after=minutes(rng.uniform(20, 60)) if rng.random() < 0.03 else None,
        check_after=minutes(rng.uniform(5, 40)),
        ship_after=minutes(rng.uniform(10, 120)),
        track=journey(rng),
        confirm_after=days(rules.auto_receipt_days * rng.uniform(0.01, 0.7)) if rng.random() < 0.45 else None,
    )


def tail(rng: random.Random, now: datetime, skus: list[Sku], scarce: Sku) -> list[Fate]:
    """The last days, the same whatever the number of orders: an order in every state and the
    handful that is late (`FIRST_SWEEP_ALERTS`)."""
    rules = policy.current()
    pay_window = minutes(rules.orders.unpaid_cancel_minutes)
    receipt = days(rules.orders.auto_receipt_days)
    aftersales = days(max(rules.aftersales.no_reason_return_days, rules.aftersales.quality_return_days))
    w0 = now - LAST_WAVE
    w1, w2 = w0 - WAVE_EVERY, w0 - 2 * WAVE_EVERY

    def one() -> tuple[tuple[Sku, int], ...]:
        return _one(rng, skus)

    short = (*one(), (scarce, SCARCE_UNITS * len(WAREHOUSES) + 1))
    return [
        Fate(now - pay_window * 0.15, one(), pay_after=None),  # confirmed, its pay clock running
        Fate(now - pay_window * 0.55, one(), "manual", pay_after=None),
        Fate(w0 + minutes(15), one(), pay_after=minutes(8)),  # paid, waiting for the next wave
        Fate(w0 - minutes(60), one(), pack_after=NEVER),  # picking
        Fate(w0 - minutes(75), one(), pack_after=minutes(35), check_after=NEVER),  # packed
        Fate(w0 - minutes(90), one(), pack_after=minutes(25), ship_after=NEVER),  # packed, checked
        Fate(w1 - minutes(50), one(), pack_after=minutes(40), track=journey(rng, T.PICKED_UP)),  # shipped
        Fate(now - hours(34), one(), "import", track=journey(rng, T.AT_HUB)),  # in transit
        Fate(now - hours(72), one(), track=journey(rng)),  # delivered, receipt clock running
        Fate(
            now - hours(72) - receipt / 2, one(), track=journey(rng), confirm_after=receipt / 4
        ),  # completed
        Fate(now - hours(84) - receipt, one(), track=journey(rng)),  # completed: receipt assumed (ORD-7)
        Fate(now - hours(84) - aftersales, one(), track=journey(rng)),  # closed after the after-sales window
        Fate(now - hours(48), one(), pay_after=None, cancel_after=minutes(12)),  # cancelled unpaid
        Fate(w2 + minutes(10), one(), cancel_after=minutes(45)),  # cancelled after payment: refund
        Fate(now - hours(20), short),  # on hold: more of the scarce SKU than the store holds
        Fate(w1 + minutes(10), one(), hold=HoldReason.MANUAL, hold_after=minutes(15)),  # on hold
        *late(rng, now, skus),
    ]


def late(rng: random.Random, now: datetime, skus: list[Sku]) -> list[Fate]:
    """The realistic handful, each deadline passing in the last `QUIET_END` before now: two
    orders not shipped in time after payment (one sent back to picking by its check), a parcel
    out for delivery past its promise (ORD-6), a parcel without news for too long (FUL-6); and a
    parcel reported damaged hours ago, its case open."""
    rules = policy.current()
    ship = hours(rules.orders.ship_within_hours)
    deliver = hours(rules.orders.deliver_within_hours)
    quiet = hours(rules.fulfillment.stuck_without_event_hours)

    def one() -> tuple[tuple[Sku, int], ...]:
        return _one(rng, skus)

    # Out for delivery ten hours before the promise ends, news at every sorting centre before.
    out = deliver - hours(10)
    centres = int((out - hours(10)) / (quiet / 2)) + 1
    overdue = (
        (hours(2), T.PICKED_UP),
        *((hours(10) + quiet / 2 * n, T.IN_TRANSIT) for n in range(centres)),
        (out, T.OUT_FOR_DELIVERY),
    )
    damaged = ((hours(2), T.PICKED_UP), (hours(8), T.IN_TRANSIT), (hours(27), T.DAMAGED))
    return [
        Fate(now - ship - hours(3), one(), pack_after=NEVER),
        Fate(now - ship - hours(7), one(), pack_after=minutes(40), repack_after=NEVER),
        Fate(now - deliver - hours(8), one(), track=overdue),
        Fate(now - quiet - hours(15), one(), track=((hours(3), T.PICKED_UP),)),
        Fate(now - hours(36), one(), track=damaged),
    ]


def plan(rng: random.Random, count: int, now: datetime, skus: list[Sku], scarce: Sku) -> list[Fate]:
    """`count` orders (at least MIN_ORDERS): the tail, and the rest spread over the history."""
    last = tail(rng, now, skus, scarce)
    assert len(last) == MIN_ORDERS
    start, end = now - HISTORY, now - minutes(35)
    placed = sorted(_busy_moment(rng, start, end) for _ in range(count - len(last)))
    return [bulk(rng, at, skus, scarce) for at in placed] + last
