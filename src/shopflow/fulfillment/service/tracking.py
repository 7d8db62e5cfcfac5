"""Tracking events by carrier push or file import (FUL-5) and exception cases (FUL-6)."""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, audit, clock, policy, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.errors import FieldError, Invalid, field_error
from shopflow.fulfillment.errors import BadSignature, CaseNotFound
from shopflow.fulfillment.files import RowError, TrackingRow
from shopflow.fulfillment.models.carriers import Carrier
from shopflow.fulfillment.models.shipments import (
    CaseState,
    ExceptionKind,
    Shipment,
    ShipmentClock,
    ShipmentException,
    ShipmentStatus,
    TrackingStatus,
    case_subject,
    exception_kind_for,
    shipment_subject,
)
from shopflow.fulfillment.repository import shipments as shipment_repository
from shopflow.fulfillment.schemas import PushIn
from shopflow.fulfillment.service import carriers as carrier_service
from shopflow.orders.models import OrderStatus
from shopflow.orders.service import lifecycle, queries

SIGNATURE_HEADER = "X-Carrier-Signature"


@dataclass(frozen=True, slots=True)
class Reported:
    """One event as a carrier reports it."""

    waybill: str
    status: TrackingStatus
    occurred_at: datetime
    location: str | None
    description: str | None


@dataclass(slots=True)
class Recorded:
    stored: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Follower:
    """Parcels of another domain that carriers report on like ours: the after-sales domain's
    return shipments (a later domain, which fulfillment cannot import; it registers by `follow`
    when the app is made). `followed` names which of the waybills it follows (with the carrier
    of that code, when one is named); `track` stores their events (stored, duplicates)."""

    followed: Callable[[AsyncSession, str | None, Collection[str]], Awaitable[set[str]]]
    track: Callable[[AsyncSession, Actor, list[Reported], str], Awaitable[tuple[int, int]]]


FOLLOWERS: list[Follower] = []


def follow(follower: Follower) -> None:
    """Hand `follower` the events of the waybills it follows, from now on (once, however often)."""
    if follower not in FOLLOWERS:
        FOLLOWERS.append(follower)


async def _followed(session: AsyncSession, carrier: str | None, waybills: set[str]) -> dict[str, Follower]:
    """The follower of each of `waybills` that one follows."""
    found: dict[str, Follower] = {}
    for follower in FOLLOWERS:
        for waybill in await follower.followed(session, carrier, waybills - found.keys()):
            found[waybill] = follower
    return found


async def _track_followed(
    session: AsyncSession,
    actor: Actor,
    followers: dict[str, Follower],
    events: list[Reported],
    source: str,
    recorded: Recorded,
) -> None:
    for follower in dict.fromkeys(followers.values()):
        mine = [e for e in events if followers.get(e.waybill) is follower]
        stored, duplicates = await follower.track(session, actor, mine, source)
        recorded.stored += stored
        recorded.duplicates += duplicates


def sign(body: bytes, secret: str) -> str:
    """The signature a carrier sends with a push: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def carrier_actor(carrier: Carrier) -> Actor:
    return Actor(user_id=None, name=f"carrier:{carrier.code}", role="carrier")


async def receive_push(session: AsyncSession, code: str, body: bytes, signature: str | None) -> Recorded:
    """FUL-5: a carrier's signed push, of our parcels or the waybills a follower follows (a
    customer's return). A bad signature or any bad event changes nothing."""
    carrier = await carrier_service.get_carrier(session, code)
    expected = sign(body, carrier.push_secret).encode()
    if signature is None or not hmac.compare_digest(expected, signature.lower().encode()):
        raise BadSignature(
            f"the {SIGNATURE_HEADER} signature does not verify; nothing was changed",
            errors=[FieldError(SIGNATURE_HEADER, "does not verify")],
        )
    try:
        data = PushIn.model_validate_json(body)
    except ValidationError as exc:
        errors = [field_error(e) for e in exc.errors()]
        raise Invalid("malformed push; nothing was changed", errors=errors) from None
    found = await shipment_repository.shipments_by_tracking(session, {e.waybill for e in data.events})
    ours = {waybill for waybill, shipment in found.items() if shipment.carrier_id == carrier.id}
    others = await _followed(session, carrier.code, {e.waybill for e in data.events} - ours)
    unknown = [
        FieldError(f"events[{i}].waybill", f"no parcel {e.waybill!r} with {carrier.code}")
        for i, e in enumerate(data.events)
        if e.waybill not in ours and e.waybill not in others
    ]
    if unknown:
        raise Invalid("the push names unknown waybills; nothing was changed", errors=unknown)
    reported = [Reported(e.waybill, e.status, e.time, e.location, e.description) for e in data.events]
    actor = carrier_actor(carrier)
    recorded = await _record(
        session, actor, [(found[r.waybill], r) for r in reported if r.waybill in ours], "push"
    )
    await _track_followed(
        session, actor, others, [r for r in reported if r.waybill in others], "push", recorded
    )
    return recorded


async def import_rows(session: AsyncSession, actor: Actor, rows: list[TrackingRow]) -> Recorded:
    """FUL-5: rows of a tracking file; a row naming no known parcel (ours or a follower's, such as a
    return shipment) is reported, the rest kept."""
    found = await shipment_repository.shipments_by_tracking(session, {r.waybill for r in rows})
    others = await _followed(session, None, {r.waybill for r in rows} - found.keys())
    items = []
    followed = []
    errors = []
    for r in rows:
        reported = Reported(r.waybill, r.status, r.occurred_at, r.location, r.description)
        if r.waybill in found:
            items.append((found[r.waybill], reported))
        elif r.waybill in others:
            followed.append(reported)
        else:
            errors.append(RowError(r.row, r.waybill, f"unknown waybill {r.waybill!r}"))
    recorded = await _record(session, actor, items, "import")
    await _track_followed(session, actor, others, followed, "import", recorded)
    recorded.errors = errors
    return recorded


async def _record(
    session: AsyncSession, actor: Actor, items: list[tuple[Shipment, Reported]], source: str
) -> Recorded:
    """Store the events parcel by parcel (in order id order, locking each parcel, and its order
    first when it may be delivered, so concurrent writers never wait on each other in a circle)."""
    by_shipment: dict[int, list[Reported]] = defaultdict(list)
    shipments: dict[int, Shipment] = {}
    for shipment, reported in items:
        by_shipment[shipment.id].append(reported)
        shipments[shipment.id] = shipment
    recorded = Recorded()
    for shipment_id in sorted(shipments, key=lambda sid: (shipments[sid].order_id, sid)):
        events = sorted(by_shipment[shipment_id], key=lambda e: e.occurred_at)
        if any(e.status is TrackingStatus.DELIVERED for e in events):
            await queries.get_order(session, shipments[shipment_id].order_id, lock=True)
        shipment = await shipment_repository.get_shipment(session, shipment_id, lock=True)
        assert shipment is not None
        await _apply(session, actor, shipment, events, source, recorded)
    await session.flush()
    return recorded


async def _apply(
    session: AsyncSession,
    actor: Actor,
    shipment: Shipment,
    events: list[Reported],
    source: str,
    recorded: Recorded,
) -> None:
    at = clock.now()
    latest = shipment.last_event_at
    was_delivered = shipment.status == ShipmentStatus.DELIVERED
    stored = []
    for event in events:
        values = {
            "shipment_id": shipment.id,
            "status": event.status,
            "occurred_at": event.occurred_at,
            "location": event.location,
            "description": event.description,
            "source": source,
            "received_at": at,
        }
        if await shipment_repository.insert_event(session, values) is None:
            recorded.duplicates += 1
            continue
        recorded.stored += 1
        stored.append({"status": event.status, "at": event.occurred_at.isoformat()})
        previous = shipment.track(event.status, event.occurred_at)
        if previous is not None:
            await audit.record(
                session,
                audit.row(
                    actor,
                    f"shipment.{shipment.status}",
                    "shipment",
                    shipment.id,
                    {"status": previous},
                    {"status": shipment.status, "event": event.status, "at": event.occurred_at.isoformat()},
                    at,
                ),
            )
        kind = exception_kind_for(event.status)
        if kind is not None:
            await open_case(session, actor, shipment, kind)
    if stored:
        after = {"source": source, "events": stored, "last_event": shipment.last_event}
        await audit.record(
            session, audit.row(actor, "shipment.tracked", "shipment", shipment.id, None, after, at)
        )
    if shipment.last_event_at != latest:
        subject = shipment_subject(shipment.id)
        if shipment.finished:
            await sla.stop(session, subject, ShipmentClock.NO_EVENT)
        else:
            assert shipment.last_event_at is not None
            quiet = timedelta(hours=policy.current().fulfillment.stuck_without_event_hours)
            await sla.restart(session, subject, ShipmentClock.NO_EVENT, shipment.last_event_at + quiet)
    await session.flush()
    if shipment.status == ShipmentStatus.DELIVERED and not was_delivered:
        await _maybe_delivered(session, actor, shipment.order_id)


async def _maybe_delivered(session: AsyncSession, actor: Actor, order_id: int) -> None:
    """The order is delivered when all its parcels are (and all have shipped)."""
    order = await queries.get_order(session, order_id, lock=True)
    parcels = await shipment_repository.shipments_of_order(session, order_id)
    if order.status == OrderStatus.SHIPPED and all(p.status == ShipmentStatus.DELIVERED for p in parcels):
        await lifecycle.mark_delivered(session, actor, order_id)


# --- exception cases (FUL-6) -------------------------------------------------------------------


CASE_CLOSED = "the customer was contacted with a solution"  # the note of a closed case's alert


async def open_case(
    session: AsyncSession, actor: Actor, shipment: Shipment, kind: ExceptionKind
) -> ShipmentException | None:
    """Open a case with its contact clock and one alert; None if one of that kind is open."""
    at = clock.now()
    contact_by = at + timedelta(hours=policy.current().fulfillment.exception_contact_hours)
    values = {
        "shipment_id": shipment.id,
        "kind": kind,
        "state": CaseState.OPEN,
        "opened_at": at,
        "contact_by": contact_by,
    }
    case_id = await shipment_repository.insert_case(session, values)
    if case_id is None:
        return None
    subject = case_subject(case_id)
    await sla.start(session, subject, ShipmentClock.EXCEPTION_CONTACT, contact_by)
    await alerts.raise_alert(
        session,
        "logistics_exception",
        shipment_subject(shipment.id),
        f"parcel {shipment.tracking_no} of order {shipment.order_id}: {kind}; contact the customer by"
        f" {contact_by.isoformat()}",
        subject,
    )
    await audit.record(
        session,
        audit.row(
            actor,
            "shipment_exception.opened",
            "shipment_exception",
            case_id,
            None,
            {"shipment_id": shipment.id, "kind": kind, "contact_by": contact_by.isoformat()},
            at,
        ),
    )
    return await get_case(session, case_id)


async def stuck(session: AsyncSession, shipment_id: int) -> None:
    """FUL-6: no event for the policy's hours: the parcel is stuck; a case opens."""
    shipment = await shipment_repository.get_shipment(session, shipment_id)
    if shipment is not None and not shipment.finished:
        await open_case(session, SYSTEM, shipment, ExceptionKind.STUCK)


async def get_case(session: AsyncSession, case_id: int) -> ShipmentException:
    found = await shipment_repository.get_case(session, case_id)
    if found is None:
        raise CaseNotFound(f"no exception case {case_id}")
    return found


async def contacted(session: AsyncSession, actor: Actor, case_id: int, solution: str) -> ShipmentException:
    """The customer was contacted with a solution: the case closes and its clock stops."""
    found = await shipment_repository.get_case(session, case_id, lock=True)
    if found is None:
        raise CaseNotFound(f"no exception case {case_id}")
    at = clock.now()
    previous = found.close(solution, at, actor.user_id)
    await sla.stop(session, case_subject(found.id), ShipmentClock.EXCEPTION_CONTACT)
    await alerts.resolve_cause(session, case_subject(found.id), CASE_CLOSED)
    await audit.record(
        session,
        audit.row(
            actor,
            "shipment_exception.closed",
            "shipment_exception",
            found.id,
            {"state": previous},
            {"state": found.state, "solution": solution},
            at,
        ),
    )
    await session.flush()
    return found


async def list_cases(
    session: AsyncSession,
    state: CaseState | None,
    page: int,
    page_size: int,
    kind: ExceptionKind | None = None,
) -> tuple[list[ShipmentException], int]:
    """Exception cases, the nearest contact deadline first."""
    return await shipment_repository.page_cases(session, state, (page - 1) * page_size, page_size, kind)


async def contact_clocks(session: AsyncSession, case_ids: list[int]) -> dict[int, sla.SlaClock]:
    """Each case's clock of contacting the customer (FUL-6), for showing the time left."""
    subjects = {case_subject(case_id): case_id for case_id in case_ids}
    return {
        subjects[found.subject]: found
        for found in await sla.of_subjects(session, list(subjects))
        if found.kind == ShipmentClock.EXCEPTION_CONTACT
    }
