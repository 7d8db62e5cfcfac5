from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shopflow.analytics import service
from shopflow.analytics.schemas import AlertOut, ClockOut, SubjectClocks
from shopflow.core.alerts import Alert, AlertState
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Page

router = APIRouter(tags=["monitoring"], responses=problems(401, 403))

# "order:42", "shipment:7": a domain's name and the subject's id.
SUBJECT = r"^[a-z_]+:[A-Za-z0-9_-]+$"


def _alert(alert: Alert) -> AlertOut:
    return AlertOut.model_validate(alert, from_attributes=True)


@router.get("/alerts", response_model=Page[AlertOut])
async def list_alerts(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("alerts.read")],
    state: AlertState | None = None,
    kind: Annotated[str | None, Query(max_length=60)] = None,
) -> Page[AlertOut]:
    """Alerts (ANA-3), newest first: SLA breaches, payment mismatches, …"""
    items, total = await service.list_alerts(session, state, kind, pages.page, pages.page_size)
    return Page[AlertOut](**pages.of([_alert(a) for a in items], total))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=problems(404, 409))
async def acknowledge_alert(
    alert_id: int, session: Session, actor: Annotated[Actor, require("alerts.acknowledge")]
) -> AlertOut:
    """The caller has seen the alert and owns it; acknowledging it again is refused (409)."""
    return _alert(await service.acknowledge(session, actor, alert_id))


@router.get("/sla", response_model=SubjectClocks)
async def subject_clocks(
    session: Session,
    _: Annotated[Actor, require("sla.read")],
    subject: Annotated[str, Query(max_length=80, pattern=SUBJECT)],
) -> SubjectClocks:
    """The SLA clocks of one subject (SLA-1), e.g. `?subject=order:42`, with the time each has left."""
    at, found = await service.clocks_of(session, subject)
    clocks = [
        ClockOut(
            kind=c.kind,
            state=c.state,
            owner_id=c.owner_id,
            started_at=c.started_at,
            deadline=c.deadline,
            seconds_left=c.seconds_left(at),
            paused_at=c.paused_at,
            stopped_at=c.stopped_at,
            breached_at=c.breached_at,
        )
        for c in found
    ]
    return SubjectClocks(subject=subject, at=at, clocks=clocks)
