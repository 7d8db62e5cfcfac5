from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shopflow.core.money import Amount, AmountText
from shopflow.core.schemas import MAX_INT32, AwareWhen, Input
from shopflow.fulfillment.models.carriers import TRACKING_PLACEHOLDER
from shopflow.fulfillment.models.freight import BillOutcome
from shopflow.fulfillment.models.picking import TaskStatus, WaveStatus
from shopflow.fulfillment.models.shipments import CaseState, ExceptionKind, ShipmentStatus, TrackingStatus

# Storage bound of the INTEGER weight columns.
MAX_WEIGHT_G = MAX_INT32
Weight = Annotated[int, Field(gt=0, le=MAX_WEIGHT_G)]
CarrierCode = Annotated[str, Field(min_length=2, max_length=20, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
TrackingNo = Annotated[str, Field(min_length=6, max_length=40, pattern=r"^[A-Za-z0-9-]+$")]


def _template(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    if TRACKING_PLACEHOLDER not in url:
        raise ValueError(f"must contain {TRACKING_PLACEHOLDER}")
    return url


TrackingTemplate = Annotated[str, Field(max_length=300), AfterValidator(_template)]


# --- waves and tasks ---------------------------------------------------------------------------


class WaveBuildIn(Input):
    max_orders: int | None = Field(default=None, gt=0, le=5000, description="default: policy wave_size")


class TaskLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sku_code: str
    name: str
    quantity: int


class TaskOut(BaseModel):
    id: int
    wave_id: int
    order_id: int
    order_no: str
    warehouse: str
    status: TaskStatus
    weight_g: int | None
    materials: list[str] | None
    qc_failures: int
    qc_note: str | None
    lines: list[TaskLineOut]


class WaveOut(BaseModel):
    id: int
    wave_no: str
    warehouse: str
    status: WaveStatus
    created_at: datetime
    done_at: datetime | None
    orders: int


class WaveDetail(WaveOut):
    tasks: list[TaskOut]


class PackIn(Input):
    weight_g: Weight
    materials: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1, max_length=20)


class CheckIn(Input):
    passed: bool
    reason: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _reason_when_failed(self) -> Self:
        if not self.passed and not (self.reason or "").strip():
            raise ValueError("a failed check needs a reason")
        return self


class ShipIn(Input):
    carrier: CarrierCode | None = Field(default=None, description="default: chosen by the rule table")
    tracking_no: TrackingNo | None = Field(default=None, description="default: a new waybill number")


# --- printable documents -----------------------------------------------------------------------


class SlipLine(BaseModel):
    sku_code: str
    name: str
    quantity: int


class PickListOrder(BaseModel):
    task_id: int
    order_no: str
    lines: list[SlipLine]


class PickList(BaseModel):
    wave_no: str
    warehouse: str
    warehouse_name: str
    created_at: datetime
    orders: list[PickListOrder]
    totals: list[SlipLine]  # per SKU over the wave: what to take from the shelves


class PackingSlip(BaseModel):
    order_id: int
    order_no: str
    parcel: str  # "1/2": this parcel of the order's parcels
    warehouse_name: str
    recipient: str  # masked (RSK-3)
    address: str
    postcode: str
    note: str | None
    lines: list[SlipLine]
    printed_at: datetime


# --- carriers and rules ------------------------------------------------------------------------


class CarrierIn(Input):
    code: CarrierCode
    name: str = Field(min_length=1, max_length=80)
    tracking_url: TrackingTemplate
    base_fee: AmountText
    per_kg_fee: AmountText
    push_secret: str | None = Field(default=None, min_length=16, max_length=200)


class CarrierPatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    tracking_url: TrackingTemplate | None = None
    base_fee: AmountText | None = None
    per_kg_fee: AmountText | None = None
    active: bool | None = None


class CarrierOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    tracking_url: str
    base_fee: Amount
    per_kg_fee: Amount
    active: bool


class CarrierCreated(CarrierOut):
    push_secret: str = Field(description="the HMAC key of pushed events: shown only here")


class RuleIn(Input):
    carrier: CarrierCode
    priority: int = Field(ge=0, le=1_000_000)
    province: str | None = Field(default=None, min_length=1, max_length=40)
    min_weight_g: int | None = Field(default=None, ge=0, le=MAX_WEIGHT_G)
    max_weight_g: int | None = Field(default=None, gt=0, le=MAX_WEIGHT_G)
    min_order_value: AmountText | None = None
    max_order_value: AmountText | None = None

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        for low, high, name in (
            (self.min_weight_g, self.max_weight_g, "max_weight_g"),
            (self.min_order_value, self.max_order_value, "max_order_value"),
        ):
            if low is not None and high is not None and high <= low:
                raise ValueError(f"{name} must be above the minimum")
        return self


class RuleOut(BaseModel):
    id: int
    carrier: str
    priority: int
    province: str | None
    min_weight_g: int | None
    max_weight_g: int | None
    min_order_value: Amount | None
    max_order_value: Amount | None


class CarrierChoice(BaseModel):
    carrier: str
    expected_cost: Amount


# --- shipments and tracking --------------------------------------------------------------------


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: TrackingStatus
    occurred_at: datetime
    location: str | None
    description: str | None
    source: str


class CaseOut(BaseModel):
    id: int
    shipment_id: int
    tracking_no: str
    order_id: int
    kind: ExceptionKind
    state: CaseState
    opened_at: datetime
    contact_by: datetime
    closed_at: datetime | None
    solution: str | None


class ShipmentOut(BaseModel):
    id: int
    order_id: int
    task_id: int
    warehouse: str
    carrier: str
    carrier_name: str
    tracking_no: str
    tracking_url: str
    status: ShipmentStatus
    weight_g: int
    expected_cost: Amount
    billed_cost: Amount | None
    shipped_at: datetime
    deliver_by: datetime
    delivered_at: datetime | None
    last_event: TrackingStatus | None
    last_event_at: datetime | None


class ShipmentDetail(ShipmentOut):
    timeline: list[EventOut]  # in event time order (FUL-5)
    exceptions: list[CaseOut]


class PushedEvent(Input):
    waybill: TrackingNo
    status: TrackingStatus
    time: AwareWhen
    location: str | None = Field(default=None, max_length=120)
    description: str | None = Field(default=None, max_length=300)


class PushIn(Input):
    events: list[PushedEvent] = Field(min_length=1, max_length=500)


class PushAck(BaseModel):
    stored: int
    duplicates: int


class ContactIn(Input):
    solution: str = Field(min_length=1, max_length=2000)


# --- reports -----------------------------------------------------------------------------------


class ScorecardOut(BaseModel):
    carrier: str
    name: str
    parcels: int
    on_time_rate: float | None = Field(description="delivered within the promise / parcels decided")
    exception_rate: float | None
    damage_rate: float | None
    average_cost: Amount | None


class RowErrorOut(BaseModel):
    row: int
    waybill: str
    reason: str


class BillLineOut(BaseModel):
    row: int | None
    waybill: str
    billed: Amount | None
    expected: Amount | None
    outcome: BillOutcome


class BillReport(BaseModel):
    bill_id: int
    carrier: str
    reference: str
    counts: dict[BillOutcome, int]
    lines: list[BillLineOut]
    errors: list[RowErrorOut]
