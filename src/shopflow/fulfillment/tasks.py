"""What the worker runs for fulfillment: the breach action of the no-event clock (FUL-6)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import sla
from shopflow.core.sla.models import SlaClock
from shopflow.fulfillment.models.shipments import ShipmentClock, shipment_of_subject
from shopflow.fulfillment.service import tracking


async def stuck_shipment(session: AsyncSession, found: SlaClock) -> None:
    """No tracking event for the policy's hours: the parcel is stuck and a case opens."""
    await tracking.stuck(session, shipment_of_subject(found.subject))


# The exception-contact clock's breach needs nothing beyond the sweep's alert.
BREACH_ACTIONS: Mapping[str, sla.BreachAction] = {ShipmentClock.NO_EVENT: stuck_shipment}
