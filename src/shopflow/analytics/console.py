"""Console pages of monitoring (ANA-3): alerts filtered by state, kind, owner and age, each with
its message and subject; acknowledged one by one or in bulk (the selected ones, or all matching
the filter), resolved with a note."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from shopflow.analytics import service
from shopflow.core import alerts, sla
from shopflow.core.alerts import AlertFilter, AlertState
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, chosen, form_values, page_size
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import ROLES, Console
from shopflow.core.console.registry import ALERT_STATES, NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, Invalid

router = APIRouter(include_in_schema=False)
FILTERS = ("state", "kind", "owner", "older_than")
USER_OWNER = "user:"
NOTHING_SELECTED = "select the alerts to acknowledge"
MESSAGES = (
    (re.escape(sla.MET_LATE), N_("The late step happened.")),
    (re.escape(sla.ENDED_EARLY), N_("Its subject ended early.")),
    (r"no alert (?P<id>\d+)", N_("There is no alert %(id)s.")),
    (NOTHING_SELECTED, N_("Select the alerts to acknowledge first.")),
)


def _filter(values: dict[str, str]) -> AlertFilter:
    """The list's filter from its fields: state (blank: open; "all": any), kind, owner, and
    "older than" in minutes (anything but a positive number filters nothing)."""
    state = values.get("state") or AlertState.OPEN
    minutes = values.get("older_than", "")
    return AlertFilter(
        kind=values.get("kind") or None,
        owner=values.get("owner") or None,
        state=chosen(AlertState, state),
        older_than_minutes=int(minutes) if minutes.isdigit() and int(minutes) > 0 else None,
    )


def _owner_name(c: Console, owner: str) -> str:
    return owner.removeprefix(USER_OWNER) if owner.startswith(USER_OWNER) else c.labelled(ROLES, owner)


def _kinds(c: Console) -> dict[str, str]:
    """Every kind of alert the console knows, named for the reader: the registry's kinds and a
    missed deadline of each clock kind."""
    known = [*c.registry.alert_kinds, *(sla.breach_kind(kind) for kind in c.registry.clocks)]
    return dict(sorted(((kind, c.alert_kind(kind)) for kind in known), key=lambda pair: pair[1]))


def _row_values(c: Console) -> dict[str, Any]:
    """What a row of the list needs besides its alert."""
    return {
        "states": ALERT_STATES,
        "owner_name": lambda owner: _owner_name(c, owner),
        "may": lambda kind: c.can(alerts.permission(kind)),
    }


def _list_path(values: dict[str, str]) -> str:
    """The list with the filter a form was sent from."""
    shown = {name: values[name] for name in FILTERS if values.get(name)}
    return f"/alerts?{urlencode(shown)}" if shown else "/alerts"


@router.get("/alerts")
async def alert_list(
    session: Session,
    c: Annotated[Console, can_view("alerts.read")],
    state: Annotated[str, Query(max_length=20)] = AlertState.OPEN,
    kind: Annotated[str, Query(max_length=60)] = "",
    owner: Annotated[str, Query(max_length=80)] = "",
    older_than: Annotated[str, Query(max_length=9)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    filters = {"state": state, "kind": kind, "owner": owner, "older_than": older_than}
    size = page_size()
    found, total = await service.list_alerts(session, _filter(filters), page, size)
    return render(
        c,
        "alerts/list.html",
        alerts=found,
        filters=filters,
        pager=Pager(page, size, total),
        kinds=_kinds(c),
        roles={role: c.label(text) for role, text in ROLES.items()},
        **_row_values(c),
    )


@router.post("/alerts/acknowledge")
async def acknowledge_alerts(session: Session, c: Annotated[Console, can_do("alerts.read")]) -> Response:
    """Acknowledge the selected alerts (`ids`), or with `scope=matching` every open alert the
    list's filter matches; back to the list, saying how many."""
    form = await c.request.form()
    values = await form_values(c.request)
    back = _list_path(values)

    async def work() -> Response:
        if values.get("scope") == "matching":
            count = await service.acknowledge_many(session, c.actor, chosen=_filter(values))  # type: ignore[arg-type]
        else:
            ids = [int(found) for found in form.getlist("ids") if isinstance(found, str) and found.isdigit()]
            if not ids:
                raise Invalid(NOTHING_SELECTED, code="nothing_selected")
            count = await service.acknowledge_many(session, c.actor, ids=ids)  # type: ignore[arg-type]
        c.flash(c.gettext("%(count)d alerts acknowledged.", count=count))
        return redirect(back)

    async def refused(exc: AppError) -> Response:
        c.flash(c.error(exc), "error")
        return redirect(back)

    return await attempt(c, session, work, refused)


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge_alert(
    alert_id: int, session: Session, c: Annotated[Console, can_do("alerts.read")]
) -> Response:
    """Acknowledge (audited); from HTMX the answer is the alert's new table row."""
    alert = await service.acknowledge(session, c.actor, alert_id)  # type: ignore[arg-type]
    if c.request.headers.get("HX-Request"):
        return render(c, "alerts/_row.html", alert=alert, **_row_values(c))
    c.flash(c.gettext("Alert acknowledged."))
    return redirect("/alerts")


@router.post("/alerts/{alert_id}/resolve")
async def resolve_alert(
    alert_id: int, session: Session, c: Annotated[Console, can_do("alerts.read")]
) -> Response:
    """Resolve with a note (audited); back to the list the form was on."""
    values = await form_values(c.request)
    note = values.get("note", "").strip()
    back = _list_path(values)

    if not note:
        c.flash(c.gettext("Write a note saying why the alert needs nothing more."), "error")
        return redirect(back)

    async def work() -> Response:
        found = await service.resolve(session, c.actor, alert_id, note)  # type: ignore[arg-type]
        c.flash(c.gettext("Alert %(id)d resolved.", id=found.id))
        return redirect(back)

    async def refused(exc: AppError) -> Response:
        c.flash(c.error(exc), "error")
        return redirect(back)

    return await attempt(c, session, work, refused)


PAGES = Pages(
    router,
    nav=(NavItem("/alerts", label("nav", "Alerts"), "alerts.read", 90),),
    messages=MESSAGES,
)
