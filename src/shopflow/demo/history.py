"""The demo's weeks of trading replayed in time order through the real use cases, under a
simulated clock: intake, the sandbox gateway's callbacks, waves, packing, checks, shipping, the
carriers' signed pushes, confirmations of receipt, and the worker's SLA sweep. Every row carries
the time its step happened; every clock started, met or breached as it would have been."""

from __future__ import annotations

import heapq
import itertools
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow import worker
from shopflow.core import clock, money
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.db import Database
from shopflow.demo import coupons
from shopflow.demo.plan import PUSH_EVERY, Fate, minutes
from shopflow.demo.store import Store, customer
from shopflow.fulfillment.models.shipments import TrackingStatus
from shopflow.fulfillment.schemas import CheckIn, PackIn, ShipIn, TaskOut
from shopflow.fulfillment.service import packing, shipping, tracking, waves
from shopflow.orders.models import HOLDABLE, HoldReason, OrderStatus
from shopflow.orders.schemas import AddressIn, CustomerIn, LineIn, OrderIn
from shopflow.orders.service import intake, lifecycle, queries
from shopflow.payments import service as payments
from shopflow.payments.schemas import CallbackIn

Action = Callable[[AsyncSession], Awaitable[None]]
BATCH = 40  # steps per transaction: the history is one writer, so fewer commits load it faster

WAREHOUSE = Actor(user_id=None, name="warehouse", role="warehouse")
SERVICE = Actor(user_id=None, name="customer_service", role="customer_service")
CUSTOMER = Actor(user_id=None, name="customer", role="customer")
PACKAGING_G = 150
RETURNING_SHARE = 0.3  # of the orders, placed by someone who bought before
RETURNING_SEED = 13
CANCEL_REASONS = ("不想要了", "重复下单", "尺码拍错了")  # what customers write
QC_FAILURE = "外箱压损，重新打包"


@dataclass(frozen=True, slots=True)
class CarrierEvent:
    """A tracking event its carrier will push."""

    waybill: str
    status: TrackingStatus
    happened: datetime
    order_id: int
    fate: Fate


class Replay:
    """A queue of steps by simulated time; a step may add later steps (an order's payment, once
    it exists; a parcel's tracking events, once it has shipped). Steps due at or after `end`
    have not happened yet and are dropped."""

    def __init__(self, rng: random.Random, store: Store, end: datetime) -> None:
        self.rng = rng
        self.store = store
        self.end = end
        self.weights = {sku.code: sku.weight_g for sku in store.skus}
        self.fates: dict[int, Fate] = {}
        self._pushes: dict[tuple[str, datetime], list[CarrierEvent]] = {}
        self._queue: list[tuple[datetime, int, Action]] = []
        self._order = itertools.count()
        # Returning buyers (CRM-1): their own generator, so the rest of the history stays the same.
        self.buyers: list[tuple[CustomerIn, AddressIn]] = []
        self.returning = random.Random(RETURNING_SEED)
        self.coupons = random.Random(coupons.SEED)  # LOY-4: which web orders name a coupon

    def at(self, when: datetime, action: Action) -> None:
        if when < self.end:
            heapq.heappush(self._queue, (when, next(self._order), action))

    async def run(self, db: Database, start: datetime, reached: Callable[[datetime], None]) -> None:
        """Take the steps in time order, `BATCH` a transaction, telling `reached` the simulated time."""
        simulated = clock.FakeClock(start)
        with clock.use(simulated):
            while self._queue:
                async with db.transaction() as session:
                    for _ in range(min(BATCH, len(self._queue))):
                        simulated.current, _, action = heapq.heappop(self._queue)
                        await action(session)
                reached(simulated.current)

    # --- orders ---------------------------------------------------------------------------------

    def place(self, fate: Fate) -> Action:
        async def step(session: AsyncSession) -> None:
            contact, address = customer(self.rng)
            if self.buyers and self.returning.random() < RETURNING_SHARE:
                contact, address = self.returning.choice(self.buyers)
            else:
                self.buyers.append((contact, address))
            ip = ".".join(str(self.rng.randint(1, 254)) for _ in range(3))
            imported = fate.channel == "import"
            data = OrderIn(
                channel=fate.channel,
                channel_order_no=uuid.UUID(int=self.rng.getrandbits(128)).hex[:16] if imported else None,
                customer=contact,
                shipping_address=address,
                lines=[LineIn(sku=s.code, quantity=q, unit_price=money.fmt(s.price)) for s, q in fate.lines],
                buyer_ip=f"10.{ip}",
                coupons=coupons.named(self.coupons, fate),
            )
            order = (await intake.place_order(session, SYSTEM, data, None)).order
            if order.status != OrderStatus.CONFIRMED:
                return  # held for stock (ORD-4)
            self.fates[order.id] = fate
            if fate.pay_after is not None:
                self.at(fate.placed + fate.pay_after, self.pay(order.id))
            if fate.cancel_after is not None:
                self.at(fate.placed + fate.cancel_after, self.cancel(order.id))
            if fate.hold is not None:
                self.at(fate.placed + fate.hold_after, self.hold(order.id, fate.hold))
                if fate.release_after is not None:
                    self.at(fate.placed + fate.release_after, self.release(order.id))

        return step

    def pay(self, order_id: int) -> Action:
        async def step(session: AsyncSession) -> None:
            method = self.rng.choice(("alipay", "alipay", "wechat", "wechat", "card"))
            payment = await payments.start_payment(session, SYSTEM, order_id, method)
            callback = CallbackIn(
                event_id=uuid.UUID(int=self.rng.getrandbits(128)).hex,
                payment_id=payment.id,
                outcome="success",
                amount=money.fmt(payment.amount),
                occurred_at=clock.now(),
            )
            await payments.apply_callback(session, "sandbox", callback)

        return step

    def cancel(self, order_id: int) -> Action:
        """The customer cancels; too late once picking has begun (ORD-3)."""

        async def step(session: AsyncSession) -> None:
            if (await queries.get_order(session, order_id)).can_move_to(OrderStatus.CANCELLED):
                await lifecycle.cancel(session, SERVICE, order_id, self.rng.choice(CANCEL_REASONS))

        return step

    def hold(self, order_id: int, reason: HoldReason) -> Action:
        async def step(session: AsyncSession) -> None:
            if (await queries.get_order(session, order_id)).status in HOLDABLE:
                await lifecycle.hold(session, SERVICE, order_id, reason)

        return step

    def release(self, order_id: int) -> Action:
        async def step(session: AsyncSession) -> None:
            if (await queries.get_order(session, order_id)).status == OrderStatus.ON_HOLD:
                await lifecycle.release(session, SERVICE, order_id)

        return step

    def confirm(self, order_id: int) -> Action:
        async def step(session: AsyncSession) -> None:
            if (await queries.get_order(session, order_id)).status == OrderStatus.DELIVERED:
                await lifecycle.complete(session, CUSTOMER, order_id)

        return step

    # --- the warehouse --------------------------------------------------------------------------

    async def wave(self, session: AsyncSession) -> None:
        """FUL-1: every paid order into a wave; each parcel's steps follow its order's fate."""
        built = clock.now()
        for wave in await waves.build_waves(session, WAREHOUSE):
            for task in (await waves.wave_detail(session, wave.id)).tasks:
                fate = self.fates[task.order_id]
                self.at(built + fate.pack_after + minutes(self.rng.uniform(0, 10)), self.pack(task, fate))

    def pack(self, task: TaskOut, fate: Fate, checked_before: bool = False) -> Action:
        async def step(session: AsyncSession) -> None:
            weight = PACKAGING_G + sum(self.weights[line.sku_code] * line.quantity for line in task.lines)
            box = "纸箱 S" if weight < 1000 else "纸箱 M" if weight < 3000 else "纸箱 L"
            await packing.pack(
                session, WAREHOUSE, task.id, PackIn(weight_g=weight, materials=[box, "气泡膜"])
            )
            self.at(clock.now() + fate.check_after, self.check(task, fate, checked_before))

        return step

    def check(self, task: TaskOut, fate: Fate, checked_before: bool) -> Action:
        """FUL-2: a parcel the fate sends back is repacked, and passes the second time."""

        async def step(session: AsyncSession) -> None:
            if fate.repack_after is not None and not checked_before:
                await packing.check(session, WAREHOUSE, task.id, CheckIn(passed=False, reason=QC_FAILURE))
                self.at(clock.now() + fate.repack_after, self.pack(task, fate, checked_before=True))
                return
            await packing.check(session, WAREHOUSE, task.id, CheckIn(passed=True))
            self.at(clock.now() + fate.ship_after, self.ship(task, fate))

        return step

    def ship(self, task: TaskOut, fate: Fate) -> Action:
        """FUL-4; the parcel's tracking events go into its carrier's pushes (FUL-5)."""

        async def step(session: AsyncSession) -> None:
            shipment = await shipping.ship(session, WAREHOUSE, task.id, ShipIn())
            code = self.store.carriers[shipment.carrier_id]
            for after, status in fate.track:
                happened = shipment.shipped_at + after
                self._report(code, CarrierEvent(shipment.tracking_no, status, happened, task.order_id, fate))

        return step

    def _report(self, code: str, event: CarrierEvent) -> None:
        """The carrier sends what happened since its last push every PUSH_EVERY."""
        push_at = self.end - PUSH_EVERY * ((self.end - event.happened) // PUSH_EVERY)
        if (code, push_at) not in self._pushes:
            self._pushes[(code, push_at)] = []
            self.at(push_at, self.push(code, push_at))
        self._pushes[(code, push_at)].append(event)

    def push(self, code: str, push_at: datetime) -> Action:
        """FUL-5: a carrier's signed push; a customer confirms receipt some time after delivery."""

        async def step(session: AsyncSession) -> None:
            reported = self._pushes.pop((code, push_at))
            events = [
                {"waybill": e.waybill, "status": e.status, "time": e.happened.isoformat()} for e in reported
            ]
            body = json.dumps({"events": events}).encode()
            signature = tracking.sign(body, self.store.push_secrets[code])
            await tracking.receive_push(session, code, body, signature)
            for e in reported:
                if e.status is TrackingStatus.DELIVERED and e.fate.confirm_after is not None:
                    self.at(push_at + e.fate.confirm_after, self.confirm(e.order_id))

        return step

    # --- the worker -----------------------------------------------------------------------------

    async def sweep(self, session: AsyncSession) -> None:
        """The worker's SLA sweep (SLA-2): receipt assumed and orders closed when their time comes."""
        await worker.sla_breaches(session)


def every(first: datetime, last: datetime, step: timedelta) -> list[datetime]:
    """`last`, and every `step` before it down to `first`."""
    count = int((last - first) / step)
    return [last - step * k for k in range(count + 1)]
