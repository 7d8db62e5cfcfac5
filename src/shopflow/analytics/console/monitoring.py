"""Console pages of monitoring (ANA-3): alerts filtered by state, kind, owner and age, each with
its message and subject; acknowledged one by one or in bulk (the selected ones, or all matching
the filter), resolved with a note. The funnel (CRM-5): visitors → inquiries → buyers →
repeaters by period and channel, drawn and tabled."""

from __future__ import annotations

import json
import math
import re
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from shopflow.analytics import service
from shopflow.analytics.models import FIRST_DAY, LAST_DAY, STAGES, PeriodKind
from shopflow.core import alerts, clock, policy, sla
from shopflow.core.alerts import AlertFilter, AlertState
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, chosen, form_errors, form_values, page_size
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import ROLES, Console
from shopflow.core.console.registry import ALERT_STATES
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
    ("must not be before from", N_("must not be before the first day")),
    (
        r"must be at most (?P<days>\d+) days after from",
        N_("must be at most %(days)s days after the first day"),
    ),
    (r"unknown channel '(?P<channel>[^']*)'.*", N_("unknown channel %(channel)s")),
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


# --- the funnel (CRM-5) ------------------------------------------------------------------------

FUNNEL_DAYS = 30  # the range shown when none is chosen: the last 30 days
STAGE_LABELS = {
    "visitors": label("funnel stage", "Visitors"),
    "inquiries": label("funnel stage", "Inquiries"),
    "buyers": label("funnel stage", "Buyers"),
    "repeaters": label("funnel stage", "Repeaters"),
}
PERIOD_LABELS = {
    "day": label("funnel period", "Day"),
    "week": label("funnel period", "Week"),
    "month": label("funnel period", "Month"),
}


def funnel_chart(c: Console, counts: dict[str, int]) -> str:
    """An ECharts option as JSON, drawn by static/console.js: the stages as bars centred on one
    axis (a funnel from the bar series the vendored build has), each as wide as the logarithm of
    its count, so that a few buyers among thousands of visitors still show; labels the counts."""
    widest = max(counts.values(), default=0)
    scale = math.log1p(widest) or 1.0
    widths = {s: round(widest * math.log1p(counts[s]) / scale, 2) for s in STAGES}
    colors = ("#2f6fde", "#4f8ae6", "#2a9d8f", "#1b7a5a")
    option: dict[str, Any] = {
        "animation": False,
        "title": {"text": c.gettext("Funnel"), "textStyle": {"fontSize": 14, "fontWeight": 600}},
        "grid": {"left": 80, "right": 16, "top": 40, "bottom": 16},
        "xAxis": {"type": "value", "show": False, "max": max(widest, 1)},
        "yAxis": {"type": "category", "inverse": True, "data": [c.label(STAGE_LABELS[s]) for s in STAGES]},
        "series": [
            {
                "type": "bar",
                "stack": "funnel",
                "silent": True,
                "itemStyle": {"color": "transparent"},
                "data": [(widest - widths[s]) / 2 for s in STAGES],
            },
            {
                "type": "bar",
                "stack": "funnel",
                "barCategoryGap": "8%",
                "label": {"show": True, "position": "inside", "color": "#fff"},
                "data": [
                    {
                        "value": widths[s],
                        "label": {"formatter": str(counts[s])},
                        "itemStyle": {"color": color},
                    }
                    for s, color in zip(STAGES, colors, strict=True)
                ],
            },
        ],
    }
    return json.dumps(option, ensure_ascii=False)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def funnel_values(c: Console, found: service.Funnel) -> dict[str, Any]:
    """What the funnel's chart and stage table (`funnel/_stages.html`) need, on the funnel's page
    and on the dashboard."""
    return {
        "funnel": found,
        "chart": funnel_chart(c, found.total.counts),
        "stages": STAGES,
        "stage_labels": STAGE_LABELS,
        "percent": percent,
        "repeat_at": policy.current().crm.repeat_orders_at_least,
    }


def typed_range(c: Console, first: str, last: str) -> tuple[date | None, date | None, dict[str, str]]:
    """The days typed as `from` and `to` (blank: None), and the errors of those that are no day a
    range may hold, by field."""
    (start, start_error), (end, end_error) = c.typed_day(first), c.typed_day(last)
    errors = {name: text for name, text in (("from", start_error), ("to", end_error)) if text}
    for name, typed, day in (("from", first, start), ("to", last, end)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            errors[name] = c.gettext("%(value)s is not a date.", value=typed.strip())
    return start, end, errors


@router.get("/funnel")
async def funnel_page(
    session: Session,
    c: Annotated[Console, can_view("customers.read")],
    first: Annotated[str, Query(alias="from", max_length=20)] = "",
    last: Annotated[str, Query(alias="to", max_length=20)] = "",
    channel: Annotated[str, Query(max_length=40)] = "",
    period: Annotated[str, Query(max_length=10)] = "week",
) -> HTMLResponse:
    """CRM-5 from the first to the last store day (by default the last 30 days), per period and
    channel (all by default); bad filters are named and the default range shown."""
    today = clock.today()
    default = today - timedelta(days=FUNNEL_DAYS - 1), today
    start, end, errors = typed_range(c, first, last)
    kind = period if period in PeriodKind.__members__.values() else PeriodKind.WEEK
    chosen_channel = channel or None
    try:
        chosen_range = default if errors else (start or default[0], end or default[1])
        found = await service.funnel(session, *chosen_range, chosen_channel, PeriodKind(kind))
    except Invalid as exc:
        errors |= form_errors(exc, c)
        chosen_channel = None
        found = await service.funnel(session, *default, None, PeriodKind(kind))
    shown = found.total.period
    return render(
        c,
        "funnel/index.html",
        422 if errors else 200,
        **funnel_values(c, found),
        period_labels=PERIOD_LABELS,
        channels=policy.current().orders.channels,
        values={"from": shown.first.isoformat(), "to": shown.last.isoformat()}
        | ({"from": first, "to": last} if errors else {}),
        filters={"channel": chosen_channel or "", "period": kind},
        errors=errors,
    )
