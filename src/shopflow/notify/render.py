"""Customer notices from the template files in `templates/` (NTF-1): email subject, plain text and
HTML, and the SMS text, in Chinese (zh_CN) or English (en). Pure: no I/O besides reading the
package's own template files once."""

from __future__ import annotations

import html
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from shopflow.core import money

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("zh_CN", "en")
TIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True, slots=True)
class Notice:
    subject: str
    text: str
    html: str
    sms: str


@dataclass(frozen=True, slots=True)
class Facts:
    """What a notice says about an order; times are shown in the store's zone (ARCHITECTURE rule 6)."""

    store: str
    customer_name: str
    order_no: str
    total: int  # fen
    timezone: str
    ship_by: datetime | None = None
    reason: str | None = None
    # Each parcel as the fulfillment domain describes it (FUL-4): carrier (code) and carrier_name,
    # tracking_no, tracking_url. The customer is shown the carrier's name when there is one.
    parcels: list[Mapping[str, Any]] = field(default_factory=list)
    # The customer's page of the order (`portal.service.link`): a signed link, in every text and
    # under every HTML notice (the `[portal]` part of the layout).
    portal_url: str = ""
    # An after-sales case's notice: its number, the amount refunded (fen), why it was rejected
    # (the agent's words to the customer).
    case_no: str = ""
    refunded: int = 0
    reject_reason: str = ""
    # A survey's signed answer page (SVC-6) and a greeting's occasion, named in the language (SVC-8).
    survey_url: str = ""
    occasion: str = ""
    # A member's new tier (LOY-2), named in the language.
    tier: str = ""


@cache
def catalog(language: str) -> dict[str, Any]:
    """The templates of one language (a KeyError for a language Shopflow has none for)."""
    if language not in LANGUAGES:
        raise KeyError(f"no notice templates in {language!r}")
    return tomllib.loads((TEMPLATES / f"{language}.toml").read_text(encoding="utf-8"))


def _escaped(values: Mapping[str, str]) -> dict[str, str]:
    return {key: html.escape(value) for key, value in values.items()}


def render(language: str, event: str, facts: Facts) -> Notice:
    book = catalog(language)
    part = book[event]
    reasons: dict[str, str] = book["reasons"]
    ship_by = (
        facts.ship_by.astimezone(ZoneInfo(facts.timezone)).strftime(TIME_FORMAT) if facts.ship_by else ""
    )
    values = {
        "store": facts.store,
        "customer_name": facts.customer_name,
        "order_no": facts.order_no,
        "total": money.fmt(facts.total),
        "ship_by": ship_by,
        "reason": reasons.get(facts.reason or "other", reasons["other"]),
        "portal_url": facts.portal_url,
        "case_no": facts.case_no,
        "refunded": money.fmt(facts.refunded),
        "reject_reason": facts.reject_reason,
        "survey_url": facts.survey_url,
        "occasion": facts.occasion,
        "tier": facts.tier,
    }
    parcels = [
        {
            "carrier": str(parcel.get("carrier_name") or parcel["carrier"]),
            "tracking_no": str(parcel["tracking_no"]),
            "tracking_url": str(parcel["tracking_url"]),
        }
        for parcel in facts.parcels
    ]
    parcel = book["parcel"]
    text_parcels = [Template(parcel["text"]).substitute(p) for p in parcels]
    html_parcels = "".join(Template(parcel["html"]).substitute(_escaped(p)) for p in parcels)
    subject = Template(part["subject"]).substitute(values)
    content = Template(part["html"]).substitute(_escaped(values), parcels=html_parcels)
    portal = Template(book["portal"]["html"]).substitute(_escaped(values)) if facts.portal_url else ""
    return Notice(
        subject=subject,
        text=Template(part["text"]).substitute(values, parcels="\n".join(text_parcels)),
        html=Template(book["layout"]["html"]).substitute(
            _escaped(values), subject=html.escape(subject), content=content, portal=portal
        ),
        sms=Template(part["sms"]).substitute(values, parcels=parcel["separator"].join(text_parcels)),
    )


def render_alert(language: str, store: str, name: str, alert: Mapping[str, Any], link: str) -> Notice:
    """The notice of a raised alert (its `alert.raised` payload) to one of its owners (ANA-3)."""
    book = catalog(language)
    part = book["alert.raised"]
    values = {
        "store": store,
        "customer_name": name,
        "kind": str(alert["kind"]),
        "subject": str(alert["subject"]),
        "message": str(alert["message"]),
        "link": link,
    }
    subject = Template(part["subject"]).substitute(values)
    content = Template(part["html"]).substitute(_escaped(values))
    return Notice(
        subject=subject,
        text=Template(part["text"]).substitute(values),
        html=Template(book["layout"]["html"]).substitute(
            _escaped(values), subject=html.escape(subject), content=content, portal=""
        ),
        sms=Template(part["sms"]).substitute(values),
    )
