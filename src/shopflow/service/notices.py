"""Who a survey or a greeting goes to, and what it links (NTF-1): the order's customer for an
order's survey, else the customer profile's name, email and primary phone, else a ticket's own
phone. Read by the notification relay (`notify.service`) when it fans the event out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.crm import service as crm
from shopflow.crm import tiers
from shopflow.orders.service import queries as orders
from shopflow.service import care, care_repository, repository, surveys
from shopflow.service.errors import SurveyNotFound

EVENTS = frozenset({surveys.SENT_EVENT, care.GREETING_EVENT, tiers.TIER_EVENT})
# LOY-2: a tier as the member reads it.
TIER_NAMES = {
    "zh_CN": {"none": "普通会员", "silver": "银卡", "gold": "金卡", "diamond": "钻石卡"},
    "en": {"none": "member", "silver": "Silver", "gold": "Gold", "diamond": "Diamond"},
}


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    email: str | None
    phone: str | None
    order_no: str = ""
    survey_url: str = ""
    occasion: str = ""
    tier: str = ""


async def _profile(session: AsyncSession, customer_id: int) -> tuple[str, str | None, str | None]:
    customer = await crm.get_customer(session, customer_id)
    phones = (await crm.phones_of(session, [customer.id])).get(customer.id, [])
    primary = next((p.phone for p in phones if p.is_primary), phones[0].phone if phones else None)
    return customer.name, customer.personal.get("email"), primary


async def recipient(session: AsyncSession, event: str, payload: dict[str, Any], language: str) -> Recipient:
    """The person a `survey.sent`, `care.greeting` or `member.tier_changed` event is for, and
    what their notice says."""
    if event == tiers.TIER_EVENT:
        name, email, phone = await _profile(session, int(payload["customer_id"]))
        return Recipient(name, email, phone, tier=TIER_NAMES[language][str(payload["to"])])
    if event == care.GREETING_EVENT:
        name, email, phone = await _profile(session, int(payload["customer_id"]))
        return Recipient(name, email, phone, occasion=care.occasion_name(str(payload["occasion"]), language))
    survey = await care_repository.survey(session, int(payload["survey_id"]))
    if survey is None:
        raise SurveyNotFound(f"no survey {payload['survey_id']}")
    url = surveys.link(survey)
    if survey.order_id is not None:
        order = await orders.get_order(session, survey.order_id)
        contact = order.contact["customer"]
        return Recipient(contact["name"], contact.get("email"), contact.get("phone"), order.order_no, url)
    if survey.customer_id is not None:
        name, email, phone = await _profile(session, survey.customer_id)
        return Recipient(name, email, phone, survey_url=url)
    ticket = await repository.get(session, survey.ticket_id or 0)
    phone = None if ticket is None or ticket.contact is None else ticket.contact.get("phone")
    return Recipient("", None, phone, survey_url=url)
