"""Quote use cases (CRM-6, CAT-2): write a quote, submit it (approved at once, or waiting for a
supervisor through core.approvals), decide, send, record the customer's answer; an accepted quote
becomes a numbered contract and an order through the normal intake (ORD-5 on credit terms)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.catalog import service as catalog
from shopflow.core import approvals, audit, auth, clock, db, events, money, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Forbidden, Invalid, InvalidTransition, NotFound
from shopflow.crm import service as customers
from shopflow.crm.leads import service as leads
from shopflow.crm.quotes import repository
from shopflow.crm.quotes.errors import ContractNotFound, QuoteNotFound
from shopflow.crm.quotes.models import (
    APPROVAL_KIND,
    Contract,
    Priced,
    Quote,
    QuoteLine,
    QuoteState,
    approval_needed,
    contract_no,
    line_snapshot,
    quote_subject,
    totals,
)
from shopflow.crm.quotes.schemas import QuoteIn
from shopflow.orders.models import AgreedTerms, PaymentTerms
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake

Q = QuoteState
APPROVE = "quotes.approve"
CONTRACT_NO_ATTEMPTS = 5
EXPIRY_BATCH = 500


def _bp(percent: Decimal) -> int:
    return int(percent * 100)


async def _check_parties(session: AsyncSession, data: QuoteIn) -> list[FieldError]:
    errors: list[FieldError] = []
    if data.customer_id is None and data.lead_id is None:
        errors.append(FieldError("customer_id", "a quote is for a customer or a lead (or both)"))
    if data.customer_id is not None:
        try:
            await customers.get_customer(session, data.customer_id)
        except NotFound:
            errors.append(FieldError("customer_id", f"no customer {data.customer_id}"))
    if data.lead_id is not None:
        try:
            await leads.get_lead(session, data.lead_id)
        except NotFound:
            errors.append(FieldError("lead_id", f"no lead {data.lead_id}"))
    return errors


async def create(session: AsyncSession, actor: Actor, data: QuoteIn) -> Quote:
    """A draft quote, its lines priced against the SKUs' list prices; 422 naming each bad field."""
    errors = await _check_parties(session, data)
    skus = await catalog.skus_by_codes(session, [line.sku for line in data.lines])
    for i, line in enumerate(data.lines):
        if line.sku not in skus:
            errors.append(FieldError(f"lines[{i}].sku", f"unknown SKU {line.sku!r}"))
    if data.delivery_date < clock.now().date():
        errors.append(FieldError("delivery_date", "must not be in the past"))
    if errors:
        raise Invalid("the quote has errors; nothing was stored", errors=errors)
    at = clock.now()
    priced = [
        _priced(line.sku, line.quantity, line.unit_price, _bp(line.discount_percent), skus)
        for line in data.lines
    ]
    sums = totals(priced)
    quote = Quote(
        customer_id=data.customer_id,
        lead_id=data.lead_id,
        contact={"buyer": data.buyer.model_dump(), "ship_to": data.ship_to.model_dump()},
        state=Q.DRAFT,
        delivery_date=data.delivery_date,
        payment_terms=data.payment_terms,
        aftersales_terms=data.aftersales_terms,
        note=data.note,
        subtotal=sums.subtotal,
        discount=sums.discount,
        total=sums.total,
        reasons=[],
        created_by=actor.user_id,
        created_at=at,
        updated_at=at,
        lines=[
            QuoteLine(
                sku_code=p.sku,
                name=skus[p.sku].name,
                spec=line.spec,
                quantity=p.quantity,
                unit_price=p.unit_price,
                discount_bp=p.discount_bp,
                list_price=p.list_price,
                price_band=p.band,
                net_unit_price=p.net,
                line_total=p.total,
            )
            for p, line in zip(priced, data.lines, strict=True)
        ],
    )
    session.add(quote)
    await session.flush()
    after = {"state": Q.DRAFT, "total": sums.total, "payment_terms": data.payment_terms}
    await audit.record(session, audit.row(actor, "quote.created", "quote", quote.id, None, after, at))
    return quote


def _priced(sku: str, quantity: int, unit_price: int, discount_bp: int, skus: dict[str, Any]) -> Priced:
    found = skus[sku]
    floor = getattr(policy.current().catalog.band_floor_percent, found.price_band)
    return Priced(sku, quantity, unit_price, discount_bp, found.price, found.price_band, floor)


async def get_quote(session: AsyncSession, quote_id: int, *, lock: bool = False) -> Quote:
    quote = await repository.get(session, quote_id, lock=lock)
    if quote is None:
        raise QuoteNotFound(f"no quote {quote_id}")
    return quote


async def page(
    session: AsyncSession, state: QuoteState | None, page_no: int, size: int
) -> tuple[list[Quote], int]:
    return await repository.page(session, state, (page_no - 1) * size, size)


async def contract_ids(session: AsyncSession, quote_ids: list[int]) -> dict[int, int]:
    return await repository.contract_ids(session, quote_ids)


async def _step(session: AsyncSession, actor: Actor, quote: Quote, target: QuoteState, **after: Any) -> None:
    at = clock.now()
    previous = quote.move_to(target, at)
    await session.flush()
    audit.queue(
        session,
        audit.row(
            actor, f"quote.{target}", "quote", quote.id, {"state": previous}, {"state": target, **after}, at
        ),
    )
    events.queue(session, f"quote.{target}", quote_subject(quote.id), {"quote_id": quote.id, "state": target})


def _approve(quote: Quote) -> None:
    quote.expires_at = clock.now() + timedelta(days=policy.current().crm.quote_valid_days)


async def submit(session: AsyncSession, actor: Actor, quote_id: int) -> Quote:
    """CAT-2: a line below its band's floor or discounted beyond the submitter's authority makes
    the quote wait for a supervisor (an approval request naming each reason); else approved."""
    quote = await get_quote(session, quote_id, lock=True)
    rules = policy.current().catalog.band_floor_percent
    priced = [
        Priced(
            line.sku_code,
            line.quantity,
            line.unit_price,
            line.discount_bp,
            line.list_price,
            line.price_band,
            getattr(rules, line.price_band),
        )
        for line in quote.lines
    ]
    needed = approval_needed(priced, actor.role, policy.authority(actor.role).discount_percent)
    if not needed.reasons:
        _approve(quote)
        await _step(session, actor, quote, Q.APPROVED)
        return quote
    if not quote.can_move_to(Q.PENDING_APPROVAL):  # 409 before anything is asked
        raise InvalidTransition("quote", quote.state, Q.PENDING_APPROVAL)
    asked = {"quote_id": quote.id, "total": quote.total, "discount_percent": needed.discount_percent}
    approval = await approvals.request(
        session,
        actor,
        quote_subject(quote.id),
        APPROVAL_KIND,
        asked,
        list(needed.reasons),
        needed.discount_percent,
    )
    quote.approval_id = approval.id
    quote.reasons = list(needed.reasons)
    await _step(session, actor, quote, Q.PENDING_APPROVAL, reasons=list(needed.reasons))
    return quote


async def decide(session: AsyncSession, actor: Actor, quote_id: int, approve: bool, note: str) -> Quote:
    """The supervisor's decision on a pending quote (core.approvals: never one's own, within one's
    authority): approved (valid from now) or rejected."""
    if not auth.allowed(actor.role, APPROVE):
        raise Forbidden(f"a {actor.role} may not approve quotes", code="beyond_authority")
    quote = await get_quote(session, quote_id, lock=True)
    target = Q.APPROVED if approve else Q.REJECTED
    if quote.state != Q.PENDING_APPROVAL or quote.approval_id is None:  # only a pending quote
        raise InvalidTransition("quote", quote.state, target)
    await approvals.decide(session, actor, quote.approval_id, approve, note)
    quote.decision_note = note
    if approve:
        _approve(quote)
    await _step(session, actor, quote, target, note=note)
    return quote


async def reject(session: AsyncSession, actor: Actor, quote_id: int, note: str) -> Quote:
    """A pending quote's approval refused (by a supervisor), or a sent quote declined by the
    customer (recorded by staff)."""
    quote = await get_quote(session, quote_id, lock=True)
    if quote.state == Q.PENDING_APPROVAL:
        return await decide(session, actor, quote_id, False, note)
    quote.decision_note = note or quote.decision_note
    await _step(session, actor, quote, Q.REJECTED, note=note)
    return quote


async def send(session: AsyncSession, actor: Actor, quote_id: int) -> Quote:
    """Only an approved quote is sent (CAT-2: never before its discount is approved)."""
    quote = await get_quote(session, quote_id, lock=True)
    await _step(session, actor, quote, Q.SENT)
    return quote


def _due(terms: PaymentTerms, at: datetime) -> datetime | None:
    rules = policy.current().crm
    match terms:
        case PaymentTerms.PREPAID:
            return None
        case PaymentTerms.NET30:
            return at + timedelta(days=rules.net30_days)
        case PaymentTerms.NET60:
            return at + timedelta(days=rules.net60_days)


async def accept(session: AsyncSession, actor: Actor, quote_id: int) -> Contract:
    """The customer accepted the sent quote: a numbered contract with its lines and terms, and its
    order placed through the normal intake (stock reserved) at the contract's prices and terms."""
    quote = await get_quote(session, quote_id, lock=True)
    await _step(session, actor, quote, Q.ACCEPTED)
    at = clock.now()
    terms = PaymentTerms(quote.payment_terms)
    due = _due(terms, at)
    row = {
        "quote_id": quote.id,
        "customer_id": quote.customer_id,
        "contact": quote.contact,
        "lines": [line_snapshot(line) for line in quote.lines],
        "delivery_date": quote.delivery_date,
        "payment_terms": terms,
        "payment_due_at": due,
        "aftersales_terms": quote.aftersales_terms,
        "subtotal": quote.subtotal,
        "discount": quote.discount,
        "total": quote.total,
        "created_by": actor.user_id,
        "created_at": at,
    }
    contract_id = await _insert_contract(session, row, at)
    contract = await get_contract(session, contract_id)
    order = await _place_order(session, actor, quote, contract, AgreedTerms(terms, due))
    contract.order_id = order
    await session.flush()
    after = {
        "contract_no": contract.contract_no,
        "quote_id": quote.id,
        "order_id": order,
        "total": quote.total,
    }
    audit.queue(session, audit.row(actor, "contract.created", "contract", contract.id, None, after, at))
    await db.write(session)
    return contract


async def _insert_contract(session: AsyncSession, row: dict[str, Any], at: datetime) -> int:
    """The contract stored under the day's next number (HT<date><4 digits>, the store's day)."""
    day = at.astimezone(clock.store_zone()).date()
    for _ in range(CONTRACT_NO_ATTEMPTS):
        last = await repository.last_number_of_day(session, day)
        sequence = 1 if last is None else int(last[-4:]) + 1
        stored = await repository.insert_contract(session, {**row, "contract_no": contract_no(day, sequence)})
        if stored is not None:
            return stored
    raise RuntimeError("could not draw a free contract number")


async def _place_order(
    session: AsyncSession, actor: Actor, quote: Quote, contract: Contract, agreed: AgreedTerms
) -> int:
    buyer, ship_to = quote.contact["buyer"], quote.contact["ship_to"]
    body = OrderIn.model_validate(
        {
            "channel": "manual",
            "channel_order_no": contract.contract_no,
            "customer": {"name": buyer["name"], "phone": buyer["phone"]},
            "shipping_address": ship_to,
            "lines": [
                {
                    "sku": line.sku_code,
                    "quantity": line.quantity,
                    "unit_price": money.fmt(line.net_unit_price),
                }
                for line in quote.lines
            ],
            "note": f"contract {contract.contract_no}, quote {quote.id}",
        }
    )
    return (await intake.place_order(session, actor, body, None, agreed=agreed)).order.id


async def get_contract(session: AsyncSession, contract_id: int) -> Contract:
    contract = await repository.contract(session, contract_id)
    if contract is None:
        raise ContractNotFound(f"no contract {contract_id}")
    return contract


async def contract_of_quote(session: AsyncSession, quote_id: int) -> Contract | None:
    return await repository.contract_of_quote(session, quote_id)


async def approvals_of(session: AsyncSession, quote_id: int) -> list[approvals.Approval]:
    return await approvals.of_subject(session, quote_subject(quote_id))


async def expire(session: AsyncSession) -> int:
    """Approved or sent quotes past their validity expire (the worker's `quotes.expiry` sweep)."""
    found = await repository.claim_expired(session, clock.now(), EXPIRY_BATCH)
    for quote in found:
        await _step(session, audit.SYSTEM, quote, Q.EXPIRED)
    await db.write(session)
    return len(found)
