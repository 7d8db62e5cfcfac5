"""Packing with weight and materials, and the quality check that can fail (FUL-2)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock
from shopflow.core.audit import Actor
from shopflow.fulfillment.models.picking import PickTask, TaskStatus, all_packed
from shopflow.fulfillment.repository import picking as picking_repository
from shopflow.fulfillment.schemas import CheckIn, PackIn
from shopflow.fulfillment.service.waves import locked_task
from shopflow.orders.models import OrderStatus
from shopflow.orders.service import fulfillment_steps


async def pack(session: AsyncSession, actor: Actor, task_id: int, data: PackIn) -> PickTask:
    """Record the package; when every parcel of the order is packed, the order is `packed`."""
    task, order = await locked_task(session, task_id)
    at = clock.now()
    previous = task.pack(data.weight_g, data.materials, at)
    await picking_repository.save_task(session, task)
    audit.queue(
        session,
        audit.row(
            actor,
            "pick_task.packed",
            "pick_task",
            task.id,
            {"status": previous},
            {"status": task.status, "weight_g": data.weight_g, "materials": data.materials},
            at,
        ),
    )
    statuses = [status for _, status in await picking_repository.tasks_of_order(session, order.id)]
    if order.status == OrderStatus.PICKING and all_packed(statuses):
        # The order's step writes the queued audit row with its own.
        await fulfillment_steps.mark_packed_locked(session, actor, order)
    else:
        await audit.record(session)
    return task


async def check(session: AsyncSession, actor: Actor, task_id: int, data: CheckIn) -> PickTask:
    """The quality check of a packed parcel: passed, it may ship; failed, it goes back to picking
    and so does its order (FUL-2)."""
    task, order = await locked_task(session, task_id)
    at = clock.now()
    if data.passed:
        previous = task.move_to(TaskStatus.CHECKED, at)
        after: dict[str, object] = {"status": task.status}
    else:
        reason = (data.reason or "").strip()
        previous = task.fail_check(reason, at)
        after = {"status": task.status, "reason": reason}
    await picking_repository.save_task(session, task)
    action = "pick_task.check_passed" if data.passed else "pick_task.check_failed"
    audit.queue(session, audit.row(actor, action, "pick_task", task.id, {"status": previous}, after, at))
    if not data.passed and order.status == OrderStatus.PACKED:
        reason = f"quality check failed: {task.qc_note}"
        # The order's step writes the queued audit row with its own.
        await fulfillment_steps.back_to_picking_locked(session, actor, order, reason)
    else:
        await audit.record(session)
    return task
