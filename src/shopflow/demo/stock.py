"""The demo's stock control (INV-6, INV-7), opened when the weeks of trading are over: last week's
partial count in the Shanghai warehouse posted with its variances, a Guangzhou count approved by
a manager for its large variance and waiting to be posted, today's Beijing count half keyed; a
transfer received, one in transit, and a draft."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core import clock
from shopflow.core.audit import Actor
from shopflow.demo.store import Store
from shopflow.inventory import service as inventory
from shopflow.stockcontrol.models import CountKind
from shopflow.stockcontrol.schemas import CountIn, CountLineIn, CountLinesIn, TransferIn, TransferLineIn
from shopflow.stockcontrol.service import counts, transfers

MANAGER = Actor(user_id=None, name="manager", role="manager")
KEEPER = Actor(user_id=None, name="warehouse", role="warehouse")
COUNTED = 4  # SKUs on each demo count
MOVED = 12  # units of each demo transfer, at most
SHELF_FOUND = -1  # a shift: a second shelf of the SKU found, twice the units expected and 11 more


async def _count(session: AsyncSession, warehouse: str, codes: list[str], shifts: list[int]) -> int:
    """A partial count of `codes`, its first lines keyed at the snapshot + each of `shifts`."""
    view = await counts.start(
        session, KEEPER, CountIn(warehouse=warehouse, kind=CountKind.PARTIAL, skus=codes)
    )
    lines = [
        CountLineIn(
            sku=line.sku_code,
            counted=line.snapshot * 2 + 11 if shift == SHELF_FOUND else line.snapshot + shift,
        )
        for line, shift in zip(view.count.lines, shifts, strict=False)
    ]
    await counts.key(session, KEEPER, view.count.id, CountLinesIn(lines=lines))
    return view.count.id


async def open_stock_desk(session: AsyncSession, store: Store, now: datetime) -> None:
    """The counts and transfers of the module's docstring. Variances are positive (found units),
    so no count posts below what orders have reserved."""
    codes = [sku.code for sku in store.plentiful[:COUNTED]]
    with clock.use(clock.FakeClock(now - timedelta(days=6))):
        posted = await _count(session, "SH01", codes, [1, 0, 2, 0])
        await counts.approve(session, MANAGER, posted)
        await counts.post(session, MANAGER, posted, "周盘点：货架复核")
    with clock.use(clock.FakeClock(now - timedelta(days=1))):
        large = await _count(session, "GZ01", codes, [0, SHELF_FOUND, 0, 1])
        await counts.approve(session, MANAGER, large)
    with clock.use(clock.FakeClock(now - timedelta(hours=2))):
        await _count(session, "BJ01", codes, [0, 1])

    free = await inventory.available_by_warehouse(session)
    warehouses = {w.code: w.id for w in await inventory.list_warehouses(session)}
    ids = {code: sku.id for code, sku in (await catalog.skus_by_codes(session, codes)).items()}
    moves = (("SH01", "GZ01", codes[0], 3), ("SH01", "BJ01", codes[1], 1), ("GZ01", "SH01", codes[2], 0))
    for steps, (source, destination, code, days) in zip((2, 1, 0), moves, strict=True):
        units = min(free.get((ids[code], warehouses[source]), 0), MOVED)
        if units == 0:
            continue
        with clock.use(clock.FakeClock(now - timedelta(days=days, hours=1))):
            data = TransferIn(
                from_warehouse=source,
                to_warehouse=destination,
                lines=[TransferLineIn(sku=code, quantity=units)],
            )
            transfer = (await transfers.create(session, KEEPER, data)).transfer.id
            if steps >= 1:
                await transfers.ship(session, KEEPER, transfer)
        if steps == 2:
            with clock.use(clock.FakeClock(now - timedelta(days=days - 2))):
                await transfers.receive(session, KEEPER, transfer)
