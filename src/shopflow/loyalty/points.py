"""Points (LOY-1) as a ledger: earned on completion at the policy's rate (after discounts), shared
by the order's lines; taken back exactly for the units refunded; redeemed at checkout by one
conditional UPDATE in the order's transaction and given back when the order is cancelled or its
lines refunded; expired by the worker (FIFO); adjusted by hand with a reason. A balance is the sum
of the member's entries and never goes below zero."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, db, money, policy
from shopflow.core.audit import Actor
from shopflow.core.errors import FieldError, Invalid
from shopflow.loyalty import repository
from shopflow.loyalty.models import (
    LineValue,
    PointAccount,
    PointEntry,
    PointKind,
    expiring,
    points_for,
    redeemable,
    share_by_line,
    taken_back,
)

K = PointKind
FIELD = "points"


class PointsRefused(Invalid):
    code = "points_refused"

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}; nothing was stored", errors=[FieldError(FIELD, reason)])


@dataclass(frozen=True, slots=True)
class Redemption:
    points: int
    amount: int  # fen they take off the order


def expires(at: datetime) -> datetime | None:
    """When a credit made at `at` expires: the end of the policy's years after its year, in the
    store's zone (None: never)."""
    years = policy.current().loyalty.points_expire_years
    if years == 0:
        return None
    zone = clock.store_zone()
    return datetime(at.astimezone(zone).year + years + 1, 1, 1, tzinfo=zone).astimezone(UTC)


def _entry(customer_id: int, kind: PointKind, points: int, at: datetime, **fields: Any) -> dict[str, Any]:
    row = {
        "customer_id": customer_id,
        "kind": kind,
        "points": points,
        "order_id": None,
        "order_line_id": None,
        "quantity": None,
        "amount": None,
        "reason": "",
        "expires_at": None,
        "actor_id": None,
        "at": at,
    }
    return {**row, **fields}


async def balance(session: AsyncSession, customer_id: int) -> int:
    account = await repository.account(session, customer_id)
    return 0 if account is None else account.balance


# --- at checkout ---------------------------------------------------------------------------------


def redemption(customer_id: int | None, points: int, goods_left: int) -> Redemption:
    """What redeeming `points` takes off an order with `goods_left` fen of goods after coupons, or
    PointsRefused (422 naming `points`): not a member, or beyond the policy's share. The balance is
    checked by the burn itself (`burn`)."""
    rules = policy.current().loyalty
    if customer_id is None:
        raise PointsRefused("only a member (a customer with a profile) redeems points")
    most = redeemable(rules.point_value_fen, goods_left, rules.points_max_share_percent)
    if points > most:
        share = f"{rules.points_max_share_percent:g}%"
        raise PointsRefused(
            f"at most {most} points on this order ({share} of its goods, {money.fmt(goods_left)})"
        )
    return Redemption(points, points * rules.point_value_fen)


async def burn(session: AsyncSession, order_id: int, customer_id: int, redeemed: Redemption) -> None:
    """The redeemed points taken from the balance by one conditional UPDATE in the order's
    transaction (`balance >= points`: concurrent orders of one member never take more than it
    holds), the burn queued to be written with the order's lines; PointsRefused otherwise."""
    at = clock.now()
    if not await repository.debit(session, customer_id, redeemed.points, at):
        raise PointsRefused(
            f"the member has {await balance(session, customer_id)} points, not {redeemed.points}"
        )
    db.queue(
        session,
        PointEntry,
        _entry(
            customer_id,
            K.BURN,
            -redeemed.points,
            at,
            order_id=order_id,
            amount=redeemed.amount,
            reason="redeemed",
        ),
    )


async def return_for_order(session: AsyncSession, order_id: int) -> None:
    """A cancelled order's redeemed points given back (what its refunds have not given back yet)."""
    entries = await repository.entries_of_order(session, order_id)
    owed = -sum(e.points for e in entries if e.kind in (K.BURN, K.RETURN))
    if owed > 0:
        at = clock.now()
        customer_id = entries[0].customer_id
        await repository.credit(session, customer_id, owed, at)
        db.queue(
            session,
            PointEntry,
            _entry(customer_id, K.RETURN, owed, at, order_id=order_id, reason="order cancelled"),
        )


def burned_of(entries: Sequence[PointEntry]) -> tuple[int, int]:
    """(points, fen) an order's burn redeemed."""
    burns = [e for e in entries if e.kind == K.BURN]
    return -sum(e.points for e in burns), sum(e.amount or 0 for e in burns)


async def order_entries(session: AsyncSession, order_id: int) -> list[PointEntry]:
    return await repository.entries_of_order(session, order_id)


# --- completion and refunds ----------------------------------------------------------------------


async def earn(
    session: AsyncSession, order_id: int, customer_id: int | None, lines: Sequence[LineValue]
) -> int:
    """LOY-1: points for a completed order, at the policy's rate on what was paid for its goods
    after discounts (units already refunded left out), one entry per line; how many."""
    if customer_id is None:
        return 0
    entries = await repository.entries_of_order(session, order_id)
    refunded = _refunded_units(entries)
    kept = [
        LineValue(
            line.line_id,
            line.quantity - refunded[line.line_id],
            line.net * (line.quantity - refunded[line.line_id]) // line.quantity,
        )
        for line in lines
    ]
    total = points_for(sum(line.net for line in kept), policy.current().loyalty.points_per_yuan)
    if total <= 0:
        return 0
    at = clock.now()
    until = expires(at)
    await repository.credit(session, customer_id, total, at)
    db.queue(
        session,
        PointEntry,
        *(
            _entry(
                customer_id,
                K.EARN,
                share,
                at,
                order_id=order_id,
                order_line_id=line.line_id,
                quantity=line.quantity,
                expires_at=until,
                reason="order completed",
            )
            for line, share in zip(kept, share_by_line(kept, total), strict=True)
            if share > 0
        ),
    )
    await db.write(session)
    return total


def _refunded_units(entries: Sequence[PointEntry]) -> defaultdict[int, int]:
    """Units refunded per line so far (each refund of a line leaves a REVERSE entry)."""
    units: defaultdict[int, int] = defaultdict(int)
    for e in entries:
        if e.kind == K.REVERSE and e.order_line_id is not None:
            units[e.order_line_id] += e.quantity or 0
    return units


async def refunded(
    session: AsyncSession,
    order_id: int,
    customer_id: int | None,
    lines: Sequence[LineValue],
    units: dict[int, int],
) -> None:
    """A refund of `units` per line of the order settled: the points earned on those units taken
    back and the points redeemed for them given back, in proportion (all of them when every unit
    is refunded). A reversal takes at most what the balance holds: it never goes below zero."""
    if customer_id is None:
        return
    entries = await repository.entries_of_order(session, order_id)
    at = clock.now()
    earned = {e.order_line_id: e for e in entries if e.kind == K.EARN}
    before = _refunded_units(entries)
    burned, _ = burned_of(entries)
    burned_share = dict(zip((line.line_id for line in lines), share_by_line(lines, burned), strict=True))
    rows, take, give = [], 0, 0
    for line in lines:
        count = units.get(line.line_id, 0)
        if count <= 0:
            continue
        earn_row = earned.get(line.line_id)
        back = 0
        if earn_row is not None:
            after = [
                e
                for e in entries
                if e.kind == K.REVERSE and e.order_line_id == line.line_id and e.id > earn_row.id
            ]
            back = taken_back(
                earn_row.points,
                earn_row.quantity or 0,
                sum(e.quantity or 0 for e in after) + count,
                -sum(e.points for e in after),
            )
        rows.append(
            _entry(
                customer_id,
                K.REVERSE,
                -back,
                at,
                order_id=order_id,
                order_line_id=line.line_id,
                quantity=count,
                reason="refunded",
            )
        )
        take += back
        returned = sum(e.points for e in entries if e.kind == K.RETURN and e.order_line_id == line.line_id)
        owed = taken_back(burned_share[line.line_id], line.quantity, before[line.line_id] + count, returned)
        if owed > 0:
            rows.append(
                _entry(
                    customer_id,
                    K.RETURN,
                    owed,
                    at,
                    order_id=order_id,
                    order_line_id=line.line_id,
                    reason="refunded",
                )
            )
            give += owed
    if give:
        await repository.credit(session, customer_id, give, at)
    if take:
        account = await repository.account(session, customer_id, lock=True)
        held = 0 if account is None else account.balance
        if held < take:  # spent already: take what is there, never below zero
            _shrink(rows, take - held)
            take = held
        if take:
            await repository.debit(session, customer_id, take, at)
    db.queue(session, PointEntry, *rows)
    await db.write(session)


def _shrink(rows: list[dict[str, Any]], short: int) -> None:
    """Reversal rows reduced by `short` points in all, the last first (what the balance lacks)."""
    for row in reversed(rows):
        if short <= 0:
            return
        if row["kind"] == K.REVERSE and row["points"] < 0:
            cut = min(short, -row["points"])
            row["points"] += cut
            short -= cut


# --- by hand and by the worker -------------------------------------------------------------------


async def adjust(
    session: AsyncSession, actor: Actor, customer_id: int, points: int, reason: str
) -> PointEntry:
    """A manual adjustment with its reason (audited, AUD-1): a credit expires as earned points do;
    a debit beyond the balance is refused (422 naming `points`)."""
    at = clock.now()
    if points > 0:
        await repository.credit(session, customer_id, points, at)
    elif not await repository.debit(session, customer_id, -points, at):
        held = await balance(session, customer_id)
        raise PointsRefused(f"the member has {held} points: cannot take {-points}")
    entry = PointEntry(
        **_entry(
            customer_id,
            K.ADJUST,
            points,
            at,
            reason=reason,
            actor_id=actor.user_id,
            expires_at=expires(at) if points > 0 else None,
        )
    )
    session.add(entry)
    await session.flush()
    after = {"points": points, "reason": reason, "balance": await balance(session, customer_id)}
    await audit.record(
        session, audit.row(actor, "points.adjusted", "customer", customer_id, after=after, at=at)
    )
    return entry


async def birthday_bonus(session: AsyncSession, customer_ids: Sequence[int]) -> None:
    """LOY-1: the policy's birthday points for each customer greeted for their birthday today
    (the greeting's unique key makes it once a year), expiring as earned points do."""
    bonus = policy.current().loyalty.birthday_bonus_points
    if bonus <= 0 or not customer_ids:
        return
    at = clock.now()
    until = expires(at)
    for customer_id in customer_ids:
        await repository.credit(session, customer_id, bonus, at)
    db.queue(
        session,
        PointEntry,
        *(_entry(c, K.BIRTHDAY, bonus, at, reason="birthday", expires_at=until) for c in customer_ids),
    )


async def ledger(
    session: AsyncSession, customer_id: int, page: int, size: int
) -> tuple[list[PointEntry], int]:
    return await repository.entries_page(session, customer_id, (page - 1) * size, size)


async def ledger_sum(session: AsyncSession, customer_id: int) -> int:
    return await repository.ledger_sum(session, customer_id)


async def expire_due(session: AsyncSession, limit: int = 200) -> int:
    """The worker's sweep: for each member with credits past their date, the part their spending
    has not used expires (oldest credits spent first), never below a zero balance; how many
    members it looked at."""
    now = clock.now()
    accounts: list[PointAccount] = await repository.claim_expiring(session, now, limit)
    for account in accounts:
        due, spent, gone = await repository.expiry_sums(session, account.customer_id, now)
        lapse = min(expiring(due, spent, gone), account.balance)
        if lapse > 0:
            await repository.debit(session, account.customer_id, lapse, now)
            db.queue(
                session, PointEntry, _entry(account.customer_id, K.EXPIRE, -lapse, now, reason="expired")
            )
        account.expired_through = now
    await db.write(session)
    return len(accounts)
