"""The demo's after-sales desk (ASV-1..6): a few cases on recently delivered orders, each left in
another state (awaiting review, rejected, goods on their way back, refunded, a compensation being
refunded), opened an hour before now so that none of their clocks is late."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import service
from shopflow.aftersales.models import Case, CaseType, Reason
from shopflow.aftersales.schemas import CaseIn, ReturnShipmentIn
from shopflow.core import money, policy
from shopflow.core.audit import Actor
from shopflow.orders.models import Order
from shopflow.orders.service import queries

SERVICE = Actor(user_id=None, name="customer_service", role="customer_service")
# (type, reason, the state it is left in), one order each, newest delivered first.
DESK = (
    (CaseType.RETURN_REFUND, Reason.QUALITY, "requested"),
    (CaseType.RETURN_REFUND, Reason.OTHER, "rejected"),
    (CaseType.RETURN_REFUND, Reason.DAMAGED_IN_TRANSIT, "awaiting_return"),
    (CaseType.REFUND_ONLY, Reason.WRONG_ITEM, "refunded"),
    (CaseType.COMPENSATION, Reason.QUALITY, "refunding"),
)
COMPENSATION = 2000  # ¥20.00, within an agent's limit
REJECTED = "照片显示商品已使用"  # what an agent writes


async def _opened(session: AsyncSession, order: Order, case_type: CaseType, reason: Reason) -> Case:
    line = order.lines[0]
    lines = [] if case_type is CaseType.COMPENSATION else [{"sku": line.sku_code, "quantity": 1}]
    amount = money.fmt(COMPENSATION) if case_type is CaseType.COMPENSATION else None
    data = CaseIn.model_validate(
        {"order_id": order.id, "type": case_type, "reason": reason, "lines": lines, "amount": amount}
    )
    return await service.open_case(session, SERVICE, data)


async def open_desk(session: AsyncSession, now: datetime) -> int:
    """Open the desk's cases on orders delivered within the quality window; how many were opened."""
    window = timedelta(days=policy.current().aftersales.quality_return_days - 1)
    recent = [o for o in await queries.delivered_since(session, now - window) if o.delivered_at is not None]
    for order, (case_type, reason, state) in zip(recent, DESK, strict=False):
        case = await _opened(session, await queries.get_order(session, order.id), case_type, reason)
        match state:
            case "requested":
                pass
            case "rejected":
                await service.reject(session, SERVICE, case.id, REJECTED)
            case "awaiting_return":
                await service.approve(session, SERVICE, case.id)
                shipment = ReturnShipmentIn(carrier="SF", tracking_no=f"SF{order.id:010d}")
                await service.record_return_shipment(session, SERVICE, case.id, shipment)
            case "refunded":
                await service.approve(session, SERVICE, case.id)
                await service.request_refund(session, SERVICE, case.id)
                await service.refund_settled(session, case.id, case.refund_total)
            case "refunding":
                await service.approve(session, SERVICE, case.id)
                await service.request_refund(session, SERVICE, case.id)
    return min(len(recent), len(DESK))
