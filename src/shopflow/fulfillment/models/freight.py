"""Carriers' freight bills and the outcome of matching each line against the shipments (FUL-8)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shopflow.core.db import Base, BigId, UTCDateTime


class BillOutcome(StrEnum):
    MATCHED = "matched"  # billed at most the expected cost
    OVER_CHARGED = "over_charged"  # billed more than expected, or billed again
    UNKNOWN_WAYBILL = "unknown_waybill"  # not a shipment of this carrier
    MISSING_BILL = "missing_bill"  # shipped with this carrier in the period, not billed


class FreightBill(Base):
    __tablename__ = "freight_bills"
    __table_args__ = (UniqueConstraint("carrier_id", "reference"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"))
    reference: Mapped[str] = mapped_column(String(120))
    period_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FreightBillLine(Base):
    __tablename__ = "freight_bill_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("freight_bills.id"), index=True)
    row: Mapped[int | None] = mapped_column(Integer)  # the file's line; None for a missing bill
    waybill: Mapped[str] = mapped_column(String(40))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    billed: Mapped[int | None] = mapped_column(BigInteger)
    expected: Mapped[int | None] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(20))
