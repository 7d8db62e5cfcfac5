from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shopflow.core.alerts import AlertState
from shopflow.core.sla import ClockState


class AlertOut(BaseModel):
    id: int
    kind: str
    subject: str
    message: str
    state: AlertState
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None  # the user who acknowledged it


class ClockOut(BaseModel):
    kind: str
    state: ClockState
    owner_id: int | None
    started_at: datetime
    deadline: datetime
    # Negative when overdue, frozen while paused, null once met or breached.
    seconds_left: float | None
    paused_at: datetime | None
    stopped_at: datetime | None
    breached_at: datetime | None


class SubjectClocks(BaseModel):
    subject: str
    at: datetime  # the time `seconds_left` is counted from
    clocks: list[ClockOut]
