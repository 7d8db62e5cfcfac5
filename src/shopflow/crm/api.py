"""Customers over HTTP (CRM-1)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.api import Pages, Session, Viewer, problems, require
from shopflow.core.audit import Actor
from shopflow.core.personal_data import Viewer as Reader
from shopflow.core.personal_data import log
from shopflow.core.schemas import Id, Page
from shopflow.crm import service
from shopflow.crm.models import Customer, CustomerPhone, seen
from shopflow.crm.schemas import (
    CaseOut,
    CustomerIn,
    CustomerOrderOut,
    CustomerPatch,
    CustomerProfile,
    CustomerSummary,
    MergeIn,
    PhoneOut,
    ValueEntryOut,
)

router = APIRouter(tags=["customers"], responses=problems(401, 403))


def _summary_fields(customer: Customer, phones: list[CustomerPhone], revealed: bool) -> dict[str, Any]:
    shown = seen(customer.personal, [p.phone for p in phones[:1]], revealed)
    return {
        "id": customer.id,
        "name": shown["name"],
        "phone": shown["phones"][0] if shown["phones"] else None,
        "tier": customer.tier,
        "order_count": customer.order_count,
        "lifetime_value": customer.lifetime_value,
        "first_order_at": customer.first_order_at,
        "last_order_at": customer.last_order_at,
    }


def _profile(profile: service.Profile, revealed: bool) -> CustomerProfile:
    customer = profile.customer
    shown = seen(customer.personal, [p.phone for p in profile.phones], revealed)
    return CustomerProfile(
        **_summary_fields(customer, profile.phones, revealed),
        phones=[
            PhoneOut(phone=n, primary=p.is_primary)
            for n, p in zip(shown["phones"], profile.phones, strict=True)
        ],
        email=shown.get("email"),
        birthday=shown.get("birthday"),
        addresses=shown.get("addresses", []),
        tags=customer.tags,
        source=customer.source,
        created_at=customer.created_at,
        orders=[
            CustomerOrderOut(
                id=o.id,
                order_no=o.order_no,
                status=o.status,
                total=o.total,
                created_at=o.created_at,
                paid_at=o.paid_at,
            )
            for o in profile.orders
        ],
        leads=[
            {
                "id": lead.id,
                "grade": lead.grade,
                "state": lead.state,
                "need_tags": lead.need_tags,
                "source": lead.source,
                "created_at": lead.created_at,
                "converted_at": lead.converted_at,
            }
            for lead in profile.related["leads"]
        ],
        aftersales=[
            CaseOut(
                id=c.id,
                case_no=c.case_no,
                order_id=c.order_id,
                type=c.type,
                state=c.state,
                created_at=c.created_at,
            )
            for c in profile.related.get("aftersales", [])
        ],
        value_entries=[
            ValueEntryOut(order_id=v.order_id, source=v.source, amount=v.amount, at=v.at)
            for v in profile.values
        ],
    )


async def _shown(session: AsyncSession, viewer: Reader, customer_id: int) -> CustomerProfile:
    """The profile as `viewer` may see it (RSK-3: masked, or as stored and the read logged)."""
    found = await service.profile(session, customer_id)
    if viewer.revealed:
        log(session, viewer.actor, viewer.endpoint, "customer", [customer_id])
    return _profile(found, viewer.revealed)


@router.get("/customers", response_model=Page[CustomerSummary])
async def list_customers(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("customers.read")],
    viewer: Viewer,
    phone: Annotated[
        str | None,
        Query(max_length=40, description="The exact mobile, spaces, hyphens and +86 allowed"),
    ] = None,
    number: Annotated[Id | None, Query(description="The customer number (its id)")] = None,
) -> Page[CustomerSummary]:
    """Customers, the latest buyers first, or those with this phone or number; names and
    phones masked for roles without personal_data.read (each unmasked one logged)."""
    found, total = await service.find(
        session, phone=phone, number=number, page=pages.page, page_size=pages.page_size
    )
    phones = await service.phones_of(session, [c.id for c in found])
    if viewer.revealed:
        log(session, viewer.actor, viewer.endpoint, "customer", [c.id for c in found])
    items = [CustomerSummary(**_summary_fields(c, phones[c.id], viewer.revealed)) for c in found]
    return Page[CustomerSummary](**pages.of(items, total))


@router.post("/customers", status_code=201, response_model=CustomerProfile, responses=problems(409))
async def create_customer(
    data: CustomerIn, session: Session, actor: Annotated[Actor, require("customers.write")]
) -> CustomerProfile:
    """A profile entered by hand; a phone another customer has is a 409 `phone_taken` naming it."""
    customer = await service.create_customer(session, actor, data)
    return _profile(await service.profile(session, customer.id), True)  # the caller's own input echoed


@router.get("/customers/{customer_id}", response_model=CustomerProfile, responses=problems(404))
async def get_customer(
    customer_id: Id, session: Session, _: Annotated[Actor, require("customers.read")], viewer: Viewer
) -> CustomerProfile:
    """The profile with its latest orders, leads, after-sales cases and value entries; a merged
    profile answers 404 `customer_merged` with `Location` naming the profile it went into."""
    return await _shown(session, viewer, customer_id)


@router.patch("/customers/{customer_id}", response_model=CustomerProfile, responses=problems(404, 409))
async def update_customer(
    customer_id: Id,
    data: CustomerPatch,
    session: Session,
    actor: Annotated[Actor, require("customers.write")],
    viewer: Viewer,
) -> CustomerProfile:
    """Edit a profile: the fields given replace theirs (`email`/`birthday` null clears it),
    `add_phones` / `remove_phones` / `primary_phone` change its phones (it keeps one, one
    primary). A phone another customer has is a 409 `phone_taken` naming `add_phones.N`; bad
    input a 422 naming the field; audited (`customer.updated`) with the values masked."""
    await service.update_customer(session, actor, customer_id, data)
    return await _shown(session, viewer, customer_id)


@router.post("/customers/{customer_id}/merge", response_model=CustomerProfile, responses=problems(404))
async def merge_customers(
    customer_id: Id,
    data: MergeIn,
    session: Session,
    actor: Annotated[Actor, require("customers.write")],
    viewer: Viewer,
) -> CustomerProfile:
    """`other_id`'s phones, orders and value go to this customer; the other is kept as merged."""
    await service.merge(session, actor, customer_id, data.other_id)
    return await _shown(session, viewer, customer_id)
