"""Console pages of monitoring: alerts, open or acknowledged, and acknowledging them (ANA-3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from shopflow.analytics import service
from shopflow.core.alerts import AlertState
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, page_size
from shopflow.core.console.i18n import label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import ALERT_STATES, NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view

router = APIRouter(include_in_schema=False)


@router.get("/alerts")
async def alert_list(
    session: Session,
    c: Annotated[Console, can_view("alerts.read")],
    state: str = AlertState.OPEN,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    chosen = AlertState(state) if state in AlertState.__members__.values() else None
    size = page_size()
    found, total = await service.list_alerts(session, chosen, None, page, size)
    return render(
        c, "alerts/list.html", alerts=found, state=state, pager=Pager(page, size, total), states=ALERT_STATES
    )


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge_alert(
    alert_id: int, session: Session, c: Annotated[Console, can_do("alerts.acknowledge")]
) -> Response:
    """Acknowledge (audited); from HTMX the answer is the alert's new table row."""
    alert = await service.acknowledge(session, c.actor, alert_id)  # type: ignore[arg-type]
    if c.request.headers.get("HX-Request"):
        return render(c, "alerts/_row.html", alert=alert, states=ALERT_STATES)
    c.flash(c.gettext("Alert acknowledged."))
    return redirect("/alerts")


PAGES = Pages(router, nav=(NavItem("/alerts", label("nav", "Alerts"), "alerts.read", 90),))
