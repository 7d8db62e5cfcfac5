"""INV-4: each SKU watched against its safety stock over all warehouses (its own threshold or the
policy's) and, where one is set, in one warehouse against that warehouse's threshold. A watch's
`alerted` flag is set by one conditional UPDATE when its stock falls below: only the UPDATE that
set it raises the alert, so a fall alerts once however many sales follow and however many workers
run; it is cleared, and the alert resolved, when the stock is back at or above. The sweep runs in
the worker, so selling costs nothing more."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog.models import Sku
from shopflow.core import alerts, audit, clock
from shopflow.core.audit import Actor
from shopflow.inventory import service as inventory
from shopflow.planning import repository
from shopflow.planning.models import SafetyLevel

LOW_STOCK = "low_stock"  # the alert kind (INV-4)
BACK_ABOVE_SAFETY = "stock is back at or above its safety stock"  # the note of a resolved one


def sku_subject(code: str, warehouse: str | None = None) -> str:
    return f"sku:{code}" if warehouse is None else f"sku:{code}@{warehouse}"


def _dedupe(subject: str, falls: int) -> str:
    # The n-th fall's key ends in n - 1: the key the sweep before the watches gave the first one.
    return f"{LOW_STOCK}:{subject}:{falls - 1}"


async def watch(session: AsyncSession) -> int:
    """Raise a low-stock alert for each watch newly below its threshold, resolve those back at or
    above; how many alerts it raised or resolved (the worker's sweep)."""
    at = clock.now()
    low, _ = await inventory.low_stock(session, None)
    below = {found.sku_id: found for found in low}
    await repository.ensure_sku_levels(session, below)
    over_all = SafetyLevel.warehouse_id.is_(None)
    fallen = await repository.flip(session, [over_all, SafetyLevel.sku_id.in_(sorted(below))], True, at)
    recovered = await repository.flip(
        session, [over_all, SafetyLevel.sku_id.not_in(sorted(below))], False, at
    )
    raised = []
    for _, sku_id, _, falls in fallen:
        found = below[sku_id]
        subject = sku_subject(found.code)
        message = (
            f"{found.code} {found.name}: {found.available} available,"
            f" below its safety stock of {found.safety_stock}"
        )
        raised.append(alerts.row(LOW_STOCK, subject, message, _dedupe(subject, falls)))
    codes = await repository.sku_codes(session, [sku_id for _, sku_id, _, _ in recovered])
    resolved = [sku_subject(codes[sku_id]) for _, sku_id, _, _ in recovered]

    watches = await repository.warehouse_watches(session)
    low_here = {w[0]: w for w in watches if w[4] < w[5]}
    fallen_here = await repository.flip(session, [SafetyLevel.id.in_(sorted(low_here))], True, at)
    back_ids = sorted(w[0] for w in watches if w[0] not in low_here)
    back_here = await repository.flip(session, [SafetyLevel.id.in_(back_ids)], False, at)
    for watch_id, _, _, falls in fallen_here:
        _, code, name, warehouse, available, threshold = low_here[watch_id]
        subject = sku_subject(code, warehouse)
        message = (
            f"{code} {name} in {warehouse}: {available} available,"
            f" below its safety stock there of {threshold}"
        )
        raised.append(alerts.row(LOW_STOCK, subject, message, _dedupe(subject, falls)))
    by_id = {w[0]: w for w in watches}
    resolved += [sku_subject(by_id[watch_id][1], by_id[watch_id][3]) for watch_id, *_ in back_here]

    for subject in resolved:
        await alerts.resolve_causes(session, subject, [LOW_STOCK], BACK_ABOVE_SAFETY)
    await alerts.raise_many(session, raised)
    return len(raised) + len(resolved)


async def set_warehouse_threshold(
    session: AsyncSession, actor: Actor, sku: Sku, warehouse_code: str, threshold: int | None
) -> None:
    """INV-4: the SKU's safety stock in one warehouse (None: that warehouse is not watched apart)."""
    warehouse = await inventory.get_warehouse(session, warehouse_code)
    before = (await repository.warehouse_thresholds(session, sku.id)).get(warehouse.id)
    await repository.set_warehouse_threshold(session, sku.id, warehouse.id, threshold)
    await audit.record(
        session,
        audit.row(
            actor,
            "safety_stock.set",
            "sku",
            sku.code,
            {"warehouse": warehouse.code, "threshold": before},
            {"warehouse": warehouse.code, "threshold": threshold},
        ),
    )


async def warehouse_levels(session: AsyncSession, sku: Sku) -> list[tuple[str, int | None]]:
    """Each warehouse's code with the SKU's threshold there (None: not watched apart), by priority."""
    thresholds = await repository.warehouse_thresholds(session, sku.id)
    return [(w.code, thresholds.get(w.id)) for w in await inventory.list_warehouses(session)]
