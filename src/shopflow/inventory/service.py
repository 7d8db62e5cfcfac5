"""Inventory use cases: warehouses, receipts, availability, reservation (INV-1..3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import pricing
from shopflow.catalog import service as catalog
from shopflow.catalog.models import Sku
from shopflow.core import audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.inventory import repository
from shopflow.inventory.errors import BelowReserved, DuplicateReceipt, DuplicateWarehouse, WarehouseNotFound
from shopflow.inventory.models import (
    LedgerEntry,
    Movement,
    Pick,
    Receipt,
    Reservation,
    ReservationState,
    SkuStock,
    Stock,
    Warehouse,
    allocate,
    allocation_reason,
    receipt_reference,
)
from shopflow.inventory.schemas import (
    Availability,
    ReceiptIn,
    ReceiptOut,
    WarehouseIn,
    WarehouseStock,
)

# A reservation that loses a race re-reads stock and tries again; each lost race means another
# order took the stock, so this bound is only reached under pathological contention.
RESERVE_ATTEMPTS = 20
# A receipt line above this is a typo; far larger ones would overflow the 64-bit stock columns.
MAX_RECEIPT_QUANTITY = 1_000_000_000


async def create_warehouse(session: AsyncSession, actor: Actor, data: WarehouseIn) -> Warehouse:
    if await repository.warehouse_code_taken(session, data.code):
        raise DuplicateWarehouse(
            f"warehouse {data.code!r} exists", errors=[FieldError("code", "already exists")]
        )
    warehouse = Warehouse(**data.model_dump(), active=True)
    session.add(warehouse)
    await session.flush()
    await audit.record(
        session,
        audit.row(actor, "warehouse.created", "warehouse", warehouse.code, None, data.model_dump()),
    )
    return warehouse


async def list_warehouses(session: AsyncSession) -> list[Warehouse]:
    return await repository.list_warehouses(session)


async def get_warehouse(session: AsyncSession, code: str) -> Warehouse:
    warehouse = await repository.warehouse_by_code(session, code)
    if warehouse is None:
        raise WarehouseNotFound(f"no warehouse {code!r}")
    return warehouse


async def _checked(
    session: AsyncSession, warehouse_code: str, lines: Sequence[tuple[str, int | None]]
) -> tuple[Warehouse | None, dict[str, Sku], list[FieldError]]:
    """A receipt's warehouse and SKUs, and what is wrong with them and with its quantities (a
    quantity that is not a number, None, is left to the caller's parsing)."""
    errors: list[FieldError] = []
    warehouse = await repository.warehouse_by_code(session, warehouse_code)
    if warehouse is None:
        errors.append(FieldError("warehouse", f"unknown warehouse {warehouse_code!r}"))
    skus = await catalog.skus_by_codes(session, [sku for sku, _ in lines])
    for i, (sku, quantity) in enumerate(lines):
        if sku not in skus:
            errors.append(FieldError(f"lines[{i}].sku", f"unknown SKU {sku!r}"))
        if quantity is not None and not 0 < quantity <= MAX_RECEIPT_QUANTITY:
            errors.append(FieldError(f"lines[{i}].quantity", f"must be from 1 to {MAX_RECEIPT_QUANTITY}"))
    return warehouse, skus, errors


async def receipt_errors(
    session: AsyncSession, warehouse_code: str, lines: Sequence[tuple[str, int | None]]
) -> list[FieldError]:
    """What is wrong with a receipt's warehouse, SKUs and quantities, for a form that reports
    these with its own parsing errors in one answer."""
    return (await _checked(session, warehouse_code, lines))[2]


async def receive(session: AsyncSession, actor: Actor, data: ReceiptIn) -> ReceiptOut:
    """Book goods into a warehouse: one ledger row per line (INV-1). All lines or none."""
    warehouse, skus, errors = await _checked(
        session, data.warehouse, [(line.sku, line.quantity) for line in data.lines]
    )
    if errors:
        raise Invalid("the receipt has errors; nothing was booked", errors=errors)
    assert warehouse is not None
    receipt = Receipt(
        warehouse_id=warehouse.id,
        reference=data.reference,
        created_by=actor.user_id,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():
            session.add(receipt)
            await session.flush()
    except IntegrityError:
        raise DuplicateReceipt(
            f"receipt {data.reference!r} was already booked into {warehouse.code}",
            errors=[FieldError("reference", "already booked")],
        ) from None
    lines = {skus[line.sku].id: 0 for line in data.lines}
    for line in data.lines:
        lines[skus[line.sku].id] += line.quantity
    await post_movements(
        session,
        actor,
        warehouse.id,
        lines,
        Movement.RECEIPT,
        receipt_reference(receipt.id, data.reference),
    )
    await audit.record(
        session,
        audit.row(
            actor,
            "inventory.received",
            "receipt",
            receipt.id,
            None,
            {
                "warehouse": warehouse.code,
                "reference": data.reference,
                "lines": [ln.model_dump() for ln in data.lines],
            },
        ),
    )
    return ReceiptOut(id=receipt.id, warehouse=warehouse.code, reference=data.reference, lines=data.lines)


async def post_movements(
    session: AsyncSession,
    actor: Actor,
    warehouse_id: int,
    quantities: Mapping[int, int],
    kind: Movement,
    reference: str,
) -> None:
    """Change on-hand of several SKUs in one warehouse, each change a ledger row (INV-1)."""
    await repository.ensure_stock_rows(session, warehouse_id, sorted(quantities))
    at = clock.now()
    rows = []
    for sku_id in sorted(quantities):
        balance = await repository.add_on_hand(session, warehouse_id, sku_id, quantities[sku_id])
        rows.append(
            {
                "sku_id": sku_id,
                "warehouse_id": warehouse_id,
                "kind": kind,
                "quantity": quantities[sku_id],
                "balance_after": balance,
                "reference": reference,
                "actor_id": actor.user_id,
                "at": at,
            }
        )
    await repository.add_ledger(session, rows)


async def shift_stock(
    session: AsyncSession,
    actor: Actor,
    warehouse_id: int,
    quantities: Mapping[int, int],
    kind: Movement,
    reference: str,
) -> dict[int, int]:
    """Change on-hand of several SKUs in one warehouse, each change a ledger row (INV-1), by one
    conditional UPDATE that never leaves on-hand below reserved (INV-2): if any SKU would fall
    below, nothing changes and BelowReserved names the SKU ids (`skus[<id>]`). The new on-hand
    per SKU id. Counts (INV-6) and transfers (INV-7) move stock through here."""
    changes = {sku: quantity for sku, quantity in quantities.items() if quantity != 0}
    if not changes:
        return {}
    await repository.ensure_stock_rows(session, warehouse_id, sorted(changes))
    async with session.begin_nested():  # an exception inside rolls back the rows it did change
        balances = await repository.shift_on_hand(session, warehouse_id, changes)
        short = sorted(changes.keys() - balances.keys())
        if short:
            raise BelowReserved(
                "on hand would fall below the units reserved for orders; nothing was changed",
                short,
                errors=[FieldError(f"skus[{sku}]", "would fall below reserved") for sku in short],
            )
    at = clock.now()
    rows = [
        {
            "sku_id": sku_id,
            "warehouse_id": warehouse_id,
            "kind": kind,
            "quantity": changes[sku_id],
            "balance_after": balances[sku_id],
            "reference": reference,
            "actor_id": actor.user_id,
            "at": at,
        }
        for sku_id in sorted(changes)
    ]
    await repository.add_ledger(session, rows)
    return balances


async def on_hand_in(session: AsyncSession, warehouse_id: int, sku_ids: Sequence[int]) -> dict[int, int]:
    """On-hand per SKU id in one warehouse (0 without a stock row)."""
    found = await repository.stock_in(session, warehouse_id, sku_ids)
    return {sku: found[sku].on_hand if sku in found else 0 for sku in sku_ids}


async def stocked_skus(session: AsyncSession, warehouse_id: int) -> list[int]:
    return await repository.stocked_skus(session, warehouse_id)


async def available_by_warehouse(session: AsyncSession) -> dict[tuple[int, int], int]:
    return await repository.available_by_warehouse(session)


async def availability(session: AsyncSession, sku: Sku) -> Availability:
    per_warehouse = [
        WarehouseStock(
            warehouse=w.code,
            on_hand=s.on_hand,
            reserved=s.reserved,
            available=s.on_hand - s.reserved,
        )
        for w, s in await repository.stock_by_warehouse(session, sku.id)
    ]
    on_hand = sum(w.on_hand for w in per_warehouse)
    reserved = sum(w.reserved for w in per_warehouse)
    return Availability(
        sku=sku.code,
        on_hand=on_hand,
        reserved=reserved,
        available=on_hand - reserved,
        warehouses=per_warehouse,
    )


async def ledger(
    session: AsyncSession, sku: Sku, offset: int, limit: int
) -> tuple[list[tuple[LedgerEntry, str]], int]:
    return await repository.ledger(session, sku.id, offset, limit)


async def reserve_for_order(
    session: AsyncSession, order_id: int, demand: Mapping[int, int], province: str = ""
) -> list[Pick] | None:
    """Reserve stock for an order shipping to `province` atomically (INV-2, INV-3); None when
    stock is short. Each reservation records why its warehouse was chosen (`allocation_reason`).

    Reads availability, plans with the configured strategy, then claims every row with one
    conditional UPDATE. If another order won a row in between, the rows this one did get are
    given back and the plan is made again from fresh figures.
    """
    strategy = policy.current().inventory.allocation
    for _ in range(RESERVE_ATTEMPTS):
        plan = allocate(demand, await repository.stock_levels(session, demand), strategy, province)
        if plan is None:
            return None
        won = await repository.reserve(session, plan, order_id, allocation_reason(strategy, plan))
        if len(won) == len(plan):
            return plan
        await repository.unreserve(session, {p.stock_id: p.quantity for p in plan if p.stock_id in won})
    return None


async def release_for_order(session: AsyncSession, order_id: int) -> int:
    """Give back every active reservation of an order; returns the units released."""
    held = await repository.active_reservations(session, order_id)
    await repository.unreserve(session, {r.stock_id: r.quantity for r in held})
    for reservation in held:
        reservation.move_to(ReservationState.RELEASED)
    await session.flush()
    return sum(r.quantity for r in held)


async def reservations_of(session: AsyncSession, order_id: int) -> list[Reservation]:
    return await repository.reservations_of(session, order_id)


async def ship_reserved(
    session: AsyncSession, actor: Actor, order_id: int, warehouse_id: int, reference: str
) -> list[Reservation]:
    """FUL-4/INV-1: the order's reservations in one warehouse become a shipment: stock leaves
    through the ledger and the reservations are consumed (INV-2). Returns what was shipped.

    The rows the transaction has queued (`db.PendingRows`: the shipment's audit rows and clock)
    are written with the ledger rows in one round trip; nothing is written when there is
    nothing to ship."""
    held = await repository.consume_reservations(session, order_id, warehouse_id)
    if not held:
        return []
    balances = await repository.consume(session, {r.stock_id: r.quantity for r in held})
    at = clock.now()
    await repository.add_ledger(
        session,
        [
            {
                "sku_id": r.sku_id,
                "warehouse_id": r.warehouse_id,
                "kind": Movement.SHIPMENT,
                "quantity": -r.quantity,
                "balance_after": balances[r.stock_id],
                "reference": reference,
                "actor_id": actor.user_id,
                "at": at,
            }
            for r in held
        ],
    )
    return held


async def stock_overview(
    session: AsyncSession, search: str | None, low_only: bool, offset: int, limit: int
) -> tuple[list[SkuStock], dict[int, list[Stock]], int]:
    """A page of SKUs with their availability and safety stock (INV-1, INV-4), each SKU's stock
    rows per warehouse, and how many SKUs match."""
    safety = policy.current().inventory.safety_stock
    skus, total = await repository.stock_page(session, search, low_only, safety, offset, limit)
    rows: dict[int, list[Stock]] = {sku.sku_id: [] for sku in skus}
    for stock in await repository.stock_of_skus(session, list(rows)):
        rows[stock.sku_id].append(stock)
    return skus, rows, total


async def low_stock(session: AsyncSession, limit: int | None) -> tuple[list[SkuStock], int]:
    """SKUs below their safety stock over all warehouses (INV-4), by code (all of them when
    `limit` is None); and how many there are."""
    return await repository.stock_page(session, None, True, policy.current().inventory.safety_stock, 0, limit)


async def held_for_orders(session: AsyncSession, order_ids: list[int]) -> list[Reservation]:
    """The active reservations of several orders (FUL-1: what each warehouse picks for them)."""
    return await repository.active_reservations_of_orders(session, order_ids) if order_ids else []


async def available_of(session: AsyncSession, sku_ids: list[int]) -> dict[int, int]:
    """Units available (on hand less reserved) over all warehouses, per SKU id (INV-1)."""
    available = dict.fromkeys(sku_ids, 0)
    for stock in await repository.stock_of_skus(session, sku_ids):
        available[stock.sku_id] += stock.on_hand - stock.reserved
    return available


async def watch_markdowns(session: AsyncSession) -> int:
    """CAT-3: each round, the on-hand stock of every markdown rule's SKU over all warehouses,
    noted on the rule (`catalog.pricing.note_stock`): when it went above the threshold, cleared
    when it falls to it or below. How many rules changed (the worker's sweep)."""
    at = clock.now()
    rules = await pricing.markdown_rules(session, at)
    sku_ids = sorted({rule.sku_id for rule in rules if rule.sku_id is not None})
    on_hand = dict.fromkeys(sku_ids, 0)
    for stock in await repository.stock_of_skus(session, sku_ids) if sku_ids else []:
        on_hand[stock.sku_id] += stock.on_hand
    changed = [
        rule
        for rule in rules
        if rule.sku_id is not None and pricing.note_stock(rule, on_hand[rule.sku_id], at)
    ]
    if changed:
        await session.flush()
    return len(changed)
