"""Waves and pick tasks: their queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shopflow.core.db import driver_connection, fresh, insert_for, update_changed
from shopflow.fulfillment.models.picking import PickTask, PickTaskLine, TaskStatus, Wave, WaveStatus

# PostgreSQL statements for the driver (core.db.driver_connection) on the pack, check and ship path.
ORDER_OF_TASK_PG = "SELECT order_id FROM pick_tasks WHERE id = $1"
TASK_COLUMNS = ", ".join(c.name for c in PickTask.__table__.columns)
LOCK_TASK_PG = f"SELECT {TASK_COLUMNS} FROM pick_tasks WHERE id = $1 FOR UPDATE"
TASKS_OF_ORDER_PG = "SELECT id, status FROM pick_tasks WHERE order_id = $1 ORDER BY id"
WAVE_COLUMNS = ", ".join(c.name for c in Wave.__table__.columns)
LOCK_WAVE_PG = f"SELECT {WAVE_COLUMNS} FROM waves WHERE id = $1 FOR UPDATE"
UNSHIPPED_IN_WAVE_PG = "SELECT count(*) FROM pick_tasks WHERE wave_id = $1 AND status <> $2"


async def insert_wave(session: AsyncSession, values: dict[str, Any]) -> Wave | None:
    """The new wave; None when the wave number is taken."""
    stmt = insert_for(session, Wave).values(values).on_conflict_do_nothing().returning(Wave.id)
    wave_id = (await session.execute(stmt)).scalar_one_or_none()
    return None if wave_id is None else await session.get(Wave, wave_id)


async def insert_tasks(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Ids of the new tasks, in the order of `rows`."""
    stmt = insert(PickTask).returning(PickTask.id, sort_by_parameter_order=True)
    return list((await session.scalars(stmt, rows)).all())


async def insert_task_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(PickTaskLine), rows)


async def get_wave(session: AsyncSession, wave_id: int, *, lock: bool = False) -> Wave | None:
    """With `lock`, the wave locked and read afresh; on PostgreSQL the session's instance when the
    session holds one, else an instance outside the session (`db.fresh`): the caller writes its
    changes with `save_wave`."""
    if lock and (driver := await driver_connection(session)) is not None:
        row = await driver.fetchrow(LOCK_WAVE_PG, wave_id)
        return None if row is None else fresh(session, Wave, dict(row))
    stmt = select(Wave).where(Wave.id == wave_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def save_wave(session: AsyncSession, wave: Wave) -> None:
    """Write what the wave's model methods changed by one UPDATE conditional on the status it was
    read with (`db.update_changed`)."""
    if await update_changed(session, wave, "status") != 1:
        raise RuntimeError(f"wave {wave.id} changed status under its lock")


async def page_waves(
    session: AsyncSession, status: WaveStatus | None, warehouse_id: int | None, offset: int, limit: int
) -> tuple[list[Wave], int]:
    conditions = []
    if status is not None:
        conditions.append(Wave.status == status)
    if warehouse_id is not None:
        conditions.append(Wave.warehouse_id == warehouse_id)
    total = await session.scalar(select(func.count()).select_from(Wave).where(*conditions))
    stmt = select(Wave).where(*conditions).order_by(Wave.id.desc()).offset(offset).limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def tasks_of_wave(session: AsyncSession, wave_id: int) -> list[PickTask]:
    stmt = (
        select(PickTask)
        .options(selectinload(PickTask.lines))
        .where(PickTask.wave_id == wave_id)
        .order_by(PickTask.id)
    )
    return list((await session.scalars(stmt)).all())


async def get_task(session: AsyncSession, task_id: int) -> PickTask | None:
    stmt = select(PickTask).options(selectinload(PickTask.lines)).where(PickTask.id == task_id)
    return (await session.scalars(stmt)).first()


async def order_of_task(session: AsyncSession, task_id: int) -> int | None:
    driver = await driver_connection(session)
    if driver is not None:
        order_id: int | None = await driver.fetchval(ORDER_OF_TASK_PG, task_id)
        return order_id
    return await session.scalar(select(PickTask.order_id).where(PickTask.id == task_id))


async def lock_task(session: AsyncSession, task_id: int) -> PickTask:
    """The task, locked and read afresh (without its lines). On PostgreSQL it is the session's
    instance when the session holds one, else an instance outside the session (`db.fresh`):
    the caller writes its changes with `save_task`."""
    driver = await driver_connection(session)
    if driver is not None:
        row = await driver.fetchrow(LOCK_TASK_PG, task_id)
        if row is None:
            raise NoResultFound(f"no pick task {task_id}")
        return fresh(session, PickTask, dict(row))
    stmt = (
        select(PickTask)
        .where(PickTask.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one()


async def save_task(session: AsyncSession, task: PickTask) -> None:
    """Write what the task's model methods changed by one UPDATE conditional on the status it was
    read with (`db.update_changed`)."""
    if await update_changed(session, task, "status") != 1:
        raise RuntimeError(f"pick task {task.id} changed status under its lock")


async def tasks_of_order(session: AsyncSession, order_id: int) -> list[tuple[int, str]]:
    """(id, status) of each of the order's tasks, by id."""
    driver = await driver_connection(session)
    if driver is not None:
        return [(row[0], row[1]) for row in await driver.fetch(TASKS_OF_ORDER_PG, order_id)]
    stmt = select(PickTask.id, PickTask.status).where(PickTask.order_id == order_id).order_by(PickTask.id)
    return [(row.id, row.status) for row in (await session.execute(stmt)).all()]


async def order_numbers(session: AsyncSession, task_ids: Iterable[int]) -> dict[int, str]:
    """The order number of each task."""
    stmt = select(PickTask.id, PickTask.order_no).where(PickTask.id.in_(list(task_ids)))
    return {row.id: row.order_no for row in (await session.execute(stmt)).all()}


async def task_counts(session: AsyncSession, wave_ids: Sequence[int]) -> dict[int, int]:
    if not wave_ids:
        return {}
    stmt = (
        select(PickTask.wave_id, func.count())
        .where(PickTask.wave_id.in_(list(wave_ids)))
        .group_by(PickTask.wave_id)
    )
    return {wave_id: int(n) for wave_id, n in (await session.execute(stmt)).all()}


async def unshipped_in_wave(session: AsyncSession, wave_id: int) -> int:
    driver = await driver_connection(session)
    if driver is not None:
        return int(await driver.fetchval(UNSHIPPED_IN_WAVE_PG, wave_id, TaskStatus.SHIPPED))
    stmt = select(func.count()).where(PickTask.wave_id == wave_id, PickTask.status != TaskStatus.SHIPPED)
    return int(await session.scalar(stmt) or 0)
