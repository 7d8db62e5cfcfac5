"""Console pages of campaigns (LOY-3): the list with the new-campaign form, and a campaign's page
with its offers, its figures (refreshing every 30 s while the window is open) and a chart of its
days with the ROI. Here, above orders, because the figures read orders (`analytics.campaigns`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.analytics import campaigns as figures
from shopflow.core import clock, policy
from shopflow.core.api import Session
from shopflow.core.console.forms import (
    Pager,
    attempt,
    day_window,
    form_errors,
    form_values,
    page_size,
    parsed,
    words,
)
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError, FieldError, Invalid
from shopflow.loyalty import campaigns as service
from shopflow.loyalty.campaign_models import Campaign, CampaignKind, Metrics
from shopflow.loyalty.campaign_schemas import CampaignIn

router = APIRouter(include_in_schema=False)
CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]
FIELDS = ("name", "theme", "kind", "gift_sku", "gift_min_spend", "budget")
# The form's fields of the service's: its days (the last one included) stand for its window.
FORM_FIELDS = {
    "starts_at": "starts_on",
    "ends_at": "ends_on",
    "coupon_ids": "coupons",
    "price_rule_ids": "price_rules",
}
# How often an open campaign's figures are asked for again (HTMX polling), in seconds.
LIVE_SECONDS = 30

KINDS = {
    CampaignKind.PROMOTION: label("campaign kind", "promotion"),
    CampaignKind.HOLIDAY: label("campaign kind", "holiday"),
    CampaignKind.NEW_PRODUCT: label("campaign kind", "new product"),
}
STATES = {
    "scheduled": label("campaign state", "scheduled"),
    "running": label("campaign state", "running"),
    "ended": label("campaign state", "ended"),
}
MESSAGES = (
    ("Field required", N_("is required")),
    (r"String should have at least (?P<n>\d+) characters?", N_("at least %(n)s characters")),
    (r"String should have at most (?P<n>\d+) characters?", N_("at most %(n)s characters")),
    (r"Input should be 'promotion', 'holiday' or 'new_product'", N_("choose the kind of campaign")),
    (r"['\"](?P<value>.*)['\"] is not an amount", N_("%(value)s is not an amount")),
    (r"['\"].*['\"] is negative", N_("must not be negative")),
    (r"['\"].*['\"] has more than two decimals", N_("at most two decimals")),
    ("must be after starts_at", N_("must not be before the first day")),
    (
        r"unknown channels: (?P<channels>.+): one of (?P<known>.+)",
        N_("unknown channels %(channels)s: one of %(known)s"),
    ),
    (r"unknown coupons: (?P<coupons>.+)", N_("unknown coupons: %(coupons)s")),
    (r"unknown price rules: (?P<rules>.+)", N_("unknown price rules: %(rules)s")),
    (r"unknown SKU: (?P<sku>.+)", N_("unknown SKU: %(sku)s")),
    (
        "a minimum spend for a gift needs the gift's SKU",
        N_("a minimum spend for a gift needs the gift's SKU"),
    ),
    (r"no campaign (?P<campaign>\d+)", N_("There is no campaign %(campaign)s.")),
    (r"must lie between .*", N_("is outside the dates the store can keep")),
)


def _form_field(name: str) -> str:
    """A service's field as the form names it: `channels[1]` -> `channels`, `ends_at` -> `ends_on`."""
    name = name.split("[", 1)[0]
    return FORM_FIELDS.get(name, name)


async def _campaign_in(session: AsyncSession, c: Console, values: dict[str, str]) -> CampaignIn:
    """The form as the service's input (coupons typed by their codes, price rules by their
    numbers); every error at its field."""
    data: dict[str, Any] = {name: text for name in FIELDS if (text := values.get(name, "").strip())}
    window, errors = day_window(c, values, required=True)
    data["channels"] = words(values.get("channels", ""))
    codes = words(values.get("coupons", ""))
    ids = await service.coupon_ids_by_code(session, codes)
    unknown = [code for code in codes if code.upper() not in ids]
    if unknown:
        errors.append(FieldError("coupon_ids", f"unknown coupons: {', '.join(unknown)}"))
    data["coupon_ids"] = sorted(set(ids.values()))
    rules = words(values.get("price_rules", ""))
    if not_numbers := [rule for rule in rules if not rule.isdecimal()]:
        errors.append(FieldError("price_rule_ids", f"unknown price rules: {', '.join(not_numbers)}"))
    data["price_rule_ids"] = [int(rule) for rule in rules if rule.isdecimal()]
    try:
        campaign = parsed(CampaignIn, data | window)
    except Invalid as exc:
        errors = [*exc.errors, *errors]
    if errors:
        raise Invalid("the form has errors; nothing was stored", errors=errors)
    return campaign


def state_of(campaign: Campaign, at: datetime) -> str:
    if not campaign.has_started(at):
        return "scheduled"
    return "running" if campaign.is_open(at) else "ended"


async def _list(
    session: AsyncSession,
    c: Console,
    page: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    size = page_size()
    campaigns, total = await service.campaigns_page(session, page, size)
    now = clock.now()
    return render(
        c,
        "campaigns/list.html",
        status,
        campaigns=campaigns,
        states={campaign.id: state_of(campaign, now) for campaign in campaigns},
        state_labels=STATES,
        kinds=KINDS,
        channels=policy.current().orders.channels,
        values=values if values is not None else {"kind": CampaignKind.PROMOTION},
        errors=errors or {},
        pager=Pager(page, size, total),
    )


@router.get("/campaigns")
async def campaign_list(
    session: Session, c: Annotated[Console, can_view("coupons.read")], page: Annotated[int, Query(ge=1)] = 1
) -> HTMLResponse:
    return await _list(session, c, page)


@router.post("/campaigns")
async def create_campaign(session: Session, c: Annotated[Console, can_do("coupons.write")]) -> Response:
    """A campaign from the form (LOY-3); on any error nothing is stored and the list comes back with
    the form as typed, each error next to its field."""
    values = await form_values(c.request)

    async def create() -> Response:
        data = await _campaign_in(session, c, values)
        campaign = await service.create_campaign(session, c.actor, data)  # type: ignore[arg-type]
        c.flash(c.gettext("Campaign %(name)s created.", name=campaign.name))
        return redirect(f"/campaigns/{campaign.id}")

    async def refused(exc: AppError) -> Response:
        return await _list(session, c, 1, values, form_errors(exc, c, _form_field), exc.status)

    return await attempt(c, session, create, refused, address="/campaigns")


def _roi_text(found: Metrics) -> str | None:
    roi = found.roi
    return None if roi is None else f"{roi * 100:.2f}%"


def _chart(c: Console, found: Metrics) -> str:
    """An ECharts option as JSON, drawn by static/console.js: sales and gross margin (yuan) and
    orders per day."""
    option: dict[str, Any] = {
        "animation": False,
        "title": {
            "text": c.gettext("By day · ROI %(roi)s", roi=_roi_text(found) or "—"),
            "textStyle": {"fontSize": 14, "fontWeight": 600},
        },
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24},
        "grid": {"left": 64, "right": 48, "top": 64, "bottom": 40},
        "xAxis": {"type": "category", "data": [day.day for day in found.days]},
        "yAxis": [
            {"type": "value", "name": c.gettext("yuan")},
            {"type": "value", "name": c.gettext("orders")},
        ],
        "series": [
            {
                "name": c.gettext("Sales"),
                "type": "bar",
                "data": [round(day.sales / 100, 2) for day in found.days],
                "itemStyle": {"color": "#2f6fde"},
            },
            {
                "name": c.gettext("Gross margin"),
                "type": "bar",
                "data": [round(day.margin / 100, 2) for day in found.days],
                "itemStyle": {"color": "#3a9b5c"},
            },
            {
                "name": c.gettext("Discounts"),
                "type": "bar",
                "data": [round(day.discounts / 100, 2) for day in found.days],
                "itemStyle": {"color": "#d9822b"},
            },
            {
                "name": c.gettext("Orders"),
                "type": "line",
                "yAxisIndex": 1,
                "data": [day.orders for day in found.days],
            },
        ],
    }
    return json.dumps(option, ensure_ascii=False)


@router.get("/campaigns/{campaign_id}")
async def campaign_page(
    campaign_id: CampaignId, session: Session, c: Annotated[Console, can_view("coupons.read")]
) -> HTMLResponse:
    """The campaign: its offers, its figures and the chart of its days; while its window is open
    the figures ask again every 30 s (an HTMX request gets the figures alone)."""
    campaign = await service.get_campaign(session, campaign_id)
    found = await figures.metrics(session, campaign)
    now = clock.now()
    details = {
        "campaign": campaign,
        "found": found,
        "roi": _roi_text(found),
        "state": state_of(campaign, now),
        "state_labels": STATES,
        "open": campaign.is_open(now),
        "refresh_seconds": LIVE_SECONDS,
        "chart": _chart(c, found),
        "as_of": now,
    }
    if c.request.headers.get("HX-Request"):
        return render(c, "campaigns/_figures.html", **details)
    return render(
        c,
        "campaigns/campaign.html",
        **details,
        kinds=KINDS,
        coupons=await service.coupon_codes(session, campaign.coupon_ids),
    )


PAGES = Pages(
    router,
    # Next to Coupons (91).
    nav=(NavItem("/campaigns", label("nav", "Campaigns"), "coupons.read", 92),),
    messages=MESSAGES,
)
