"""Campaigns (LOY-3) through the API: created, listed and read (loyalty's), and their figures with
the ROI (queried here, above orders)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shopflow.analytics import campaigns as figures
from shopflow.core import clock
from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Page
from shopflow.loyalty import campaigns as service
from shopflow.loyalty.campaign_models import Campaign, CampaignKind, Metrics
from shopflow.loyalty.campaign_schemas import CampaignIn, CampaignOut, DayOut, MetricsOut

router = APIRouter(tags=["campaigns"], responses=problems(401, 403))
CampaignId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def campaign_out(campaign: Campaign) -> CampaignOut:
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        theme=campaign.theme,
        kind=CampaignKind(campaign.kind),
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        channels=campaign.channels,
        coupon_ids=campaign.coupon_ids,
        price_rule_ids=campaign.price_rule_ids,
        gift_sku=campaign.gift_sku,
        gift_min_spend=campaign.gift_min_spend,
        budget=campaign.budget,
        created_at=campaign.created_at,
    )


def state_of(campaign: Campaign) -> str:
    now = clock.now()
    if not campaign.has_started(now):
        return "scheduled"
    return "running" if campaign.is_open(now) else "ended"


def metrics_out(campaign: Campaign, found: Metrics) -> MetricsOut:
    roi = found.roi
    return MetricsOut(
        campaign_id=campaign.id,
        state=state_of(campaign),
        as_of=clock.now(),
        orders=found.orders,
        sales=found.sales,
        discounts=found.discounts,
        coupon_uses=found.coupon_uses,
        new_members=found.new_members,
        gross_margin=found.gross_margin,
        gift_cost=found.gift_cost,
        cost=found.cost,
        roi=None if roi is None else f"{roi:f}",
        days=[
            DayOut(day=d.day, orders=d.orders, sales=d.sales, discounts=d.discounts, gross_margin=d.margin)
            for d in found.days
        ],
    )


@router.post("/campaigns", status_code=201, response_model=CampaignOut, responses=problems(422))
async def create_campaign(
    data: CampaignIn, session: Session, actor: Annotated[Actor, require("coupons.write")]
) -> CampaignOut:
    """A campaign (LOY-3): `kind` promotion, holiday or new_product; its window [starts_at,
    ends_at); its channels (none: every channel); its coupons and price rules (`price_rule_ids`,
    CAT-3), through which orders are attributed to it; optionally a gift SKU over a minimum spend
    (added free by order intake while in stock) and a budget."""
    return campaign_out(await service.create_campaign(session, actor, data))


@router.get("/campaigns", response_model=Page[CampaignOut])
async def list_campaigns(
    session: Session, pages: Pages, _: Annotated[Actor, require("coupons.read")]
) -> Page[CampaignOut]:
    campaigns, total = await service.campaigns_page(session, pages.page, pages.page_size)
    return Page[CampaignOut](**pages.of([campaign_out(c) for c in campaigns], total))


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, responses=problems(404))
async def get_campaign(
    campaign_id: CampaignId, session: Session, _: Annotated[Actor, require("coupons.read")]
) -> CampaignOut:
    return campaign_out(await service.get_campaign(session, campaign_id))


@router.get("/campaigns/{campaign_id}/metrics", response_model=MetricsOut, responses=problems(404))
async def campaign_metrics(
    campaign_id: CampaignId, session: Session, _: Annotated[Actor, require("coupons.read")]
) -> MetricsOut:
    """The campaign's figures so far: orders attributed (created in the window, in its channels,
    not cancelled, holding a use of one of its coupons not released), their sales (totals), the
    discounts of those uses, the uses, new members (customers whose first order is attributed),
    gross margin (Σ unit_price·quantity − line discount − unit_cost·quantity), cost (discounts and
    gifts), ROI = (gross margin − cost) / cost (null when the cost is 0), and the series by day."""
    campaign = await service.get_campaign(session, campaign_id)
    return metrics_out(campaign, await figures.metrics(session, campaign))
