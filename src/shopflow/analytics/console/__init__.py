"""Console pages of analytics and monitoring: alerts and the funnel (monitoring), the dashboard
and the metric definitions (dashboard, definitions); `PAGES` is their part of the console."""

from __future__ import annotations

from fastapi import APIRouter

from shopflow.analytics.console import dashboard, monitoring
from shopflow.core.console.i18n import label
from shopflow.core.console.registry import NavItem, Pages

router = APIRouter(include_in_schema=False)
for part in (monitoring.router, dashboard.router):
    router.include_router(part)

PAGES = Pages(
    router,
    nav=(
        NavItem("/dashboard", label("nav", "Dashboard"), "analytics.read", 12),
        NavItem("/alerts", label("nav", "Alerts"), "alerts.read", 90),
    ),
    messages=monitoring.MESSAGES,
)
