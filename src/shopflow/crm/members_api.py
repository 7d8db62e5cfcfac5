"""Members over HTTP (LOY-1, LOY-2): a customer's tier, dedicated agent, points balance and ledger,
and adjustments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Id, Page
from shopflow.crm import service, tiers
from shopflow.loyalty import points
from shopflow.loyalty.models import PointEntry
from shopflow.loyalty.schemas import AdjustedOut, AdjustIn, AgentIn, MemberOut, PointEntryOut

router = APIRouter(tags=["members"], responses=problems(401, 403, 404))


def _entry(entry: PointEntry) -> PointEntryOut:
    return PointEntryOut(
        id=entry.id,
        kind=entry.kind,
        points=entry.points,
        order_id=entry.order_id,
        order_line_id=entry.order_line_id,
        quantity=entry.quantity,
        reason=entry.reason,
        expires_at=entry.expires_at,
        at=entry.at,
    )


async def _member(session: Session, customer_id: int, pages: Pages) -> MemberOut:
    customer = await service.get_customer(session, customer_id)
    entries, total = await points.ledger(session, customer.id, pages.page, pages.page_size)
    return MemberOut(
        customer_id=customer.id,
        tier=customer.tier,
        agent=await tiers.agent_name(session, customer),
        balance=await points.balance(session, customer.id),
        ledger=Page[PointEntryOut](**pages.of([_entry(e) for e in entries], total)),
    )


@router.get("/members/{customer_id}", response_model=MemberOut)
async def get_member(
    customer_id: Id, session: Session, pages: Pages, _: Annotated[Actor, require("customers.read")]
) -> MemberOut:
    """The member's tier and dedicated agent (LOY-2), points balance (the sum of the ledger) and a
    page of the ledger, newest first: each earn, reversal, burn, return, expiry and adjustment with
    its order or reason."""
    return await _member(session, customer_id, pages)


@router.post(
    "/members/{customer_id}/points", status_code=201, response_model=AdjustedOut, responses=problems(422)
)
async def adjust_points(
    customer_id: Id, data: AdjustIn, session: Session, actor: Annotated[Actor, require("members.adjust")]
) -> AdjustedOut:
    """A manual adjustment with its reason, audited: points added (expiring as earned ones do) or
    taken (never below zero: 422 naming `points`); the balance after it and the ledger's entry."""
    customer = await service.get_customer(session, customer_id)
    entry = await points.adjust(session, actor, customer.id, data.points, data.reason)
    balance = await points.balance(session, customer.id)
    return AdjustedOut(customer_id=customer.id, balance=balance, entry=_entry(entry))


@router.put("/members/{customer_id}/agent", response_model=MemberOut, responses=problems(422))
async def set_agent(
    customer_id: Id,
    data: AgentIn,
    session: Session,
    pages: Pages,
    actor: Annotated[Actor, require("members.assign_agent")],
) -> MemberOut:
    """LOY-2: the member's dedicated agent set by hand (an active customer-service agent, else 422
    naming `agent`) or removed (`null`); audited. While the member's tier has dedicated agents
    (diamond by default), their new tickets go to this agent when on duty."""
    customer = await service.get_customer(session, customer_id)
    await tiers.assign_agent(session, actor, customer.id, data.agent)
    await session.refresh(customer)
    return await _member(session, customer.id, pages)
