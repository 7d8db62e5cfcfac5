"""Waves of pick tasks per warehouse from paid orders (FUL-1); pick lists and packing slips."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, policy
from shopflow.core.audit import Actor
from shopflow.core.privacy import mask_name
from shopflow.fulfillment.errors import TaskNotFound, WaveNotFound
from shopflow.fulfillment.models.picking import PickTask, TaskStatus, Wave, WaveStatus, picks_by_warehouse
from shopflow.fulfillment.repository import picking as picking_repository
from shopflow.fulfillment.schemas import (
    PackingSlip,
    PickList,
    PickListOrder,
    SlipLine,
    TaskLineOut,
    TaskOut,
    WaveDetail,
    WaveOut,
)
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Warehouse
from shopflow.orders.models import Order
from shopflow.orders.service import fulfillment_steps, queries

WAVE_NO_ATTEMPTS = 5


async def _new_wave(session: AsyncSession, actor: Actor, warehouse_id: int, at: datetime) -> Wave:
    values = {
        "warehouse_id": warehouse_id,
        "status": WaveStatus.OPEN,
        "created_by": actor.user_id,
        "created_at": at,
    }
    for _ in range(WAVE_NO_ATTEMPTS):
        values["wave_no"] = f"W{at:%y%m%d}{secrets.randbelow(10**8):08d}"
        wave = await picking_repository.insert_wave(session, values)
        if wave is not None:
            return wave
    raise RuntimeError("could not draw a free wave number")


async def build_waves(session: AsyncSession, actor: Actor, max_orders: int | None = None) -> list[Wave]:
    """FUL-1: take up to `max_orders` paid orders (diamond members' first, LOY-2, then the earliest
    ship-by), move each to `picking`, and give every warehouse holding stock for them one wave
    with a task per order."""
    order_ids = await fulfillment_steps.ready_to_pick(
        session, max_orders or policy.current().fulfillment.wave_size
    )
    held = await inventory.held_for_orders(session, order_ids)
    plan = picks_by_warehouse((r.order_id, r.warehouse_id, r.sku_id, r.quantity) for r in held)
    with_picks = {order_id for per_order in plan.values() for order_id in per_order}
    picked = await fulfillment_steps.start_picking_many(
        session, actor, [order_id for order_id in order_ids if order_id in with_picks]
    )
    at = clock.now()
    waves = []
    for warehouse_id in sorted(plan):
        per_order = plan[warehouse_id]
        wave = await _new_wave(session, actor, warehouse_id, at)
        ranked = [order_id for order_id in order_ids if order_id in per_order]  # the order they were taken in
        task_ids = await picking_repository.insert_tasks(
            session,
            [
                {
                    "wave_id": wave.id,
                    "order_id": order_id,
                    "order_no": picked[order_id].order_no,
                    "warehouse_id": warehouse_id,
                    "status": TaskStatus.PICKING,
                    "qc_failures": 0,
                    "created_at": at,
                    "updated_at": at,
                }
                for order_id in ranked
            ],
        )
        line_rows = []
        for task_id, order_id in zip(task_ids, ranked, strict=True):
            names = {line.sku_id: (line.sku_code, line.name) for line in picked[order_id].lines}
            for sku_id, quantity in sorted(per_order[order_id].items()):
                code, name = names[sku_id]
                line_rows.append(
                    {
                        "task_id": task_id,
                        "sku_id": sku_id,
                        "sku_code": code,
                        "name": name,
                        "quantity": quantity,
                    }
                )
        await picking_repository.insert_task_lines(session, line_rows)
        await audit.record(
            session,
            audit.row(
                actor,
                "wave.built",
                "wave",
                wave.id,
                None,
                {"wave_no": wave.wave_no, "warehouse_id": warehouse_id, "orders": ranked},
                at,
            ),
        )
        waves.append(wave)
    await session.flush()
    return waves


async def get_wave(session: AsyncSession, wave_id: int) -> Wave:
    wave = await picking_repository.get_wave(session, wave_id)
    if wave is None:
        raise WaveNotFound(f"no wave {wave_id}")
    return wave


async def get_task(session: AsyncSession, task_id: int) -> PickTask:
    task = await picking_repository.get_task(session, task_id)
    if task is None:
        raise TaskNotFound(f"no pick task {task_id}")
    return task


async def order_numbers(session: AsyncSession, task_ids: set[int]) -> dict[int, str]:
    """The order number of each task (printed on its parcel)."""
    return await picking_repository.order_numbers(session, task_ids)


async def _warehouses(session: AsyncSession) -> dict[int, Warehouse]:
    return {w.id: w for w in await inventory.list_warehouses(session)}


def _task_out(task: PickTask, warehouses: dict[int, Warehouse]) -> TaskOut:
    return TaskOut(
        id=task.id,
        wave_id=task.wave_id,
        order_id=task.order_id,
        order_no=task.order_no,
        warehouse=warehouses[task.warehouse_id].code,
        status=TaskStatus(task.status),
        weight_g=task.weight_g,
        materials=task.materials,
        qc_failures=task.qc_failures,
        qc_note=task.qc_note,
        lines=[TaskLineOut.model_validate(line) for line in task.lines],
    )


async def describe_task(session: AsyncSession, task: PickTask) -> TaskOut:
    return _task_out(task, await _warehouses(session))


def _wave_fields(wave: Wave, warehouses: dict[int, Warehouse], orders_in_wave: int) -> dict[str, object]:
    return {
        "id": wave.id,
        "wave_no": wave.wave_no,
        "warehouse": warehouses[wave.warehouse_id].code,
        "status": WaveStatus(wave.status),
        "created_at": wave.created_at,
        "done_at": wave.done_at,
        "orders": orders_in_wave,
    }


async def describe_waves(session: AsyncSession, waves: list[Wave]) -> list[WaveOut]:
    warehouses = await _warehouses(session)
    counts = await picking_repository.task_counts(session, [w.id for w in waves])
    return [WaveOut(**_wave_fields(w, warehouses, counts.get(w.id, 0))) for w in waves]


async def list_waves(
    session: AsyncSession, status: WaveStatus | None, warehouse: str | None, page: int, page_size: int
) -> tuple[list[WaveOut], int]:
    warehouse_id = None if warehouse is None else (await inventory.get_warehouse(session, warehouse)).id
    found, total = await picking_repository.page_waves(
        session, status, warehouse_id, (page - 1) * page_size, page_size
    )
    return await describe_waves(session, found), total


async def wave_detail(session: AsyncSession, wave_id: int) -> WaveDetail:
    wave = await get_wave(session, wave_id)
    warehouses = await _warehouses(session)
    tasks = await picking_repository.tasks_of_wave(session, wave.id)
    return WaveDetail(
        **_wave_fields(wave, warehouses, len(tasks)),
        tasks=[_task_out(task, warehouses) for task in tasks],
    )


async def pick_list(session: AsyncSession, wave_id: int) -> PickList:
    """FUL-1: what to take from the shelves for a wave, per order and in total per SKU."""
    wave = await get_wave(session, wave_id)
    warehouse = (await _warehouses(session))[wave.warehouse_id]
    tasks = await picking_repository.tasks_of_wave(session, wave.id)
    totals: Counter[tuple[str, str]] = Counter()
    for task in tasks:
        for line in task.lines:
            totals[(line.sku_code, line.name)] += line.quantity
    return PickList(
        wave_no=wave.wave_no,
        warehouse=warehouse.code,
        warehouse_name=warehouse.name,
        created_at=wave.created_at,
        orders=[
            PickListOrder(
                task_id=task.id,
                order_no=task.order_no,
                lines=[
                    SlipLine(sku_code=ln.sku_code, name=ln.name, quantity=ln.quantity) for ln in task.lines
                ],
            )
            for task in tasks
        ],
        totals=[SlipLine(sku_code=code, name=name, quantity=q) for (code, name), q in sorted(totals.items())],
    )


async def packing_slip(session: AsyncSession, task_id: int) -> PackingSlip:
    """FUL-1: the sheet in the parcel: the goods of this parcel, which parcel of how many, and the
    address the carrier delivers to (RSK-3: the recipient's name masked, no phone: nobody opening
    or handling the box needs more)."""
    task = await get_task(session, task_id)
    order = await queries.get_order(session, task.order_id)
    warehouse = (await _warehouses(session))[task.warehouse_id]
    siblings = [
        sibling_id for sibling_id, _ in await picking_repository.tasks_of_order(session, task.order_id)
    ]
    address = order.contact["shipping_address"]
    return PackingSlip(
        order_id=order.id,
        order_no=order.order_no,
        parcel=f"{siblings.index(task.id) + 1}/{len(siblings)}",
        warehouse_name=warehouse.name,
        recipient=mask_name(address["name"]),
        address=" ".join(address[part] for part in ("province", "city", "district", "street")),
        postcode=address["postcode"],
        note=order.note,
        lines=[SlipLine(sku_code=ln.sku_code, name=ln.name, quantity=ln.quantity) for ln in task.lines],
        printed_at=clock.now(),
    )


async def locked_task(session: AsyncSession, task_id: int) -> tuple[PickTask, Order]:
    """A task and its order (lines not loaded), both locked: the order first, as every step of an
    order locks (an order's parcels in two warehouses are packed and shipped one after the other).
    The caller changes the order with the orders service's `*_locked` steps."""
    order_id = await picking_repository.order_of_task(session, task_id)
    if order_id is None:
        raise TaskNotFound(f"no pick task {task_id}")
    order = await fulfillment_steps.lock_order(session, order_id)
    return await picking_repository.lock_task(session, task_id), order
