"""The console's home page, Today: the pipeline, late clocks, alerts, low stock, today's sales."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from shopflow.core import alerts, clock, sla
from shopflow.core.api import Session
from shopflow.core.console.i18n import label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import render
from shopflow.core.console.session import can_view
from shopflow.inventory import service as inventory
from shopflow.orders.models import OrderStatus
from shopflow.orders.service import queries as orders
from shopflow.payments import service as payments

router = APIRouter(include_in_schema=False)
SHORT_LIST = 10


def _chart(c: Console, title: str, names: list[str], values: list[float], kind: str) -> str:
    """An ECharts option as JSON, drawn by static/console.js."""
    option: dict[str, Any] = {
        "animation": False,
        "title": {"text": title, "textStyle": {"fontSize": 14, "fontWeight": 600}},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 56, "right": 16, "top": 40, "bottom": 48},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0, "rotate": 30}},
        "yAxis": {"type": "value"},
        "series": [{"type": kind, "data": values, "smooth": True, "itemStyle": {"color": "#2f6fde"}}],
    }
    return json.dumps(option, ensure_ascii=False)


@router.get("/")
async def today(session: Session, c: Annotated[Console, can_view("orders.read")]) -> HTMLResponse:
    counts = await orders.status_counts(session)
    states = [s for s in OrderStatus if s != OrderStatus.CLOSED or counts.get(s)]
    statuses = c.states("order")
    state_names = [c.labelled(statuses, s) for s in states]
    figures: dict[str, Any] = {
        "counts": counts,
        "states": states,
        "late_counts": await sla.late_by_kind(session, c.now),
        "late": await sla.late(session, c.now, SHORT_LIST),
        "open_alerts": await alerts.page(
            session, alerts.AlertFilter(state=alerts.AlertState.OPEN), 0, SHORT_LIST // 2
        ),
        "low": await inventory.low_stock(session, SHORT_LIST),
        "statuses": statuses,
        "pipeline_chart": _chart(
            c, c.gettext("Orders by state"), state_names, [counts.get(s, 0) for s in states], "bar"
        ),
        "takings": None,
    }
    if c.can("payments.read"):
        takings = await payments.takings(session, clock.local_day_bounds(clock.today()))
        figures["takings"] = takings
        figures["sales_chart"] = _chart(
            c,
            c.gettext("Sales by hour (¥)"),
            [f"{hour:02d}" for hour in range(24)],
            [fen / 100 for fen in takings.per_interval],
            "line",
        )
    live = bool(c.request.headers.get("HX-Request"))
    return render(c, "today/_live.html" if live else "today/index.html", **figures)


PAGES = Pages(router, nav=(NavItem("/", label("nav", "Today"), "orders.read", 10),))
