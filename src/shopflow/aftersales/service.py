"""After-sales use cases (ASV-1..6): open a case, decide it, take the goods back and inspect
them, refund, exchange, repair, close; and what the order's close clock waits for (ORD-7)."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import repository
from shopflow.aftersales.errors import CaseNotFound, NotEligible, NothingToRefund, OverLimit
from shopflow.aftersales.models import (
    PAYING,
    RETURNING,
    Case,
    CaseClock,
    CaseLine,
    CaseState,
    CaseType,
    Eligibility,
    LineAsk,
    Refund,
    RefundLine,
    ReturnEvent,
    ReturnShipment,
    case_subject,
    discount_share,
    eligibility,
    order_standing,
    refund,
    refund_parts,
    whole_order_back,
)
from shopflow.aftersales.schemas import CaseIn, CaseLineIn, InspectIn, InspectLineIn, ReturnShipmentIn
from shopflow.core import audit, clock, events, money, policy, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.errors import FieldError, Invalid, InvalidTransition
from shopflow.fulfillment.models.shipments import TrackingStatus
from shopflow.fulfillment.service import tracking
from shopflow.inventory import service as inventory
from shopflow.inventory.models import Movement
from shopflow.orders.models import (
    EXCHANGE_CHANNEL,
    Order,
    OrderClock,
    OrderLine,
    aftersales_closes,
    order_subject,
)
from shopflow.orders.schemas import OrderIn
from shopflow.orders.service import intake, lifecycle, queries
from shopflow.payments import refunds
from shopflow.payments import service as payments
from shopflow.payments.models import Refund as LedgerRefund

C = CaseState
CASE_NO_ATTEMPTS = 5


def _case_no(at: datetime) -> str:
    return f"AS{at:%y%m%d}{secrets.randbelow(10**8):08d}"


def _state_row(actor: Actor, case: Case, before: str | None, at: datetime, **extra: Any) -> dict[str, Any]:
    """The audit row of a case's step (AUD-1): its state before and after, and what the step decided."""
    return audit.row(
        actor,
        f"case.{case.state}",
        "case",
        case.id,
        None if before is None else {"state": before},
        {"state": case.state, **extra},
        at,
    )


def _notice(case: Case, **extra: Any) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "case_no": case.case_no,
        "order_id": case.order_id,
        "type": case.type,
        **extra,
    }


def _refund_deadline(at: datetime) -> datetime:
    rules = policy.current()
    return clock.add_working_days(
        at, rules.aftersales.refund_max_working_days, rules.calendar.holidays, rules.calendar.weekend
    )


# --- opening a case (ASV-1, ASV-2) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assessment:
    """What a request would be: its eligibility and itemised refund, its lines' order lines."""

    eligibility: Eligibility
    refund: Refund
    lines: list[tuple[OrderLine, int]]


def _asked(
    lines: Sequence[CaseLineIn | InspectLineIn], known: Collection[str], where: str
) -> tuple[list[FieldError], Counter[str]]:
    """The requested lines' quantities by SKU, and an error for each line naming a SKU not
    `known` ("SKU-9 is not on order SF…")."""
    errors = [
        FieldError(f"lines[{i}].sku", f"{ask.sku} is not {where}")
        for i, ask in enumerate(lines)
        if ask.sku not in known
    ]
    asked = Counter[str]()
    for ask in lines:
        asked[ask.sku] += ask.quantity
    return errors, asked


def _order_lines(order: Order, data: CaseIn) -> list[tuple[OrderLine, int]]:
    by_sku = {line.sku_code: line for line in order.lines}
    errors, wanted = _asked(data.lines, by_sku.keys(), f"on order {order.order_no}")
    if data.type is CaseType.COMPENSATION:
        if data.amount is None or data.amount <= 0:
            errors.append(FieldError("amount", "a compensation needs an amount above 0"))
    elif not data.lines:
        errors.append(FieldError("lines", "at least one line is required"))
    if len(wanted) != len(data.lines):
        errors.append(FieldError("lines", "name each SKU once"))
    if errors:
        raise Invalid("the request has errors; nothing was stored", errors=errors)
    return [(by_sku[sku], quantity) for sku, quantity in wanted.items()]


def assess(order: Order, data: CaseIn, held: dict[int, int], now: datetime) -> Assessment:
    """ASV-1, ASV-2, ASV-4 for a request on `order` whose lines other cases hold `held` of."""
    lines = _order_lines(order, data)
    rules = policy.current().aftersales
    asks = [LineAsk(line.sku_code, quantity, line.quantity, held.get(line.id, 0)) for line, quantity in lines]
    found = eligibility(order.delivered_at, data.reason, data.opened, asks, now, rules)
    after = Counter(held)
    for line, quantity in lines:
        after[line.id] += quantity
    whole = bool(lines) and whole_order_back({line.id: line.quantity for line in order.lines}, after)
    refund_lines = [
        RefundLine(line.unit_price, quantity, line.quantity, line.discount, held.get(line.id, 0))
        for line, quantity in lines
    ]
    amount = refund(data.type, data.reason, refund_lines, whole, order.shipping_fee, data.amount, rules)
    return Assessment(found, amount, lines)


async def preview(session: AsyncSession, data: CaseIn) -> Assessment:
    """What `open_case` would decide for `data`, stored nowhere: the eligibility sentence naming
    the rule and the itemised refund, shown to the customer before they send the request. The
    same validation (422 naming the field) for lines that are not on the order."""
    order = await queries.get_order(session, data.order_id)
    return assess(order, data, await repository.held_by_line(session, order.id), clock.now())


async def open_case(session: AsyncSession, actor: Actor, data: CaseIn) -> Case:
    """A new case in `requested` (its review clock running), or 422 `not_eligible` naming the
    rule and nothing stored. The order row is locked while its cases' quantities are counted,
    so concurrent requests never return more than was delivered (ASV-2)."""
    order = await queries.get_order(session, data.order_id, lock=True)
    at = clock.now()
    held = await repository.held_by_line(session, order.id)
    found = assess(order, data, held, at)
    if not found.eligibility.eligible:
        raise NotEligible(found.eligibility.sentence, errors=list(found.eligibility.errors))
    case = Case(
        case_no=_case_no(at),
        order_id=order.id,
        type=data.type,
        reason=data.reason,
        opened=data.opened,
        state=C.REQUESTED,
        rule=found.eligibility.rule,
        deadline=found.eligibility.deadline,
        amount=data.amount,
        items=found.refund.items,
        discount_share=found.refund.discount_share,
        shipping=found.refund.shipping,
        return_shipping=found.refund.return_shipping,
        refund_total=found.refund.total,
        refunded=0,
        note=data.note,
        created_by=actor.user_id,
        created_at=at,
        updated_at=at,
    )
    session.add(case)
    await session.flush()
    for line, quantity in found.lines:
        share = RefundLine(line.unit_price, quantity, line.quantity, line.discount, held.get(line.id, 0))
        session.add(
            CaseLine(
                case_id=case.id,
                order_line_id=line.id,
                sku_id=line.sku_id,
                sku_code=line.sku_code,
                quantity=quantity,
                unit_price=line.unit_price,
                discount_share=discount_share(share),
                restocked=0,
                written_off=0,
            )
        )
    review_by = at + timedelta(hours=policy.current().aftersales.review_hours)
    await sla.start(session, case_subject(case.id), CaseClock.REVIEW, review_by)
    await sla.pause(session, order_subject(order.id), OrderClock.AFTERSALES)
    events.queue(session, "aftersales.requested", order_subject(order.id), _notice(case))
    await audit.record(
        session,
        _state_row(
            actor,
            case,
            None,
            at,
            order_id=order.id,
            rule=case.rule,
            sentence=found.eligibility.sentence,
            refund_total=money.fmt(case.refund_total),
        ),
    )
    return await get_case(session, case.id)


# --- reading ----------------------------------------------------------------------------------


async def get_case(session: AsyncSession, case_id: int, *, lock: bool = False) -> Case:
    case = await repository.get(session, case_id, lock=lock)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


async def list_cases(
    session: AsyncSession,
    state: str | None,
    case_type: str | None,
    order_id: int | None,
    page: int,
    page_size: int,
    late: bool = False,
) -> tuple[list[Case], int]:
    ids = None
    if late:
        ids = [
            int(found.subject.removeprefix("case:"))
            for found in await sla.late(session, clock.now(), 10_000)
            if found.subject.startswith("case:")
        ]
    return await repository.page(session, state, case_type, order_id, ids, (page - 1) * page_size, page_size)


async def return_shipment(session: AsyncSession, case_id: int) -> ReturnShipment | None:
    return await repository.return_shipment(session, case_id)


async def cases_of_order(session: AsyncSession, order_id: int) -> list[Case]:
    return await repository.of_order(session, order_id)


async def order_aftersales(session: AsyncSession, order_id: int) -> queries.AftersalesView:
    """The order's after-sales standing and what its payments' ledgers refunded (settled
    refunds: cases, a cancellation, money it could not take), against what they captured."""
    order = await queries.get_order(session, order_id)
    cases = await repository.of_order(session, order.id)
    ledgers = [await refunds.ledger(session, p.id) for p in await payments.payments_of(session, order.id)]
    captured = sum(ledger.captured for ledger in ledgers)
    refunded = sum(ledger.refunded for ledger in ledgers)
    return queries.AftersalesView(order_standing(cases, captured, refunded), refunded)


# --- steps ------------------------------------------------------------------------------------


async def _step(
    session: AsyncSession, actor: Actor, case: Case, target: CaseState, at: datetime, **extra: Any
) -> str:
    """Move the locked case to `target` (409 if not allowed) and audit it; the state left."""
    previous = case.move_to(target, at)
    await session.flush()
    audit.queue(session, _state_row(actor, case, previous, at, **extra))
    return previous


def _side_step(
    session: AsyncSession, actor: Actor, case: Case, action: str, at: datetime, **extra: Any
) -> None:
    """Audit a step that keeps the case's state: a quality replacement's return (AUD-1)."""
    state = {"state": case.state}
    audit.queue(session, audit.row(actor, action, "case", case.id, state, {**state, **extra}, at))


async def _release_order(session: AsyncSession, case: Case) -> None:
    """ORD-7: the case no longer holds its order; the last one to end lets the order's close
    clock run again, to the window's end or now if that has passed."""
    others = [c for c in await repository.of_order(session, case.order_id) if c.is_open and c.id != case.id]
    if others or case.is_open:
        return
    subject = order_subject(case.order_id)
    paused = [c for c in await sla.of_subject(session, subject) if c.kind == OrderClock.AFTERSALES]
    if not paused or paused[0].state != sla.ClockState.PAUSED:
        return
    order = await queries.get_order(session, case.order_id)
    closes = aftersales_closes(order.delivered_at or clock.now(), policy.current().aftersales)
    await sla.restart(session, subject, OrderClock.AFTERSALES, max(closes, clock.now()))


async def approve(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """ASV-3, ASV-5: approved by an agent; a compensation only up to the approver's own
    `policy.authority(role)` (an agent 500 yuan; above it 403 naming the limit, and a supervisor
    approves it). Refund-only and compensation cases start their refund clock."""
    case = await get_case(session, case_id, lock=True)
    limit = policy.authority(actor.role).compensation_amount
    if case.type == CaseType.COMPENSATION and limit is not None and (case.amount or 0) > limit:
        raise OverLimit(
            f"the compensation {money.fmt(case.amount or 0)} is above the {actor.role} limit of "
            f"{money.fmt(limit)} yuan: a supervisor approves it"
        )
    at = clock.now()
    await _step(session, actor, case, C.APPROVED, at, amount=money.fmt(case.refund_total))
    subject = case_subject(case.id)
    await sla.stop(session, subject, CaseClock.REVIEW)
    if case.type in PAYING and case.type not in RETURNING:
        await sla.start(session, subject, CaseClock.REFUND, _refund_deadline(at))
    await events.record(session, "aftersales.approved", order_subject(case.order_id), _notice(case))
    return case


async def reject(session: AsyncSession, actor: Actor, case_id: int, reason: str) -> Case:
    case = await get_case(session, case_id, lock=True)
    await _step(session, actor, case, C.REJECTED, clock.now(), reason=reason)
    case.reject_reason = reason
    await sla.stop(session, case_subject(case.id), CaseClock.REVIEW)
    await _release_order(session, case)
    await events.record(
        session, "aftersales.rejected", order_subject(case.order_id), _notice(case, reason=reason)
    )
    return case


async def cancel(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """The customer withdraws the request before the goods are sent: its clocks never reach their goal."""
    case = await get_case(session, case_id, lock=True)
    await _step(session, actor, case, C.CANCELLED, clock.now())
    await sla.cancel(session, case_subject(case.id), CaseClock.REVIEW, CaseClock.REFUND)
    await _release_order(session, case)
    await events.record(session, "aftersales.cancelled", order_subject(case.order_id), _notice(case))
    return case


async def record_return_shipment(
    session: AsyncSession, actor: Actor, case_id: int, data: ReturnShipmentIn
) -> Case:
    """ASV-3: the goods are on their way back, with the carrier and tracking number; for a
    quality replacement already shipped the case stays `exchanged` (its return is still due)."""
    case = await get_case(session, case_id, lock=True)
    at = clock.now()
    if case.return_pending and case.can_ship_back:
        if await repository.return_shipment(session, case.id) is not None:
            raise InvalidTransition("case", case.state, C.AWAITING_RETURN)
        _side_step(
            session,
            actor,
            case,
            "case.return_shipped",
            at,
            carrier=data.carrier,
            tracking_no=data.tracking_no,
        )
    else:
        await _step(
            session, actor, case, C.AWAITING_RETURN, at, carrier=data.carrier, tracking_no=data.tracking_no
        )
    session.add(
        ReturnShipment(
            case_id=case.id,
            carrier=data.carrier,
            tracking_no=data.tracking_no,
            created_by=actor.user_id,
            created_at=at,
        )
    )
    await session.flush()
    await events.record(
        session,
        "aftersales.return_shipped",
        order_subject(case.order_id),
        _notice(case, carrier=data.carrier, tracking_no=data.tracking_no),
    )
    return case


async def receive(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """The returned goods arrived: `received`, to be inspected. For a quality replacement shipped
    at once the case stays `exchanged`, its goods received and still to be inspected."""
    return await _received(session, actor, await get_case(session, case_id, lock=True))


async def _received(session: AsyncSession, actor: Actor, case: Case) -> Case:
    at = clock.now()
    shipment = await repository.return_shipment(session, case.id)
    if case.return_pending:
        if not case.can_receive:
            raise InvalidTransition("case", case.state, C.RECEIVED)
        case.received_at = case.updated_at = at
        _side_step(session, actor, case, "case.received", at)
    else:
        await _step(session, actor, case, C.RECEIVED, at)
    if shipment is not None:
        shipment.received_at = at
    await session.flush()
    await events.record(session, "aftersales.received", order_subject(case.order_id), _notice(case))
    return case


# --- the return's tracking (ASV-3, FUL-5) ----------------------------------------------------


async def followed_returns(session: AsyncSession, carrier: str | None, waybills: Collection[str]) -> set[str]:
    """Which of `waybills` are return shipments, with the carrier of that code when one is named
    (as the customer gave it, any case): fulfillment hands their carriers' events to `track_returns`."""
    found = await repository.return_shipments_by_tracking(session, waybills)
    return {s.tracking_no for s in found if carrier is None or s.carrier.casefold() == carrier.casefold()}


async def track_returns(
    session: AsyncSession, actor: Actor, reported: list[tracking.Reported], source: str
) -> tuple[int, int]:
    """A carrier's events of return shipments (pushed or imported like the store's own parcels):
    each stored once on the shipment's tracking timeline and put on its case's timeline (audited
    as `case.tracked`). A delivery ("signed for") of goods the case awaits is their arrival: the
    case is `received` as if the warehouse had said so, and inspected next. (stored, duplicates)"""
    at = clock.now()
    stored = duplicates = 0
    for shipment in await repository.return_shipments_by_tracking(session, {r.waybill for r in reported}):
        case = await get_case(session, shipment.case_id, lock=True)
        new = []
        for event in sorted(
            (r for r in reported if r.waybill == shipment.tracking_no), key=lambda r: r.occurred_at
        ):
            values = {
                "shipment_id": shipment.id,
                "status": event.status,
                "occurred_at": event.occurred_at,
                "location": event.location,
                "description": event.description,
                "source": source,
                "received_at": at,
            }
            if await repository.insert_return_event(session, values) is None:
                duplicates += 1
                continue
            stored += 1
            new.append(event)
        if not new:
            continue
        trail = [{"status": e.status, "at": e.occurred_at.isoformat(), "location": e.location} for e in new]
        after = {"tracking_no": shipment.tracking_no, "source": source, "events": trail}
        audit.queue(session, audit.row(actor, "case.tracked", "case", case.id, None, after, at))
        if any(e.status == TrackingStatus.DELIVERED for e in new) and case.can_receive:
            await _received(session, actor, case)
    await session.flush()
    return stored, duplicates


RETURNS = tracking.Follower(followed_returns, track_returns)


async def return_events(session: AsyncSession, shipment: ReturnShipment | None) -> list[ReturnEvent]:
    return [] if shipment is None else await repository.return_events(session, shipment.id)


async def inspect(session: AsyncSession, actor: Actor, case_id: int, data: InspectIn) -> Case:
    """ASV-3, INV-1: every returned unit restocked (a `return` movement into the chosen
    warehouse) or written off (`return` then `write_off`, with the note), each a ledger row. The
    goods of a quality replacement shipped at once are inspected the same way; then the case closes."""
    case = await get_case(session, case_id, lock=True)
    if not case.can_inspect:
        raise InvalidTransition("case", case.state, C.INSPECTED)
    by_sku = {line.sku_code: line for line in case.lines}
    errors, decided = _asked(data.lines, by_sku.keys(), f"in case {case.case_no}")
    errors += [
        FieldError(
            "lines", f"{line.sku_code}: {decided[line.sku_code]} inspected of {line.quantity} returned"
        )
        for line in case.lines
        if decided[line.sku_code] != line.quantity
    ]
    # Into the named warehouse, else the first by priority (INV-3's order).
    warehouses = {w.code: w for w in await inventory.list_warehouses(session) if w.active}
    errors += [
        FieldError(f"lines[{i}].warehouse", f"unknown warehouse {ask.warehouse!r}")
        for i, ask in enumerate(data.lines)
        if (ask.warehouse is None and not warehouses)
        or (ask.warehouse is not None and ask.warehouse not in warehouses)
    ]
    if errors:
        raise Invalid("every returned unit must be inspected once; nothing was stored", errors=errors)
    at = clock.now()
    replaced = case.return_pending
    inspected = [ask.model_dump() for ask in data.lines]
    if replaced:
        case.inspected_at = case.updated_at = at
        _side_step(session, actor, case, "case.inspected", at, lines=inspected)
    else:
        await _step(session, actor, case, C.INSPECTED, at, lines=inspected)
    for ask in data.lines:
        warehouse = (
            warehouses[ask.warehouse] if ask.warehouse is not None else next(iter(warehouses.values()))
        )
        line = by_sku[ask.sku]
        reference = f"case:{case.case_no}"
        await inventory.post_movements(
            session, actor, warehouse.id, {line.sku_id: ask.quantity}, Movement.RETURN, reference
        )
        if ask.result == "restock":
            line.restocked += ask.quantity
        else:
            why = f"{reference} {ask.note or 'write_off'}"[:120]
            await inventory.post_movements(
                session, actor, warehouse.id, {line.sku_id: -ask.quantity}, Movement.WRITE_OFF, why
            )
            line.written_off += ask.quantity
    await session.flush()
    if case.type == CaseType.RETURN_REFUND:
        await sla.start(session, case_subject(case.id), CaseClock.REFUND, _refund_deadline(at))
    if replaced:
        await _step(session, actor, case, C.CLOSED, at)
        await _release_order(session, case)
        await events.record(session, "aftersales.closed", order_subject(case.order_id), _notice(case))
    return case


async def request_refund(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """ASV-4: the case's itemised refund is asked of the payments ledger; the case is `refunding`."""
    case = await get_case(session, case_id, lock=True)
    await _step(session, actor, case, C.REFUNDING, clock.now(), amount=money.fmt(case.refund_total))
    await refund_requested(session, actor, case)
    return case


def refund_key(case_no: str, part: int) -> str:
    """The idempotency key of a case's refund from its `part`-th payment (0 first): the same key
    on every retry, so the gateway pays each part once."""
    return f"case:{case_no}:refund" if part == 0 else f"case:{case_no}:refund:{part + 1}"


async def refund_requested(session: AsyncSession, actor: Actor, case: Case) -> None:
    """The hand-over to the refund ledger (PAY-3): the case's total is refunded from the order's
    captured payments, the one with the most left first (`refund_parts`), each part through the
    ledger under its own key (`refund_key`: a retry is the same refund); audited, and told as
    `aftersales.refund_requested` naming the first part and listing every part."""
    captured = [p for p in await payments.payments_of(session, case.order_id) if p.status == "succeeded"]
    plan = refund_parts([(p.id, p.amount - p.refund_reserved) for p in captured], case.refund_total)
    if not plan:
        held = money.fmt(sum(p.amount - p.refund_reserved for p in captured))
        raise NothingToRefund(
            f"the order's captured payments hold {held} more, not {money.fmt(case.refund_total)}"
        )
    reason = f"after-sales case {case.case_no}"
    parts = []
    for index, (payment_id, amount) in enumerate(plan):
        key = refund_key(case.case_no, index)
        refund = await refunds.request_refund(session, actor, payment_id, amount, key, reason, case.id)
        parts.append(
            {
                "payment_id": payment_id,
                "refund_id": refund.id,
                "amount": money.fmt(amount),
                "idempotency_key": key,
            }
        )
    payload = _notice(
        case,
        payment_id=parts[0]["payment_id"],
        refund_id=parts[0]["refund_id"],
        amount=money.fmt(case.refund_total),
        idempotency_key=parts[0]["idempotency_key"],
        parts=parts,
    )
    events.queue(session, "aftersales.refund_requested", order_subject(case.order_id), payload)
    await audit.record(session, audit.row(actor, "case.refund_requested", "case", case.id, None, payload))


async def settled_by_ledger(session: AsyncSession, refund: LedgerRefund) -> None:
    """Told by the refund ledger of every refund that succeeded (`refunds.ON_SETTLED`): a case's
    refund settles its case once every part of it has succeeded; until then the case shows what
    has (a case refunded from several payments)."""
    if refund.case_id is None:
        return
    # The case first: two parts settling at once count each other's success, one after the other.
    case = await get_case(session, refund.case_id, lock=True)
    settled = sum(
        r.amount for r in await refunds.refunds_of_case(session, refund.case_id) if r.status == "succeeded"
    )
    if settled >= case.refund_total:
        await refund_settled(session, case.id, settled)
    else:
        case.refunded = settled
        await session.flush()


async def refund_settled(session: AsyncSession, case_id: int, refunded_fen: int) -> Case:
    """The ledger's callback: the refund reached the customer; the case is `refunded`."""
    case = await get_case(session, case_id, lock=True)
    case.refunded = refunded_fen
    await _step(session, SYSTEM, case, C.REFUNDED, clock.now(), refunded=money.fmt(refunded_fen))
    await sla.stop(session, case_subject(case.id), CaseClock.REFUND)
    await _release_order(session, case)
    await events.record(
        session,
        "aftersales.refunded",
        order_subject(case.order_id),
        _notice(case, refunded=money.fmt(refunded_fen)),
    )
    return case


async def exchange(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """ASV-6: the replacement order (channel `exchange`, lines at 0, nothing to pay) is placed
    through intake, reserving stock like any order, settled at once and so ready to pick; its
    ship clock is the policy's replacement time."""
    case = await get_case(session, case_id, lock=True)
    at = clock.now()
    if not case.can_move_to(C.EXCHANGED):
        raise InvalidTransition("case", case.state, C.EXCHANGED)
    order = await queries.get_order(session, case.order_id)
    body = OrderIn.model_validate(
        {
            "channel": EXCHANGE_CHANNEL,
            "channel_order_no": case.case_no,
            "customer": order.contact["customer"],
            "shipping_address": order.contact["shipping_address"],
            "lines": [
                {"sku": line.sku_code, "quantity": line.quantity, "unit_price": "0"} for line in case.lines
            ],
            "note": f"replacement for {order.order_no}, case {case.case_no}",
        }
    )
    placed = (await intake.place_order(session, actor, body, None, replacement=True)).order
    case.replacement_order_id = placed.id
    await _step(session, actor, case, C.EXCHANGED, at, replacement_order_id=placed.id)
    if placed.status == "confirmed":
        await lifecycle.mark_paid(session, SYSTEM, placed.id)
        ship_by = at + timedelta(hours=policy.current().aftersales.replacement_ship_hours)
        await sla.restart(session, order_subject(placed.id), OrderClock.SHIP, ship_by)
    await _release_order(session, case)
    await events.record(
        session,
        "aftersales.exchanged",
        order_subject(case.order_id),
        _notice(case, replacement_order_id=placed.id),
    )
    return case


async def repair(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    case = await get_case(session, case_id, lock=True)
    await _step(session, actor, case, C.REPAIRED, clock.now())
    await _release_order(session, case)
    await events.record(session, "aftersales.repaired", order_subject(case.order_id), _notice(case))
    return case


async def close(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    case = await get_case(session, case_id, lock=True)
    await _step(session, actor, case, C.CLOSED, clock.now())
    await _release_order(session, case)
    await events.record(session, "aftersales.closed", order_subject(case.order_id), _notice(case))
    return case


# --- the order's close clock (ORD-7) ----------------------------------------------------------


async def close_order_when_free(session: AsyncSession, order_id: int) -> None:
    """ORD-7's close action: an order with an open case does not close; its clock waits
    (paused) until the last case ends. Otherwise the order closes as the orders domain closes it."""
    if any(case.is_open for case in await repository.of_order(session, order_id)):
        subject = order_subject(order_id)
        await sla.restart(session, subject, OrderClock.AFTERSALES, clock.now())
        await sla.pause(session, subject, OrderClock.AFTERSALES)
        return
    await lifecycle.close_after_aftersales(session, order_id)
