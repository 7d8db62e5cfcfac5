"""Every query of a person's records across the domains (RSK-3): read for an export, and the
statements of an erasure. Queried here, above every domain that holds them, as analytics reads
orders: by their models."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales.models import Case, CaseLine
from shopflow.core.crypto import ERASED
from shopflow.crm.leads.models import Intake, Lead
from shopflow.crm.models import Customer, CustomerKey, CustomerPhone
from shopflow.crm.quotes.models import Contract, Quote
from shopflow.loyalty.models import CouponAllowance, CouponUse, PointEntry
from shopflow.notify.models import Delivery
from shopflow.orders.models import Order, OrderLine
from shopflow.payments.models import PaymentReceipt
from shopflow.risk.models import BlockEntry, BlockKind
from shopflow.service.models import Review, Survey, Ticket, TicketMessage


async def profiles(session: AsyncSession, customer_id: int) -> list[int]:
    """The customer and every profile merged into them (the same person)."""
    merged = select(Customer.id).where(Customer.merged_into == customer_id)
    return [customer_id, *(await session.scalars(merged))]


async def phone_hashes(session: AsyncSession, customer_ids: Collection[int]) -> list[str]:
    stmt = select(CustomerPhone.phone_hash).where(CustomerPhone.customer_id.in_(customer_ids))
    return list(await session.scalars(stmt))


def _orders(customer_ids: Collection[int], hashes: Collection[str]) -> Select[tuple[int]]:
    return select(Order.id).where(or_(Order.customer_id.in_(customer_ids), Order.phone_hash.in_(hashes)))


def _tickets(customer_ids: Collection[int], hashes: Collection[str]) -> Select[tuple[int]]:
    return select(Ticket.id).where(or_(Ticket.customer_id.in_(customer_ids), Ticket.phone_hash.in_(hashes)))


async def _all(session: AsyncSession, stmt: Select[Any]) -> list[Any]:
    return list((await session.scalars(stmt)).all())


async def records(
    session: AsyncSession, customer_ids: Sequence[int], hashes: Collection[str]
) -> dict[str, list[Any]]:
    """Every record held about the person, by kind (the export's sections), each kind in id order."""
    orders = _orders(customer_ids, hashes)
    tickets = _tickets(customer_ids, hashes)
    leads = select(Lead.id).where(Lead.phone_hash.in_(hashes))
    return {
        "customers": await _all(
            session, select(Customer).where(Customer.id.in_(customer_ids)).order_by(Customer.id)
        ),
        "phones": await _all(
            session,
            select(CustomerPhone)
            .where(CustomerPhone.customer_id.in_(customer_ids))
            .order_by(CustomerPhone.id),
        ),
        "orders": await _all(session, select(Order).where(Order.id.in_(orders)).order_by(Order.id)),
        "order_lines": await _all(
            session, select(OrderLine).where(OrderLine.order_id.in_(orders)).order_by(OrderLine.id)
        ),
        "payments": await _all(
            session,
            select(PaymentReceipt).where(PaymentReceipt.order_id.in_(orders)).order_by(PaymentReceipt.id),
        ),
        "cases": await _all(session, select(Case).where(Case.order_id.in_(orders)).order_by(Case.id)),
        "case_lines": await _all(
            session,
            select(CaseLine)
            .where(CaseLine.case_id.in_(select(Case.id).where(Case.order_id.in_(orders))))
            .order_by(CaseLine.id),
        ),
        "tickets": await _all(session, select(Ticket).where(Ticket.id.in_(tickets)).order_by(Ticket.id)),
        "ticket_messages": await _all(
            session,
            select(TicketMessage).where(TicketMessage.ticket_id.in_(tickets)).order_by(TicketMessage.id),
        ),
        "reviews": await _all(session, select(Review).where(Review.order_id.in_(orders)).order_by(Review.id)),
        "surveys": await _all(
            session, select(Survey).where(Survey.customer_id.in_(customer_ids)).order_by(Survey.id)
        ),
        "leads": await _all(session, select(Lead).where(Lead.id.in_(leads)).order_by(Lead.id)),
        "lead_intakes": await _all(
            session, select(Intake).where(Intake.lead_id.in_(leads)).order_by(Intake.id)
        ),
        "quotes": await _all(
            session, select(Quote).where(Quote.customer_id.in_(customer_ids)).order_by(Quote.id)
        ),
        "contracts": await _all(
            session, select(Contract).where(Contract.customer_id.in_(customer_ids)).order_by(Contract.id)
        ),
        "points": await _all(
            session,
            select(PointEntry).where(PointEntry.customer_id.in_(customer_ids)).order_by(PointEntry.id),
        ),
        "coupon_uses": await _all(
            session, select(CouponUse).where(CouponUse.order_id.in_(orders)).order_by(CouponUse.id)
        ),
    }


async def erase(
    session: AsyncSession, customer_ids: Sequence[int], hashes: Collection[str], token: str, at: datetime
) -> dict[str, int]:
    """Erase the person from every record (RSK-3): sealed personal data replaced by `ERASED` (or
    emptied), every blind index of their phones replaced by `token` (the person's own, not
    derived from the phone; a block of their phone so ends), their phones and platform keys
    deleted; rows, amounts and history kept. How many rows of each kind were erased."""
    orders = _orders(customer_ids, hashes)
    tickets = _tickets(customer_ids, hashes)
    order_ids = list(await session.scalars(orders))
    ticket_ids = list(await session.scalars(tickets))
    subjects = [f"order:{i}" for i in order_ids] + [f"ticket:{i}" for i in ticket_ids]
    leads = list(await session.scalars(select(Lead.id).where(Lead.phone_hash.in_(hashes))))
    options = {"synchronize_session": False}
    statements = {
        "orders": update(Order)
        .where(Order.id.in_(order_ids))
        .values(contact=ERASED, phone_hash=token, buyer_ip=None, note=None),
        "payments": update(PaymentReceipt)
        .where(PaymentReceipt.order_id.in_(order_ids))
        .values(customer_hash=token),
        "coupon_uses": update(CouponUse).where(CouponUse.buyer.in_(hashes)).values(buyer=token),
        "coupon_allowances": update(CouponAllowance)
        .where(CouponAllowance.buyer.in_(hashes))
        .values(buyer=token),
        "tickets": update(Ticket).where(Ticket.id.in_(ticket_ids)).values(contact=None, phone_hash=None),
        "ticket_messages": update(TicketMessage)
        .where(TicketMessage.ticket_id.in_(ticket_ids))
        .values(content={"body": ""}, purged_at=at),
        "reviews": update(Review).where(Review.order_id.in_(order_ids)).values(content={"text": ""}),
        "surveys": update(Survey).where(Survey.customer_id.in_(customer_ids)).values(comment=None),
        "deliveries": update(Delivery)
        .where(Delivery.subject.in_(subjects), Delivery.target == "customer")
        .values(message=ERASED),
        "leads": update(Lead)
        .where(Lead.id.in_(leads))
        .values(contact=ERASED, phone_hash=token, open_phone=None),
        "lead_intakes": update(Intake).where(Intake.lead_id.in_(leads)).values(details=ERASED),
        "quotes": update(Quote).where(Quote.customer_id.in_(customer_ids)).values(contact=ERASED),
        "contracts": update(Contract).where(Contract.customer_id.in_(customer_ids)).values(contact=ERASED),
        # A block of their phone holds its keyed hash: it ends, listed with its reason and author.
        "phone_blocks": update(BlockEntry)
        .where(BlockEntry.kind == BlockKind.PHONE, BlockEntry.value_key.in_(hashes))
        .values(value_key=token, removed_at=func.coalesce(BlockEntry.removed_at, at)),
        "phones": delete(CustomerPhone).where(CustomerPhone.customer_id.in_(customer_ids)),
        "platform_keys": delete(CustomerKey).where(CustomerKey.customer_id.in_(customer_ids)),
        "customers": update(Customer)
        .where(Customer.id.in_(customer_ids))
        .values(personal=ERASED, secret=None, tags=[], agent_id=None, erased_at=at, updated_at=at),
    }
    counts = {}
    for kind, statement in statements.items():
        result = await session.execute(statement, execution_options=options)
        counts[kind] = int(getattr(result, "rowcount", 0) or 0)
    return counts
