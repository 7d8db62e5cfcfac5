"""Analytics and monitoring (ANA-1..5): alerts, SLA clocks of a subject, compliance per clock kind."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shopflow.analytics import service
from shopflow.analytics.schemas import (
    AlertOut,
    BulkAcknowledged,
    BulkAcknowledgeIn,
    ClockOut,
    ComplianceOut,
    Kind,
    Minutes,
    Owner,
    ResolveIn,
    SubjectClocks,
)
from shopflow.core.alerts import Alert, AlertFilter, AlertState
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import AwareWhen, Id, Page

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
    kind: Annotated[Kind | None, Query()] = None,
    owner: Annotated[Owner | None, Query()] = None,
    older_than_minutes: Annotated[Minutes | None, Query()] = None,
    since: Annotated[AwareWhen | None, Query(description="raised at or after this time")] = None,
) -> Page[AlertOut]:
    """Alerts (ANA-3), newest first: SLA breaches, payment mismatches, …"""
    chosen = AlertFilter(kind, owner, state, older_than_minutes, since)
    items, total = await service.list_alerts(session, chosen, pages.page, pages.page_size)
    return Page[AlertOut](**pages.of([_alert(a) for a in items], total))


@router.post("/alerts/acknowledge", response_model=BulkAcknowledged)
async def acknowledge_alerts(
    data: BulkAcknowledgeIn, session: Session, actor: Annotated[Actor, require("alerts.read")]
) -> BulkAcknowledged:
    """Acknowledge the open alerts among `ids`, or every open alert matching `filter`, audited per
    alert. Naming a kind the caller may not acknowledge (by id or in the filter) is a 403; a
    filter without a kind acknowledges only the kinds the caller may."""
    if data.filter is None:
        count = await service.acknowledge_many(session, actor, ids=data.ids or ())
    else:
        count = await service.acknowledge_many(session, actor, chosen=data.filter.chosen())
    return BulkAcknowledged(acknowledged=count)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=problems(404, 409))
async def acknowledge_alert(
    alert_id: Id, session: Session, actor: Annotated[Actor, require("alerts.read")]
) -> AlertOut:
    """The caller has seen the alert and owns it; acknowledging it again is refused (409), and so
    is a kind the caller's role may not acknowledge (403)."""
    return _alert(await service.acknowledge(session, actor, alert_id))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, responses=problems(404, 409))
async def resolve_alert(
    alert_id: Id, data: ResolveIn, session: Session, actor: Annotated[Actor, require("alerts.read")]
) -> AlertOut:
    """Close the alert by hand with a note (open or acknowledged; a resolved one is a 409)."""
    return _alert(await service.resolve(session, actor, alert_id, data.note))


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


@router.get("/sla/compliance", response_model=list[ComplianceOut])
async def sla_compliance(
    session: Session,
    _: Annotated[Actor, require("sla.read")],
    due_from: Annotated[AwareWhen, Query(alias="from")],
    due_to: Annotated[AwareWhen, Query(alias="to")],
) -> list[ComplianceOut]:
    """SLA-3: per clock kind, the clocks due in [from, to) met and breached, and the rate met /
    (met + breached). Cancelled clocks (their subject ended early) are counted apart and never
    make a rate: a cancelled order is neither an on-time nor a late shipment."""
    found = await service.compliance(session, due_from, due_to)
    return [
        ComplianceOut(kind=c.kind, met=c.met, breached=c.breached, cancelled=c.cancelled, rate=c.rate)
        for c in found
    ]
