"""Console pages of fulfillment, one module per aggregate as in `service/`: picking (waves, pick
tasks, prints), shipments (parcels, tracking, exception cases), carriers (carriers, rules,
scorecards) and freight (bills); `PAGES` is their part of the console."""

from __future__ import annotations

from fastapi import APIRouter

from shopflow.core.console.i18n import label
from shopflow.core.console.registry import NavItem, Pages
from shopflow.fulfillment.console import carriers, freight, picking, shipments
from shopflow.fulfillment.console.labels import (
    CASE_STATES,
    SHIPMENT_STATUS,
    TASK_STATUS,
    TRACKING,
    WAVE_STATUS,
)
from shopflow.fulfillment.models.shipments import ShipmentClock

router = APIRouter(include_in_schema=False)
for part in (picking.router, shipments.router, carriers.router, freight.router):
    router.include_router(part)

PAGES = Pages(
    router,
    nav=(NavItem("/fulfillment", label("nav", "Fulfillment"), "fulfillment.read", 40),),
    states={
        "wave": WAVE_STATUS,
        "pick task": TASK_STATUS,
        "shipment": SHIPMENT_STATUS,
        "exception case": CASE_STATES,
        "tracking event": TRACKING,  # also a return shipment's (after-sales, ASV-3)
    },
    subjects={
        "shipment": ("/fulfillment/shipments/{id}", label("subject", "Shipment")),
        "exception": ("/fulfillment/exceptions/{id}", label("subject", "Exception case")),
    },
    clocks={
        ShipmentClock.NO_EVENT: label("clock", "Tracking update"),  # FUL-6
        ShipmentClock.EXCEPTION_CONTACT: label("clock", "Customer contact"),  # FUL-6
    },
    alert_kinds={"logistics_exception": label("alert kind", "Parcel problem")},
    messages=(*carriers.MESSAGES, *freight.MESSAGES, *picking.MESSAGES, *shipments.MESSAGES),
    panels={"order": (shipments.order_shipments,)},
)
