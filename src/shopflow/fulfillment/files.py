"""Carriers' files, parsed without I/O: tracking exports (FUL-5) and freight bills (FUL-8).

Each good row becomes a typed row; each bad row a `RowError` naming its line in the file (the
header is line 1) and the reason, so a person can fix the file and send it again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shopflow.core import money
from shopflow.core.errors import Invalid
from shopflow.fulfillment.freight import BilledRow
from shopflow.fulfillment.models.shipments import TRACKING_LABELS, TrackingStatus


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    waybill: str
    reason: str


@dataclass(frozen=True, slots=True)
class TrackingRow:
    row: int
    waybill: str
    status: TrackingStatus
    occurred_at: datetime
    location: str | None
    description: str | None


def _records(content: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(content.removeprefix("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in header]
    if missing:
        raise Invalid(
            f"the file needs the columns {', '.join(required)}; missing: {', '.join(missing)}",
            code="bad_file",
        )
    reader.fieldnames = header
    for record in reader:
        values = {key: (value or "").strip() for key, value in record.items() if isinstance(key, str)}
        if any(values.values()):
            yield reader.line_num, values


def tracking_status(value: str) -> TrackingStatus | None:
    """A status code (`in_transit`) or a carrier's Chinese label (`运输中`)."""
    if value in TRACKING_LABELS:
        return TRACKING_LABELS[value]
    try:
        return TrackingStatus(value.lower())
    except ValueError:
        return None


def event_time(value: str, zone: ZoneInfo) -> datetime | None:
    """ISO 8601; a time without a zone is the store's local time."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def parse_tracking(content: str, zone: ZoneInfo) -> tuple[list[TrackingRow], list[RowError]]:
    """Columns waybill, status, time (required), location, description."""
    rows: list[TrackingRow] = []
    errors: list[RowError] = []
    for line, values in _records(content, ("waybill", "status", "time")):
        waybill = values["waybill"]
        status = tracking_status(values["status"])
        at = event_time(values["time"], zone)
        if not waybill:
            errors.append(RowError(line, waybill, "the waybill is missing"))
        elif status is None:
            errors.append(RowError(line, waybill, f"unknown status {values['status']!r}"))
        elif at is None:
            errors.append(RowError(line, waybill, f"bad time {values['time']!r}: use ISO 8601"))
        else:
            location = values.get("location") or None
            description = values.get("description") or None
            rows.append(TrackingRow(line, waybill, status, at, location, description))
    return rows, errors


def parse_bill(content: str) -> tuple[list[BilledRow], list[RowError]]:
    """Columns waybill, amount (yuan, like 12.50)."""
    rows: list[BilledRow] = []
    errors: list[RowError] = []
    for line, values in _records(content, ("waybill", "amount")):
        waybill = values["waybill"]
        if not waybill:
            errors.append(RowError(line, waybill, "the waybill is missing"))
            continue
        try:
            amount = money.parse(values["amount"])
        except ValueError:
            errors.append(RowError(line, waybill, f"bad amount {values['amount']!r}"))
            continue
        rows.append(BilledRow(line, waybill, amount))
    return rows, errors
