"""The customer's page use cases: make an order's link, open a link (refused when tampered,
expired at the end of the after-sales window), gather what the page shows, and the customer's
own steps — confirm receipt, preview and open an after-sales request — through the same use
cases as the API, audited with the customer as actor."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import service as aftersales
from shopflow.aftersales.models import Case
from shopflow.aftersales.schemas import CaseIn
from shopflow.aftersales.service import Assessment
from shopflow.core import audit, clock, crypto, policy
from shopflow.core.audit import Actor, AuditEntry
from shopflow.core.privacy import masked_contact
from shopflow.core.settings import get_settings
from shopflow.fulfillment.models.shipments import Shipment, TrackingEvent
from shopflow.fulfillment.service import carriers, shipping
from shopflow.orders.errors import OrderNotFound
from shopflow.orders.models import Order, OrderStatus, aftersales_closes
from shopflow.orders.service import lifecycle, queries
from shopflow.portal import models
from shopflow.portal.errors import FormRefused, LinkExpired, LinkRefused

# Who the customer's steps are audited as (AUD-1): the holder of the order's signed link.
CUSTOMER = Actor(user_id=None, name="customer", role="customer")
PATH = "/my/orders/"
MAX_PARCELS = 50  # an order's parcels shown on its page (one per warehouse it ships from)
# The states an order may take after-sales requests in: delivered, and confirmed received.
RETURNABLE = frozenset({OrderStatus.DELIVERED, OrderStatus.COMPLETED})


def _key() -> bytes:
    return crypto.vault().derived_key(models.KEY_PURPOSE)


def _closes(order: Order) -> datetime | None:
    """The end of the delivered order's after-sales window (ORD-7); None before delivery."""
    if order.delivered_at is None:
        return None
    return aftersales_closes(order.delivered_at, policy.current().aftersales)


def token(order: Order, now: datetime | None = None) -> str:
    """A fresh token of the order's page, working until its after-sales window ends (before
    delivery: `aftersales.customer_link_days` from now)."""
    at = now or clock.now()
    days = policy.current().aftersales.customer_link_days
    return models.sign(order.id, models.link_expires(_closes(order), at, days), _key())


def link(order: Order, now: datetime | None = None) -> str:
    """The customer's page of `order`: `{public_url}/my/orders/{token}`."""
    return f"{get_settings().public_url.rstrip('/')}{PATH}{token(order, now)}"


def form_key(link_token: str) -> str:
    """The key the page's forms carry (CSRF), bound to the link."""
    return models.form_key(link_token, _key())


def check_form(link_token: str, sent: str | None) -> None:
    """A POST from the page carries its link's form key; anything else is refused (403)."""
    expected = form_key(link_token)
    if not (sent and hmac.compare_digest(sent.encode(), expected.encode())):
        raise FormRefused("the form's security key is missing or belongs to another page")


async def open_link(session: AsyncSession, link_token: str) -> Order:
    """The order a link opens: 404 for a token this server did not sign (nothing said about the
    order), 410 once it has expired."""
    found = models.read(link_token, _key())
    if found is None:
        raise LinkRefused("there is no such page")
    now = clock.now()
    if now >= found.expires:  # before the order is read: an old link costs no query
        raise LinkExpired("this link has expired")
    try:
        order = await queries.get_order(session, found.order_id)
    except OrderNotFound:
        raise LinkRefused("there is no such page") from None
    if models.expired(found, _closes(order), now):
        raise LinkExpired("this link has expired")
    return order


# --- what the page shows ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parcel:
    shipment: Shipment
    carrier: str
    tracking_url: str
    events: list[TrackingEvent]  # in the order they happened, latest last


@dataclass(frozen=True, slots=True)
class CaseView:
    case: Case
    steps: list[AuditEntry]  # the states it went through, oldest first


@dataclass(frozen=True, slots=True)
class OrderPage:
    order: Order
    address: dict[str, Any]  # masked (RSK-3): the page is opened by whoever holds the link
    steps: list[AuditEntry]  # the order's states, oldest first
    parcels: list[Parcel]
    cases: list[CaseView]
    closes: datetime | None

    @property
    def last_minute(self) -> datetime | None:
        """The after-sales window's last minute (23:59 of its last store day), as it is shown."""
        return None if self.closes is None else self.closes - timedelta(minutes=1)

    @property
    def can_confirm(self) -> bool:
        return self.order.status == OrderStatus.DELIVERED

    @property
    def can_request(self) -> bool:
        return self.order.status in RETURNABLE


def _states(trail: Sequence[AuditEntry], key: str) -> list[AuditEntry]:
    return [entry for entry in trail if (entry.after or {}).get(key)]


async def page(session: AsyncSession, order: Order) -> OrderPage:
    shipments, _ = await shipping.list_shipments(session, order.id, None, None, 1, MAX_PARCELS)
    by_id = await carriers.carriers_by_id(session, {s.carrier_id for s in shipments})
    parcels = []
    for shipment in sorted(shipments, key=lambda s: s.id):
        carrier = by_id[shipment.carrier_id]
        parcels.append(
            Parcel(
                shipment,
                carrier.name,
                shipping.notice(shipment, carrier)["tracking_url"],
                await shipping.timeline(session, shipment.id),
            )
        )
    cases = [
        CaseView(
            await aftersales.get_case(session, case.id),
            _states(await audit.trail(session, "case", case.id), "state"),
        )
        for case in await aftersales.cases_of_order(session, order.id)
    ]
    return OrderPage(
        order=order,
        address=masked_contact(order.contact)["shipping_address"],
        steps=_states(await queries.history(session, order.id), "status"),
        parcels=parcels,
        cases=cases,
        closes=_closes(order),
    )


# --- the customer's steps -----------------------------------------------------------------


async def confirm_receipt(session: AsyncSession, order: Order) -> Order:
    """ORD-7: the customer confirms receipt, as `POST /orders/{id}/confirm-receipt` does."""
    return await lifecycle.complete(session, CUSTOMER, order.id)


async def preview(session: AsyncSession, data: CaseIn) -> Assessment:
    """The request's eligibility sentence and itemised refund; nothing is stored."""
    return await aftersales.preview(session, data)


async def request_case(session: AsyncSession, data: CaseIn) -> Case:
    """ASV-2: the customer opens a case, validated as the API's `POST /aftersales/cases`
    (422 `not_eligible` naming the rule, nothing stored)."""
    return await aftersales.open_case(session, CUSTOMER, data)
