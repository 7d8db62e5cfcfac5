"""Fulfillment's states, tracking events and exception kinds as the console names them."""

from __future__ import annotations

from shopflow.core.console.i18n import label
from shopflow.fulfillment.models.picking import TaskStatus, WaveStatus
from shopflow.fulfillment.models.shipments import CaseState, ExceptionKind, ShipmentStatus, TrackingStatus

WAVE_STATUS = {
    WaveStatus.OPEN: label("wave status", "in progress"),
    WaveStatus.DONE: label("wave status", "done"),
}
TASK_STATUS = {
    TaskStatus.PICKING: label("pick task status", "picking"),
    TaskStatus.PACKED: label("pick task status", "packed"),
    TaskStatus.CHECKED: label("pick task status", "checked"),
    TaskStatus.SHIPPED: label("pick task status", "shipped"),
}
SHIPMENT_STATUS = {
    ShipmentStatus.SHIPPED: label("shipment status", "handed over"),
    ShipmentStatus.IN_TRANSIT: label("shipment status", "in transit"),
    ShipmentStatus.EXCEPTION: label("shipment status", "exception"),
    ShipmentStatus.DELIVERED: label("shipment status", "delivered"),
    ShipmentStatus.RETURNED: label("shipment status", "returned"),
}
TRACKING = {
    TrackingStatus.PICKED_UP: label("tracking event", "Picked up"),
    TrackingStatus.IN_TRANSIT: label("tracking event", "In transit"),
    TrackingStatus.AT_HUB: label("tracking event", "Arrived at hub"),
    TrackingStatus.OUT_FOR_DELIVERY: label("tracking event", "Out for delivery"),
    TrackingStatus.DELIVERED: label("tracking event", "Delivered"),
    TrackingStatus.EXCEPTION: label("tracking event", "Exception"),
    TrackingStatus.DAMAGED: label("tracking event", "Damaged"),
    TrackingStatus.LOST: label("tracking event", "Lost"),
    TrackingStatus.RETURNED: label("tracking event", "Returned"),
}
EXCEPTION_KINDS = {
    ExceptionKind.STUCK: label("exception kind", "no tracking update"),
    ExceptionKind.DAMAGED: label("exception kind", "damaged"),
    ExceptionKind.LOST: label("exception kind", "lost"),
    ExceptionKind.RETURNED: label("exception kind", "returned"),
    ExceptionKind.OTHER: label("exception kind", "other problem"),
}
CASE_STATES = {
    CaseState.OPEN: label("exception state", "to contact"),
    CaseState.CLOSED: label("exception state", "contacted"),
}
