"""INV-7: transfers between warehouses, `draft -> shipped -> received`. Shipping takes the units
out of the source through the ledger (never below its reserved units), receiving adds them at the
destination; in between they are in transit, available at neither end. Suggestions weigh each
warehouse's region's recent sales against its stock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core import audit, clock, events, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.inventory import service as inventory
from shopflow.inventory.errors import BelowReserved
from shopflow.inventory.models import Movement, Warehouse
from shopflow.orders.service import queries as orders
from shopflow.stockcontrol import repository
from shopflow.stockcontrol.errors import TransferNotFound
from shopflow.stockcontrol.models import (
    Depot,
    Suggestion,
    Transfer,
    TransferLine,
    TransferState,
    suggest_transfers,
)
from shopflow.stockcontrol.schemas import TransferIn
from shopflow.stockcontrol.service.common import skus_named, warehouse_named, warehouses


@dataclass(frozen=True, slots=True)
class TransferView:
    transfer: Transfer
    source: Warehouse
    destination: Warehouse


def _view(transfer: Transfer, known: dict[int, Warehouse]) -> TransferView:
    return TransferView(transfer, known[transfer.from_warehouse_id], known[transfer.to_warehouse_id])


def _summary(view: TransferView) -> dict[str, object]:
    lines = {line.sku_code: line.quantity for line in view.transfer.lines}
    return {
        "from": view.source.code,
        "to": view.destination.code,
        "state": view.transfer.state,
        "lines": lines,
    }


async def create(session: AsyncSession, actor: Actor, data: TransferIn) -> TransferView:
    """A draft transfer; nothing moves until it ships."""
    errors: list[FieldError] = []
    known = await warehouses(session)
    source = warehouse_named(known, data.from_warehouse, "from_warehouse", errors)
    destination = warehouse_named(known, data.to_warehouse, "to_warehouse", errors)
    if source is not None and source is destination:
        errors.append(FieldError("to_warehouse", "must differ from from_warehouse"))
    skus = await skus_named(session, [line.sku for line in data.lines], "lines[{i}].sku", errors)
    if errors:
        raise Invalid("the transfer has errors; nothing was created", errors=errors)
    assert source is not None and destination is not None
    transfer = Transfer(
        from_warehouse_id=source.id,
        to_warehouse_id=destination.id,
        state=TransferState.DRAFT,
        note=data.note,
        created_by=actor.user_id,
        created_at=clock.now(),
    )
    session.add(transfer)
    await session.flush()
    session.add_all(
        TransferLine(
            transfer_id=transfer.id, sku_id=skus[line.sku].id, sku_code=line.sku, quantity=line.quantity
        )
        for line in data.lines
    )
    await session.flush()
    view = await get(session, transfer.id)
    await audit.record(
        session, audit.row(actor, "transfer.created", "transfer", transfer.id, None, _summary(view))
    )
    return view


async def get(session: AsyncSession, transfer_id: int, *, lock: bool = False) -> TransferView:
    transfer = await repository.transfer_by_id(session, transfer_id, lock=lock)
    if transfer is None:
        raise TransferNotFound(f"no transfer {transfer_id}")
    return _view(transfer, await warehouses(session))


async def page(
    session: AsyncSession, state: TransferState | None, offset: int, limit: int
) -> tuple[list[TransferView], int]:
    found, total = await repository.transfers_page(session, state, offset, limit)
    known = await warehouses(session)
    return [_view(transfer, known) for transfer in found], total


async def ship(session: AsyncSession, actor: Actor, transfer_id: int) -> TransferView:
    """The units leave the source (ledger kind `transfer`); refused, nothing moved, if any SKU's
    on-hand there would fall below its reserved units."""
    view = await get(session, transfer_id, lock=True)
    transfer = view.transfer
    transfer.check(TransferState.SHIPPED)
    out = {line.sku_id: -line.quantity for line in transfer.lines}
    try:
        await inventory.shift_stock(
            session, actor, view.source.id, out, Movement.TRANSFER, f"transfer:{transfer.id}:out"
        )
    except BelowReserved as exc:
        index = {line.sku_id: i for i, line in enumerate(transfer.lines)}
        raise BelowReserved(
            f"{view.source.code} has not that many units free of reservations; nothing was shipped",
            exc.sku_ids,
            errors=[
                FieldError(f"lines[{index[sku]}].quantity", "more than available") for sku in exc.sku_ids
            ],
        ) from None
    return await _moved(session, actor, view, TransferState.SHIPPED)


async def receive(session: AsyncSession, actor: Actor, transfer_id: int) -> TransferView:
    """The units in transit arrive: added at the destination (ledger kind `transfer`)."""
    view = await get(session, transfer_id, lock=True)
    transfer = view.transfer
    transfer.check(TransferState.RECEIVED)
    into = {line.sku_id: line.quantity for line in transfer.lines}
    await inventory.shift_stock(
        session, actor, view.destination.id, into, Movement.TRANSFER, f"transfer:{transfer.id}:in"
    )
    return await _moved(session, actor, view, TransferState.RECEIVED)


async def _moved(
    session: AsyncSession, actor: Actor, view: TransferView, target: TransferState
) -> TransferView:
    transfer, at = view.transfer, clock.now()
    before = {"state": transfer.state}
    transfer.move_to(target)
    if target is TransferState.SHIPPED:
        transfer.shipped_at = at
    else:
        transfer.received_at = at
    await session.flush()
    await audit.record(
        session, audit.row(actor, f"transfer.{target}", "transfer", transfer.id, before, _summary(view), at)
    )
    await events.record(session, f"transfer.{target}", f"transfer:{transfer.id}", _summary(view))
    return view


@dataclass(frozen=True, slots=True)
class SuggestionView:
    suggestion: Suggestion
    sku: str
    source: str
    destination: str


async def suggestions(session: AsyncSession) -> list[SuggestionView]:
    """INV-7: transfers that would bring each warehouse's stock of a SKU (with what is on its way
    there) in line with its region's share of the SKU's paid units over the policy's window."""
    known = {w.id: w for w in (await warehouses(session)).values() if w.active}
    depots = [Depot(w.id, w.code, w.province, w.priority) for w in known.values()]
    since = clock.now() - timedelta(days=policy.current().inventory.transfer_window_days)
    sold = await orders.units_paid_by_province(session, since)
    stock = await inventory.available_by_warehouse(session)
    for key, units in (await repository.in_transit(session)).items():
        stock[key] = stock.get(key, 0) + units
    found = suggest_transfers(sold, stock, depots)
    codes = await catalog.skus_by_ids(session, sorted({s.sku_id for s in found}))
    return [
        SuggestionView(
            s, codes[s.sku_id].code, known[s.from_warehouse_id].code, known[s.to_warehouse_id].code
        )
        for s in found
    ]
