"""The demo's purchasing desk (INV-4, INV-5, ANA-5), opened when the weeks of trading are over:
two suppliers selling every SKU, the night's forecast made from the year of orders, the orders
held for the scarce SKU put on a purchase order (their customers told when they ship), and
purchase orders in every state: one in draft, one submitted, one confirmed, one received in part,
one received, one cancelled. The replenishment board keeps its suggestions, for a newcomer to
turn into a purchase order in one click."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, money
from shopflow.core.audit import Actor
from shopflow.demo.store import Store
from shopflow.planning.schemas import (
    ConfirmIn,
    PoLineIn,
    PoReceiptIn,
    PoReceiptLineIn,
    PurchaseOrderIn,
    SupplierIn,
    SupplierItemIn,
)
from shopflow.planning.service import forecasts, purchasing, replenishment

BUYER = Actor(user_id=None, name="buyer", role="purchasing")
SUPPLIERS = (("SUP-HD", "华东日用品有限公司"), ("SUP-GZ", "广州家居供应链"))


async def open_desk(session: AsyncSession, rng: random.Random, store: Store, now: datetime) -> None:
    """The suppliers, the forecast, the shortage's order and the orders of the docstring."""
    with clock.use(clock.FakeClock(now)):
        for n, (code, name) in enumerate(SUPPLIERS):
            items = [
                SupplierItemIn(
                    sku=sku.code,
                    lead_time_days=rng.randint(3, 10),
                    pack_size=rng.choice((1, 6, 12, 24)),
                    moq=rng.choice((12, 24, 48)),
                    unit_cost=money.fmt(sku.cost),
                )
                for sku in store.skus[n::2]
            ]
            await purchasing.create_supplier(session, BUYER, SupplierIn(code=code, name=name, items=items))
        await forecasts.nightly(session)
        await replenishment.request_for_shortages(session)
        plentiful = store.plentiful[1::2]  # what SUP-GZ sells, the scarce SKU left out
        made = []
        for lines in ([0, 1], [2], [3, 4], [1, 3], [0], [4]):
            body = PurchaseOrderIn(
                supplier=SUPPLIERS[1][0],
                warehouse="SH01",
                lines=[PoLineIn(sku=plentiful[i].code, quantity=48) for i in lines],
                expected_on=clock.today() + timedelta(days=rng.randint(2, 9)),
            )
            made.append((await purchasing.create_po(session, BUYER, body)).id)
        submitted, confirmed, partial, received, cancelled, _draft = made
        for po_id in (submitted, confirmed, partial, received):
            await purchasing.submit(session, BUYER, po_id)
        for po_id in (confirmed, partial, received):
            await purchasing.confirm(session, BUYER, po_id, ConfirmIn())
        first = plentiful[3].code
        delivery = PoReceiptIn(reference="DN-1", lines=[PoReceiptLineIn(sku=first, quantity=24)])
        await purchasing.receive(session, BUYER, partial, delivery)
        whole = [PoReceiptLineIn(sku=plentiful[i].code, quantity=48) for i in (1, 3)]
        await purchasing.receive(session, BUYER, received, PoReceiptIn(reference="DN-2", lines=whole))
        await purchasing.cancel(session, BUYER, cancelled)
