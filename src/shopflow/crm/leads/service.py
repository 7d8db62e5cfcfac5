"""Lead use cases (CRM-2..4): take a lead in (or append it to its phone's open lead), grade it,
assign it, log follow-ups on its clocks, override its grade, convert it when its phone orders."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import alerts, audit, auth, clock, crypto, db, events, policy, sla
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.auth import User
from shopflow.core.errors import FieldError, Invalid, NotFound
from shopflow.core.policy import Assignment
from shopflow.core.roles import USER_OWNER
from shopflow.crm.leads import repository
from shopflow.crm.leads.errors import LeadClosed, LeadNotFound
from shopflow.crm.leads.grading import Signals, follow_up_due, grade
from shopflow.crm.leads.models import (
    FollowUp,
    Grade,
    Intake,
    Lead,
    LeadClock,
    LeadState,
    Outcome,
    lead_subject,
)
from shopflow.crm.leads.schemas import FollowUpIn, LeadIn, StaffLeadIn
from shopflow.kb import service as kb
from shopflow.kb.models import Article

L = LeadState
ASSIGNED_ALERT = "lead.assigned"  # the console alert telling a person a lead is theirs now
CONVERSIONS = "orders"  # the conversion sweep's mark


def phone_hash(phone: str) -> str:
    return crypto.vault().lookup_hash(phone)


def _signals(data: LeadIn) -> Signals:
    return Signals(tuple(data.need_tags), data.source, data.quote_asked, data.quantity, data.budget)


def _details(data: LeadIn) -> dict[str, Any]:
    return {
        "name": data.name,
        "note": data.note,
        "need_tags": list(data.need_tags),
        "budget": data.budget,
        "quantity": data.quantity,
        "quote_asked": data.quote_asked,
    }


def _first_contact_due(at: datetime) -> datetime:
    return sla.after(at, working_days=policy.current().crm.first_contact_working_days)


def _row(data: LeadIn, actor: Actor, at: datetime) -> dict[str, Any]:
    """The new lead's row, graded (CRM-3), without an owner yet."""
    hashed = phone_hash(data.phone)
    graded = grade(_signals(data), policy.current().crm)
    return {
        "contact": {"name": data.name, "phone": data.phone},
        "phone_hash": hashed,
        "open_phone": hashed,
        "need_tags": list(data.need_tags),
        "source": data.source,
        "signals": _signals(data).stored(),
        "grade": graded.grade,
        "reasons": list(graded.reasons),
        "grade_overridden": False,
        "state": L.NEW,
        "owner_id": None,
        "note": data.note,
        "intakes": 1,
        "created_by": actor.user_id,
        "created_at": at,
        "updated_at": at,
    }


@dataclass(frozen=True, slots=True)
class Taken:
    lead: Lead
    appended: bool  # the phone had an open lead: this request joined it


async def submit(session: AsyncSession, actor: Actor, data: LeadIn) -> Taken:
    """CRM-2: a new lead, graded, assigned and on its first-contact clock; or, when the phone
    already has an open lead, this request appended to it (its needs and signals merged, the
    grade recomputed unless a person set it). The database's unique open phone decides which,
    so concurrent requests of one phone make one lead."""
    named = data.owner if isinstance(data, StaffLeadIn) else None
    owner = None if named is None else await _assignee(session, named, "owner")
    at = clock.now()
    row = _row(data, actor, at)
    lead_id = await repository.insert_open(session, row)
    if lead_id is None:
        existing = await repository.open_of_phone(session, row["phone_hash"])
        if existing is not None:
            return Taken(await _append(session, actor, existing, data, at), True)
        lead_id = await repository.insert_open(session, row)  # closed meanwhile: a new lead after all
        if lead_id is None:
            raise Invalid("the phone's lead is busy; send again", errors=[FieldError("phone", "busy")])
    lead = await get_lead(session, lead_id)
    session.add(Intake(lead_id=lead.id, source=data.source, details=_details(data), created_at=at))
    await audit.record(
        session,
        audit.row(
            actor,
            "lead.new",
            "lead",
            lead.id,
            None,
            {"state": lead.state, "grade": lead.grade, "reasons": lead.reasons, "source": lead.source},
            at,
        ),
    )
    chosen = owner or await choose_owner(session, Grade(lead.grade))
    if chosen is not None:
        await _give(
            session, actor, lead, chosen, "chosen" if owner else policy.current().crm.assignment[lead.grade]
        )
    await sla.start(
        session, lead_subject(lead.id), LeadClock.FIRST_CONTACT, _first_contact_due(at), lead.owner_id
    )
    await session.flush()
    return Taken(lead, False)


async def _append(session: AsyncSession, actor: Actor, lead: Lead, data: LeadIn, at: datetime) -> Lead:
    """The request joins the phone's open lead: its intake kept, needs and signals merged, the
    grade recomputed unless a person set it (the running clock moved with it); audited. The
    intake and audit rows are queued: written with the transaction's next write."""
    before = {"grade": lead.grade, "need_tags": list(lead.need_tags), "intakes": lead.intakes}
    db.queue(
        session,
        Intake,
        {"lead_id": lead.id, "source": data.source, "details": _details(data), "created_at": at},
    )
    merged = Signals.of(lead.need_tags, lead.source, lead.signals).merged(_signals(data))
    lead.need_tags = list(merged.need_tags)
    lead.signals = merged.stored()
    lead.intakes += 1
    lead.updated_at = at
    if data.note:
        lead.note = f"{lead.note}\n{data.note}" if lead.note else data.note
    if not lead.grade_overridden:
        graded = grade(merged, policy.current().crm)
        lead.reasons = list(graded.reasons)
        if graded.grade != lead.grade:
            lead.grade = graded.grade
            await _move_clock(session, lead)
    after = {"grade": lead.grade, "need_tags": lead.need_tags, "intakes": lead.intakes, "source": data.source}
    audit.queue(session, audit.row(actor, "lead.appended", "lead", lead.id, before, after, at))
    return lead


# --- assignment (CRM-4) -----------------------------------------------------------------------


async def choose_owner(session: AsyncSession, grade_: Grade) -> User | None:
    """CRM-4: the on-duty sales person a new lead of this grade goes to, by the policy's way for
    the grade: round robin (the one after the last lead of the grade's owner) or least loaded
    (fewest open leads; the first by id on a tie). None when nobody is on duty."""
    people = await repository.sales_on_duty(session)
    if not people:
        return None
    match policy.current().crm.assignment[grade_]:
        case Assignment.ROUND_ROBIN:
            last = await repository.last_owner(session, grade_)
            later = [person for person in people if last is not None and person.id > last]
            return later[0] if later else people[0]
        case Assignment.LEAST_LOADED:
            loads = await repository.open_loads(session, [person.id for person in people])
            return min(people, key=lambda person: (loads.get(person.id, 0), person.id))


async def _assignee(session: AsyncSession, username: str, field: str) -> User:
    try:
        user = await auth.find_user(session, username)
    except NotFound:
        raise Invalid("no such user", errors=[FieldError(field, f"no user {username!r}")]) from None
    if not user.active or not auth.allowed(user.role, "leads.write"):
        raise Invalid(
            f"{username} may not take leads", errors=[FieldError(field, f"{username!r} may not work leads")]
        )
    return user


async def _give(session: AsyncSession, actor: Actor, lead: Lead, user: User, how: str) -> None:
    """The lead is `user`'s now: audited, and they are told (console alert and `lead.assigned`)."""
    at = clock.now()
    previous = lead.owner_id
    lead.owner_id = user.id
    lead.updated_at = at
    await session.flush()
    payload = {"lead_id": lead.id, "owner": user.username, "grade": lead.grade, "how": how}
    events.queue(session, "lead.assigned", lead_subject(lead.id), payload)
    before = None if previous is None else {"owner_id": previous}
    audit.queue(
        session,
        audit.row(actor, "lead.assigned", "lead", lead.id, before, {"owner": user.username, "how": how}, at),
    )
    alert = alerts.row(
        ASSIGNED_ALERT,
        lead_subject(lead.id),
        f"lead {lead.id} (grade {lead.grade}) is yours: {'; '.join(lead.reasons)}",
        f"lead:{lead.id}:assigned:{user.id}:{at.isoformat()}",
    )
    alert["owner"] = f"{USER_OWNER}{user.username}"
    await alerts.raise_many(session, [alert])


async def assign(session: AsyncSession, actor: Actor, lead_id: int, username: str) -> Lead:
    """Reassign the lead by hand (audited); the new owner is told. A closed lead keeps its owner."""
    lead = await get_lead(session, lead_id, lock=True)
    if lead.closed:
        raise LeadClosed(f"lead {lead.id} is {lead.state}")
    user = await _assignee(session, username, "user")
    if user.id != lead.owner_id:
        await _give(session, actor, lead, user, "by_hand")
    return lead


# --- follow-ups and clocks (CRM-3, CRM-4) -----------------------------------------------------


async def _move_clock(session: AsyncSession, lead: Lead) -> None:
    """Regraded: the running follow-up clock goes to the new grade's deadline, counted from the
    last follow-up (the first-contact clock does not depend on the grade)."""
    if lead.last_follow_up_at is None:
        return
    subject = lead_subject(lead.id)
    running = [c for c in await sla.of_subject(session, subject) if c.kind == LeadClock.FOLLOW_UP]
    if running and running[0].state == sla.ClockState.RUNNING:
        due = follow_up_due(lead.last_follow_up_at, Grade(lead.grade), policy.current().crm)
        await sla.restart(session, subject, LeadClock.FOLLOW_UP, due, lead.owner_id)


async def log_follow_up(session: AsyncSession, actor: Actor, lead_id: int, data: FollowUpIn) -> FollowUp:
    """CRM-4: a follow-up (channel, outcome, next step, time). The first one meets the first-contact
    clock; each restarts the follow-up clock to its grade's deadline. `qualified` and `lost`
    outcomes move the lead; a converted or lost lead takes none (409)."""
    lead = await get_lead(session, lead_id, lock=True)
    if lead.closed:
        raise LeadClosed(f"lead {lead.id} is {lead.state}: no more follow-ups")
    now = clock.now()
    at = data.at or now
    if at > now:
        raise Invalid("a follow-up is logged once it happened", errors=[FieldError("at", "is in the future")])
    if at < lead.created_at:
        raise Invalid(
            "the lead did not exist then", errors=[FieldError("at", "is before the lead was created")]
        )
    found = FollowUp(
        lead_id=lead.id,
        channel=data.channel,
        outcome=data.outcome,
        next_step=data.next_step,
        note=data.note,
        at=at,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(found)
    before = {"state": lead.state}
    if lead.state == L.NEW:
        lead.move_to(L.CONTACTED, now)
    if data.outcome == Outcome.QUALIFIED and lead.state == L.CONTACTED:
        lead.move_to(L.QUALIFIED, now)
    lead.last_follow_up_at = max(at, lead.last_follow_up_at or at)
    lead.updated_at = now
    subject = lead_subject(lead.id)
    await sla.stop(session, subject, LeadClock.FIRST_CONTACT)
    if data.outcome == Outcome.LOST:
        lead.move_to(L.LOST, now)
        await sla.cancel(session, subject, LeadClock.FOLLOW_UP)
    else:
        due = follow_up_due(lead.last_follow_up_at, Grade(lead.grade), policy.current().crm)
        await sla.restart(session, subject, LeadClock.FOLLOW_UP, due, lead.owner_id)
    await session.flush()
    after = {
        "state": lead.state,
        "channel": data.channel,
        "outcome": data.outcome,
        "next_step": data.next_step,
        "at": at.isoformat(),
    }
    await audit.record(session, audit.row(actor, "lead.follow_up", "lead", lead.id, before, after, now))
    return found


async def override_grade(
    session: AsyncSession, actor: Actor, lead_id: int, grade_: Grade, reason: str
) -> Lead:
    """CRM-3: a person sets the grade, saying why (audited); the running follow-up clock moves
    to the new grade's deadline. A converted or lost lead is never regraded (409)."""
    lead = await get_lead(session, lead_id, lock=True)
    if lead.closed:
        raise LeadClosed(f"lead {lead.id} is {lead.state}: its grade stays {lead.grade}")
    before = {"grade": lead.grade, "reasons": list(lead.reasons)}
    lead.grade = grade_
    lead.reasons = [f"set by {actor.name}: {reason}"]
    lead.grade_overridden = True
    lead.updated_at = clock.now()
    await _move_clock(session, lead)
    await session.flush()
    after = {"grade": lead.grade, "reasons": lead.reasons}
    await audit.record(session, audit.row(actor, "lead.graded", "lead", lead.id, before, after))
    return lead


# --- conversion (CRM-4) -----------------------------------------------------------------------


async def convert(session: AsyncSession, lead: Lead, order_id: int, at: datetime) -> None:
    """The lead's phone ordered: converted, the order linked, its clocks ended."""
    previous = lead.move_to(L.CONVERTED, at)
    lead.order_id = order_id
    await session.flush()
    await sla.cancel(session, lead_subject(lead.id), LeadClock.FIRST_CONTACT, LeadClock.FOLLOW_UP)
    events.queue(session, "lead.converted", lead_subject(lead.id), {"lead_id": lead.id, "order_id": order_id})
    audit.queue(
        session,
        audit.row(
            SYSTEM,
            "lead.converted",
            "lead",
            lead.id,
            {"state": previous},
            {"state": lead.state, "order_id": order_id},
            at,
        ),
    )


BATCH = 500  # orders read per conversion sweep
# Orders younger than this are left for the next sweep: an order whose id was taken before a
# newer one's may commit after it, and the mark must not pass it unread.
SETTLE = timedelta(seconds=60)


async def convert_from_orders(session: AsyncSession, limit: int = BATCH) -> int:
    """The worker's conversion sweep: the orders placed since its mark (and at least SETTLE ago)
    whose phone has an open lead created before the order convert that lead. Order intake is not
    touched: one indexed read of the new orders, one of the open leads of their phones. How many
    orders it read."""
    mark = await repository.conversion_mark(session, CONVERSIONS)
    settled = clock.now() - SETTLE
    found = list(takewhile(lambda o: o[2] <= settled, await repository.orders_after(session, mark, limit)))
    if not found:
        return 0
    leads = {
        lead.open_phone: lead for lead in await repository.open_by_phones(session, {h for _, h, _ in found})
    }
    at = clock.now()
    for order_id, hashed, placed_at in found:
        lead = leads.get(hashed)
        if lead is not None and not lead.closed and placed_at >= lead.created_at:
            await convert(session, lead, order_id, at)
    await repository.set_conversion_mark(session, CONVERSIONS, found[-1][0])
    await db.write(session)
    return len(found)


# --- reading ----------------------------------------------------------------------------------


async def get_lead(session: AsyncSession, lead_id: int, *, lock: bool = False) -> Lead:
    lead = await repository.get(session, lead_id, lock=lock)
    if lead is None:
        raise LeadNotFound(f"no lead {lead_id}")
    return lead


def _late() -> Select[tuple[int]]:
    """The ids of the leads with a late clock (past its deadline, its goal not reached), as a
    query the lead queries nest: however many are late, none is read into Python."""
    return sla.late_subject_ids(clock.now(), "lead:")


async def late_among(session: AsyncSession, lead_ids: Collection[int]) -> set[int]:
    """Which of `lead_ids` have a late clock now."""
    return await repository.among(session, lead_ids, _late())


async def list_leads(
    session: AsyncSession,
    grade_: str | None,
    state: str | None,
    owner: str | None,
    late: bool,
    page: int,
    page_size: int,
) -> tuple[list[Lead], int]:
    owner_id = None if owner is None else (await auth.find_user(session, owner)).id
    late_ids = _late() if late else None
    return await repository.page(
        session, grade_, state, owner_id, late_ids, (page - 1) * page_size, page_size
    )


async def follow_ups(session: AsyncSession, lead_id: int) -> list[tuple[FollowUp, str | None]]:
    return await repository.follow_ups(session, lead_id)


async def usernames(session: AsyncSession, user_ids: Sequence[int | None]) -> dict[int, str]:
    return await repository.usernames(session, {i for i in user_ids if i is not None})


async def scripts(session: AsyncSession, language: str) -> list[Article]:
    """The knowledge base's reply scripts in `language`, for the follow-up form (CRM-4)."""
    return await kb.scripts(session, language)


# --- import (CLI, bench) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Imported:
    stored: int  # new leads
    appended: int  # rows that joined their phone's open lead


class _Chooser:
    """CRM-4 for a batch: the owners of many new leads chosen in memory, as `choose_owner` would
    choose them one by one."""

    def __init__(self, people: list[User], last: dict[str, int | None], loads: dict[int, int]) -> None:
        self.people = people
        self.last = last
        self.loads = loads

    def next(self, grade_: str) -> User | None:
        if not self.people:
            return None
        match policy.current().crm.assignment[grade_]:
            case Assignment.ROUND_ROBIN:
                last = self.last.get(grade_)
                later = [p for p in self.people if last is not None and p.id > last]
                chosen = later[0] if later else self.people[0]
            case Assignment.LEAST_LOADED:
                chosen = min(self.people, key=lambda p: (self.loads.get(p.id, 0), p.id))
        self.last[grade_] = chosen.id
        self.loads[chosen.id] = self.loads.get(chosen.id, 0) + 1
        return chosen


async def chooser(session: AsyncSession) -> _Chooser:
    people = await repository.sales_on_duty(session)
    last = {g.value: await repository.last_owner(session, g) for g in Grade}
    return _Chooser(people, last, await repository.open_loads(session, [p.id for p in people]))


async def import_leads(
    session: AsyncSession, actor: Actor, batch: Sequence[LeadIn], owners: _Chooser
) -> Imported:
    """Load one batch of leads in a few statements: the new phones' leads in one INSERT with
    their owners (CRM-4), intakes, clocks, alerts, events and audit rows in one more each; a row
    whose phone already has an open lead (in the database or earlier in the batch) is appended
    to it as `submit` appends."""
    at = clock.now()
    fresh: dict[str, tuple[LeadIn, dict[str, Any]]] = {}
    later: list[LeadIn] = []
    for data in batch:
        row = _row(data, actor, at)
        if row["phone_hash"] in fresh:
            later.append(data)
            continue
        chosen = owners.next(row["grade"])
        row["owner_id"] = None if chosen is None else chosen.id
        fresh[row["phone_hash"]] = (data, row)
    stored = set(
        await db.insert_rows(
            session, Lead, [row for _, row in fresh.values()], returning="open_phone", skip_conflicts=True
        )
    )
    later.extend(data for hashed, (data, _) in fresh.items() if hashed not in stored)
    leads = await repository.open_by_phones(session, stored)
    names = {p.id: p.username for p in owners.people}
    raised = []
    due = _first_contact_due(at)
    for lead in leads:
        data = fresh[lead.open_phone or ""][0]
        subject = lead_subject(lead.id)
        db.queue(
            session,
            Intake,
            {"lead_id": lead.id, "source": data.source, "details": _details(data), "created_at": at},
        )
        sla.queue_running(session, subject, LeadClock.FIRST_CONTACT, due, lead.owner_id)
        after = {"state": lead.state, "grade": lead.grade, "reasons": lead.reasons, "source": lead.source}
        audit.queue(session, audit.row(actor, "lead.new", "lead", lead.id, None, after, at))
        if lead.owner_id is not None:
            owner = names[lead.owner_id]
            how = policy.current().crm.assignment[lead.grade]
            payload = {"lead_id": lead.id, "owner": owner, "grade": lead.grade, "how": how}
            events.queue(session, "lead.assigned", subject, payload)
            audit.queue(
                session,
                audit.row(actor, "lead.assigned", "lead", lead.id, None, {"owner": owner, "how": how}, at),
            )
            alert = alerts.row(
                ASSIGNED_ALERT,
                subject,
                f"lead {lead.id} (grade {lead.grade}) is yours: {'; '.join(lead.reasons)}",
                f"lead:{lead.id}:assigned:{lead.owner_id}:{at.isoformat()}",
            )
            raised.append({**alert, "owner": f"{USER_OWNER}{owner}"})
    await db.write(session)
    await alerts.raise_many(session, raised)
    return Imported(len(leads), await _join_open(session, actor, later, at))


async def _join_open(session: AsyncSession, actor: Actor, rows: Sequence[LeadIn], at: datetime) -> int:
    """Rows whose phone has an open lead, appended to it (the leads read and locked at once);
    a row whose lead closed meanwhile is taken in by `submit`. How many were appended."""
    hashes = {phone_hash(data.phone): data for data in rows}
    open_leads = {lead.open_phone: lead for lead in await repository.open_by_phones(session, hashes.keys())}
    appended = 0
    for data in rows:
        lead = open_leads.get(phone_hash(data.phone))
        if lead is None:
            appended += (await submit(session, actor, data)).appended
        else:
            await _append(session, actor, lead, data, at)
            appended += 1
    await session.flush()
    await db.write(session)
    return appended


async def counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    return await repository.counts(session)
