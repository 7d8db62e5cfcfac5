"""INV-5: suppliers and what they sell at what terms; purchase orders `draft → submitted →
confirmed → partially_received → received | cancelled`; receipts against an order book the goods
through the stock ledger (inventory) and release the orders held for a stock shortage, earliest
payment first, as far as the stock goes (orders)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.catalog.models import Sku
from shopflow.core import audit, clock
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid, InvalidTransition
from shopflow.inventory import service as inventory
from shopflow.inventory.errors import WarehouseNotFound
from shopflow.inventory.schemas import ReceiptIn, ReceiptLineIn
from shopflow.orders.service import lifecycle
from shopflow.planning import repository
from shopflow.planning.errors import DuplicateSupplier, PurchaseOrderNotFound
from shopflow.planning.models import (
    RECEIVABLE,
    PoSource,
    PoStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    SupplierItem,
)
from shopflow.planning.schemas import ConfirmIn, PoReceiptIn, PurchaseOrderIn, SupplierIn

# Orders held for stock looked at per receipt (`orders.lifecycle.release_covered_shortages`).
RELEASE_BATCH = 200


async def create_supplier(session: AsyncSession, actor: Actor, data: SupplierIn) -> Supplier:
    errors: list[FieldError] = []
    skus = await catalog.skus_by_codes(session, [item.sku for item in data.items])
    seen: set[str] = set()
    for i, item in enumerate(data.items):
        if item.sku not in skus:
            errors.append(FieldError(f"items[{i}].sku", f"unknown SKU {item.sku!r}"))
        elif item.sku in seen:
            errors.append(FieldError(f"items[{i}].sku", "listed twice"))
        seen.add(item.sku)
    if errors:
        raise Invalid("the supplier has errors; nothing was saved", errors=errors)
    if await repository.supplier_by_code(session, data.code) is not None:
        raise DuplicateSupplier(
            f"supplier {data.code!r} exists", errors=[FieldError("code", "already exists")]
        )
    supplier = Supplier(code=data.code, name=data.name, active=True, created_at=clock.now())
    supplier.items = [
        SupplierItem(
            sku_id=skus[item.sku].id,
            lead_time_days=item.lead_time_days,
            pack_size=item.pack_size,
            moq=item.moq,
            unit_cost=item.unit_cost,
        )
        for item in data.items
    ]
    try:
        async with session.begin_nested():
            session.add(supplier)
            await session.flush()
    except IntegrityError:  # the same code created meanwhile
        raise DuplicateSupplier(
            f"supplier {data.code!r} exists", errors=[FieldError("code", "already exists")]
        ) from None
    await audit.record(
        session,
        audit.row(actor, "supplier.created", "supplier", supplier.code, None, data.model_dump(mode="json")),
    )
    return supplier


async def suppliers(session: AsyncSession, offset: int, limit: int) -> tuple[list[Supplier], int]:
    return await repository.suppliers(session, offset, limit)


async def sku_codes(session: AsyncSession, sku_ids: list[int]) -> dict[int, str]:
    return await repository.sku_codes(session, sku_ids)


async def sku_by_id(session: AsyncSession, sku_id: int) -> Sku:
    found = await repository.sku(session, sku_id)
    assert found is not None, f"no SKU {sku_id}"
    return found


async def create_po(session: AsyncSession, actor: Actor, data: PurchaseOrderIn) -> PurchaseOrder:
    """A draft purchase order; every line must be a SKU the supplier sells (its price by default)."""
    errors: list[FieldError] = []
    supplier = await repository.supplier_by_code(session, data.supplier)
    if supplier is None:
        errors.append(FieldError("supplier", f"unknown supplier {data.supplier!r}"))
    warehouse = None
    try:
        warehouse = await inventory.get_warehouse(session, data.warehouse)
    except WarehouseNotFound:
        errors.append(FieldError("warehouse", f"unknown warehouse {data.warehouse!r}"))
    skus = await catalog.skus_by_codes(session, [line.sku for line in data.lines])
    sold = {item.sku_id: item for item in supplier.items} if supplier else {}
    seen: set[str] = set()
    for i, line in enumerate(data.lines):
        if line.sku not in skus:
            errors.append(FieldError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}"))
        elif supplier is not None and skus[line.sku].id not in sold:
            errors.append(FieldError(f"lines[{i}].sku", f"{supplier.code} does not sell {line.sku}"))
        elif line.sku in seen:
            errors.append(FieldError(f"lines[{i}].sku", "listed twice"))
        seen.add(line.sku)
    today = clock.today()
    if data.expected_on is not None and data.expected_on < today:
        errors.append(FieldError("expected_on", "must not be in the past"))
    if errors:
        raise Invalid("the purchase order has errors; nothing was saved", errors=errors)
    assert supplier is not None and warehouse is not None
    items = [sold[skus[line.sku].id] for line in data.lines]
    lead = max(item.lead_time_days for item in items)
    return await add_po(
        session,
        actor,
        supplier,
        warehouse.id,
        PoSource(data.source),
        data.expected_on or today + timedelta(days=lead),
        [(item, line.quantity, line.unit_cost) for item, line in zip(items, data.lines, strict=True)],
        data.note,
    )


async def add_po(
    session: AsyncSession,
    actor: Actor,
    supplier: Supplier,
    warehouse_id: int,
    source: PoSource,
    expected_on: date,
    lines: list[tuple[SupplierItem, int, int | None]],
    note: str = "",
) -> PurchaseOrder:
    at = clock.now()
    po = PurchaseOrder(
        supplier_id=supplier.id,
        warehouse_id=warehouse_id,
        status=PoStatus.DRAFT,
        source=source,
        expected_on=expected_on,
        note=note,
        created_by=actor.user_id,
        created_at=at,
        changed_at=at,
    )
    po.lines = [
        PurchaseOrderLine(
            sku_id=item.sku_id,
            quantity=quantity,
            received=0,
            unit_cost=item.unit_cost if cost is None else cost,
        )
        for item, quantity, cost in lines
    ]
    session.add(po)
    await session.flush()
    codes = await repository.sku_codes(session, [line.sku_id for line in po.lines])
    after = {
        "supplier": supplier.code,
        "source": source,
        "expected_on": expected_on.isoformat(),
        "lines": [
            {"sku": codes[ln.sku_id], "quantity": ln.quantity, "unit_cost": ln.unit_cost} for ln in po.lines
        ],
    }
    await audit.record(
        session, audit.row(actor, "purchase_order.created", "purchase_order", po.id, None, after)
    )
    return po


@dataclass(frozen=True, slots=True)
class PoNames:
    """What purchase orders name by id: per order its supplier's and warehouse's codes; SKU codes."""

    names: dict[int, tuple[str, str]]
    skus: dict[int, str]


async def describe(session: AsyncSession, pos: list[PurchaseOrder]) -> PoNames:
    suppliers = await repository.suppliers_by_id(session, {po.supplier_id for po in pos})
    warehouses = await repository.warehouses_by_id(session, {po.warehouse_id for po in pos})
    skus = await repository.sku_codes(session, {line.sku_id for po in pos for line in po.lines})
    names = {po.id: (suppliers[po.supplier_id].code, warehouses[po.warehouse_id]) for po in pos}
    return PoNames(names, skus)


async def get_po(session: AsyncSession, po_id: int, *, lock: bool = False) -> PurchaseOrder:
    po = await repository.get_po(session, po_id, lock=lock)
    if po is None:
        raise PurchaseOrderNotFound(f"no purchase order {po_id}")
    return po


async def list_pos(
    session: AsyncSession, status: PoStatus | None, offset: int, limit: int
) -> tuple[list[PurchaseOrder], int]:
    return await repository.pos(session, status, offset, limit)


async def _move(
    session: AsyncSession, actor: Actor, po: PurchaseOrder, target: PoStatus, **extra: Any
) -> None:
    at = clock.now()
    previous = po.move_to(target, at)
    await session.flush()
    await audit.record(
        session,
        audit.row(
            actor,
            f"purchase_order.{target}",
            "purchase_order",
            po.id,
            {"status": previous},
            {"status": target, **extra},
            at,
        ),
    )


async def submit(session: AsyncSession, actor: Actor, po_id: int) -> PurchaseOrder:
    po = await get_po(session, po_id, lock=True)
    await _move(session, actor, po, PoStatus.SUBMITTED)
    return po


async def confirm(session: AsyncSession, actor: Actor, po_id: int, data: ConfirmIn) -> PurchaseOrder:
    """The supplier confirmed the order, on the date it names (or the one the order had)."""
    po = await get_po(session, po_id, lock=True)
    if data.expected_on is not None and data.expected_on < clock.today():
        raise Invalid(
            "the expected date is in the past", errors=[FieldError("expected_on", "must not be in the past")]
        )
    await _move(session, actor, po, PoStatus.CONFIRMED)
    if data.expected_on is not None:
        po.expected_on = data.expected_on
        await session.flush()
    return po


async def cancel(session: AsyncSession, actor: Actor, po_id: int) -> PurchaseOrder:
    po = await get_po(session, po_id, lock=True)
    await _move(session, actor, po, PoStatus.CANCELLED)
    return po


async def receive(
    session: AsyncSession, actor: Actor, po_id: int, data: PoReceiptIn
) -> tuple[PurchaseOrder, int]:
    """Goods of a confirmed order arrived: booked into its warehouse through the ledger (one
    inventory receipt, named by the order's number and the delivery's reference: the same
    delivery twice is refused), its lines' received units counted, the order received in full or
    in part; then orders held for a stock shortage are released, earliest payment first, until
    the stock runs out. All or nothing. The order, and how many held orders were released."""
    po = await get_po(session, po_id, lock=True)
    if PoStatus(po.status) not in RECEIVABLE:
        raise InvalidTransition("purchase_order", po.status, PoStatus.RECEIVED)
    codes = await repository.sku_codes(session, [line.sku_id for line in po.lines])
    lines = {codes[line.sku_id]: line for line in po.lines}
    errors: list[FieldError] = []
    wanted: dict[str, int] = {}
    for i, got in enumerate(data.lines):
        line = lines.get(got.sku)
        if line is None:
            errors.append(FieldError(f"lines[{i}].sku", f"{got.sku!r} is not on {po.number}"))
            continue
        outstanding = line.quantity - line.received - wanted.get(got.sku, 0)
        if not 1 <= got.quantity <= outstanding:
            errors.append(
                FieldError(f"lines[{i}].quantity", f"must be from 1 to {max(outstanding, 0)} (still to come)")
            )
            continue
        wanted[got.sku] = wanted.get(got.sku, 0) + got.quantity
    if errors:
        raise Invalid("the receipt has errors; nothing was booked", errors=errors)
    warehouses = await repository.warehouses_by_id(session, [po.warehouse_id])
    await inventory.receive(
        session,
        actor,
        ReceiptIn(
            warehouse=warehouses[po.warehouse_id],
            reference=f"{po.number}:{data.reference}",
            lines=[ReceiptLineIn(sku=sku, quantity=quantity) for sku, quantity in wanted.items()],
        ),
    )
    for sku, quantity in wanted.items():
        lines[sku].received += quantity
    target = PoStatus.RECEIVED if po.received_in_full() else PoStatus.PARTIALLY_RECEIVED
    await _move(session, actor, po, target, reference=data.reference, lines=wanted)
    released = await lifecycle.release_covered_shortages(session, RELEASE_BATCH)
    return po, released
