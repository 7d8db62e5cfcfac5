"""Every query of the customers (CRM-1)."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import crypto
from shopflow.core.auth import User
from shopflow.core.crypto import SECRET_BYTES, Owned
from shopflow.core.db import driver_connection, insert_for, insert_rows
from shopflow.crm.leads.models import Lead
from shopflow.crm.models import Customer, CustomerPhone, Source, Tier, ValueEntry, history_source
from shopflow.orders.models import Order

# Order intake's customer (PostgreSQL, through the driver): a phone seen before is one indexed
# read (KNOWN_PG), its contact not even sealed (bench/order_intake.py). A new phone is inserted
# under a new customer id drawn from the customers' sequence, and the customer row with it, by
# the one statement LINK_PG, whose own read covers a phone committed meanwhile. A concurrent
# intake of the same new phone waits on the unique hash and then gets the first one's customer
# from DO UPDATE
# (which returns the conflicting row, committed after this statement's snapshot); its own
# customer row is inserted only when its phone row was (`xmax = 0`), so no orphan is left. The
# new customer's secret ($5, RSK-3) is the caller's: it is theirs when `created` says so.
LINK_PG = """
WITH known AS (
    SELECT customer_id FROM customer_phones WHERE phone_hash = $1
), phone AS (
    INSERT INTO customer_phones (customer_id, phone_hash, phone, is_primary, created_at)
    SELECT nextval(pg_get_serial_sequence('customers', 'id')), $1, $2, true, $4
    WHERE NOT EXISTS (SELECT 1 FROM known)
    ON CONFLICT (phone_hash) DO UPDATE SET phone_hash = EXCLUDED.phone_hash
    RETURNING customer_id, xmax = 0 AS created
), customer AS (
    INSERT INTO customers (id, personal, tags, tier, source, lifetime_value, order_count,
                           created_at, updated_at, secret)
    SELECT customer_id, $3, '[]'::jsonb, 'none', 'order', 0, 0, $4, $4, $5 FROM phone WHERE created
)
SELECT customer_id, false AS created FROM known UNION ALL SELECT customer_id, created FROM phone
"""
KNOWN_PG = (
    "SELECT p.customer_id, c.tier, c.secret FROM customer_phones p JOIN customers c ON c.id = p.customer_id"
    " WHERE p.phone_hash = $1"
)


async def link(
    session: AsyncSession, phone_hash: str, phone: str, personal: dict[str, Any], at: datetime
) -> tuple[int, str, bytes | None]:
    """The id, tier and secret (RSK-3) of the customer whose phone has `phone_hash`, created (with
    `personal`, the phone primary, no tier yet) when there is none: on PostgreSQL one indexed read
    for a phone seen before, one more statement for a new one. The secret is None when a
    concurrent order made the customer (its secret not yet seen) or it was erased."""
    driver = await driver_connection(session)
    if driver is not None:
        known = await driver.fetchrow(KNOWN_PG, phone_hash)
        if known is not None:
            return known[0], known[1], known[2]
        vault, secret = crypto.vault(), os.urandom(SECRET_BYTES)
        sealed = vault.seal_for(secret, personal)
        found = await driver.fetchrow(LINK_PG, phone_hash, vault.seal(phone), sealed, at, secret)
        return found[0], Tier.NONE, secret if found[1] else None
    # SQLite: writers are serialised (BEGIN IMMEDIATE), so reading first is safe.
    stmt = (
        select(CustomerPhone.customer_id, Customer.tier, Customer.secret)
        .join(Customer, Customer.id == CustomerPhone.customer_id)
        .where(CustomerPhone.phone_hash == phone_hash)
    )
    existing = (await session.execute(stmt)).first()
    if existing is not None:
        return existing[0], existing[1], existing[2]
    secret = os.urandom(SECRET_BYTES)
    customer_id = await create(session, personal, Source.ORDER, [], [(phone_hash, phone)], at, secret)
    return customer_id, Tier.NONE, secret


async def create(
    session: AsyncSession,
    personal: dict[str, Any],
    source: str,
    tags: list[str],
    phones: list[tuple[str, str]],
    at: datetime,
    secret: bytes | None = None,
) -> int:
    """A new customer with its phones (hash, number), the first primary, and its own `secret`
    (RSK-3; a new one when not given); its id."""
    secret = secret or os.urandom(SECRET_BYTES)
    row = {
        "secret": secret,
        "personal": Owned(secret, personal),
        "tags": tags,
        "tier": Tier.NONE,
        "source": source,
        "lifetime_value": 0,
        "order_count": 0,
        "created_at": at,
        "updated_at": at,
    }
    customer_id: int = (await insert_rows(session, Customer, [row], returning="id"))[0]
    rows = [
        {"customer_id": customer_id, "phone_hash": h, "phone": p, "is_primary": i == 0, "created_at": at}
        for i, (h, p) in enumerate(phones)
    ]
    await insert_rows(session, CustomerPhone, rows)
    return customer_id


async def secret_of(session: AsyncSession, customer_id: int) -> bytes | None:
    return await session.scalar(select(Customer.secret).where(Customer.id == customer_id))


async def taken_hashes(session: AsyncSession, hashes: Collection[str]) -> dict[str, int]:
    """Which of the phone `hashes` a customer has, and whose."""
    stmt = select(CustomerPhone.phone_hash, CustomerPhone.customer_id).where(
        CustomerPhone.phone_hash.in_(hashes)
    )
    return {h: int(c) for h, c in (await session.execute(stmt)).all()}


async def add_phones(
    session: AsyncSession, customer_id: int, phones: list[tuple[str, str]], at: datetime
) -> set[str]:
    """The phones (hash, number) added to the customer, not primary; the hashes stored (a phone
    another customer took meanwhile is skipped by its unique hash)."""
    rows = [
        {"customer_id": customer_id, "phone_hash": h, "phone": p, "is_primary": False, "created_at": at}
        for h, p in phones
    ]
    return set(await insert_rows(session, CustomerPhone, rows, returning="phone_hash", skip_conflicts=True))


async def remove_phones(session: AsyncSession, customer_id: int, hashes: Collection[str]) -> None:
    if hashes:
        await session.execute(
            delete(CustomerPhone).where(
                CustomerPhone.customer_id == customer_id, CustomerPhone.phone_hash.in_(hashes)
            )
        )


async def set_primary(session: AsyncSession, customer_id: int, phone_hash: str) -> None:
    """The customer's phone `phone_hash` is primary, the others not."""
    await session.execute(
        update(CustomerPhone)
        .where(CustomerPhone.customer_id == customer_id, CustomerPhone.phone_hash != phone_hash)
        .values(is_primary=False)
    )
    await session.execute(
        update(CustomerPhone)
        .where(CustomerPhone.customer_id == customer_id, CustomerPhone.phone_hash == phone_hash)
        .values(is_primary=True)
    )


async def get(session: AsyncSession, customer_id: int, *, lock: bool = False) -> Customer | None:
    stmt = select(Customer).where(Customer.id == customer_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(stmt)).first()


async def of_order(session: AsyncSession, order_id: int) -> Customer | None:
    stmt = select(Customer).join(Order, Order.customer_id == Customer.id).where(Order.id == order_id)
    return (await session.scalars(stmt)).first()


async def lock_pair(session: AsyncSession, first: int, second: int) -> dict[int, Customer]:
    """Both customers locked in primary-key order (two merges of the same pair cannot deadlock)."""
    stmt = (
        select(Customer)
        .where(Customer.id.in_(sorted({first, second})))
        .order_by(Customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {c.id: c for c in (await session.scalars(stmt)).all()}


async def page(
    session: AsyncSession, *, phone_hash: str | None, customer_id: int | None, offset: int, limit: int
) -> tuple[list[Customer], int]:
    """Customers not merged away, the latest buyers first (then the newest): those with the
    phone `phone_hash` and/or the number `customer_id` when given."""
    conditions = [Customer.merged_into.is_(None)]
    if phone_hash is not None:
        owner = select(CustomerPhone.customer_id).where(CustomerPhone.phone_hash == phone_hash)
        conditions.append(Customer.id.in_(owner))
    if customer_id is not None:
        conditions.append(Customer.id == customer_id)
    total = await session.scalar(select(func.count()).select_from(Customer).where(*conditions))
    stmt = (
        select(Customer)
        .where(*conditions)
        .order_by(Customer.last_order_at.desc().nulls_last(), Customer.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def phones_of(session: AsyncSession, customer_ids: Collection[int]) -> dict[int, list[CustomerPhone]]:
    """Each customer's phones, the primary first."""
    stmt = (
        select(CustomerPhone)
        .where(CustomerPhone.customer_id.in_(set(customer_ids)))
        .order_by(CustomerPhone.customer_id, CustomerPhone.is_primary.desc(), CustomerPhone.id)
    )
    found: dict[int, list[CustomerPhone]] = {i: [] for i in customer_ids}
    for phone in (await session.scalars(stmt)).all():
        found[phone.customer_id].append(phone)
    return found


async def orders_of(session: AsyncSession, customer_id: int, limit: int) -> list[Order]:
    stmt = select(Order).where(Order.customer_id == customer_id).order_by(Order.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def value_entries(session: AsyncSession, customer_id: int, limit: int) -> list[ValueEntry]:
    stmt = (
        select(ValueEntry)
        .where(ValueEntry.customer_id == customer_id)
        .order_by(ValueEntry.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def enter_value(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Store the value entry `row` unless its source is already entered; whether it was."""
    stmt = insert_for(session, ValueEntry).values(row).on_conflict_do_nothing().returning(ValueEntry.id)
    return (await session.scalar(stmt)) is not None


async def enter_refund(
    session: AsyncSession, payment_source: str, source: str, amount: int, at: datetime
) -> int | None:
    """Store the refund entry `source` (−`amount`) against the customer whose value its payment's
    entry `payment_source` raised; that customer's id, or None when the payment was never counted
    (a capture its order could not take) or the refund is already entered."""
    paid = select(
        ValueEntry.customer_id,
        ValueEntry.order_id,
        literal(source),
        literal(-amount),
        literal(at, ValueEntry.at.type),
    ).where(ValueEntry.source == payment_source)
    columns = ["customer_id", "order_id", "source", "amount", "at"]
    stmt = (
        insert_for(session, ValueEntry)
        .from_select(columns, paid)
        .on_conflict_do_nothing()
        .returning(ValueEntry.customer_id)
    )
    found = await session.scalar(stmt)
    return None if found is None else int(found)


async def enter_history_value(session: AsyncSession, entries: list[dict[str, Any]], at: datetime) -> None:
    """Value entries of imported orders (`customer_id`, `order_id`, `amount` captured, `at`, and
    `placed_at`: None for an undated order), once per order (source `history:ID`), and the totals
    of those customers raised by the entries made: lifetime value, order count, first and last
    order times. Two statements however many customers: history loads in batches."""
    placed = {e["order_id"]: e["placed_at"] for e in entries}
    rows = [
        {k: e[k] for k in ("customer_id", "order_id", "amount", "at")}
        | {"source": history_source(e["order_id"])}
        for e in entries
    ]
    if not rows:
        return
    stmt = (
        insert_for(session, ValueEntry)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(ValueEntry.customer_id, ValueEntry.order_id, ValueEntry.amount)
    )
    totals: dict[int, list[Any]] = {}
    for customer_id, order_id, amount in await session.execute(stmt):
        found = totals.setdefault(customer_id, [0, 0, None, None])
        found[0] += amount
        found[1] += 1
        when = placed[order_id]
        if when is not None:
            found[2] = when if found[2] is None else min(found[2], when)
            found[3] = when if found[3] is None else max(found[3], when)
    if not totals:
        return
    customers = Customer.__table__.c  # a Core UPDATE, executed once per customer in one call
    first = bindparam("first", type_=customers.first_order_at.type)
    last = bindparam("last", type_=customers.last_order_at.type)
    earlier = or_(customers.first_order_at.is_(None), customers.first_order_at > first)
    later = or_(customers.last_order_at.is_(None), customers.last_order_at < last)
    await session.execute(
        update(Customer.__table__)
        .where(customers.id == bindparam("customer"))
        .values(
            lifetime_value=customers.lifetime_value + bindparam("amount"),
            order_count=customers.order_count + bindparam("orders"),
            first_order_at=case((and_(first.is_not(None), earlier), first), else_=customers.first_order_at),
            last_order_at=case((and_(last.is_not(None), later), last), else_=customers.last_order_at),
            updated_at=at,
        ),
        [
            {"customer": c, "amount": amount, "orders": n, "first": first_at, "last": last_at}
            for c, (amount, n, first_at, last_at) in totals.items()
        ],
    )


async def add_value(
    session: AsyncSession,
    customer_id: int,
    amount: int,
    orders: int,
    ordered_at: datetime | None,
    at: datetime,
) -> None:
    """One UPDATE of the customer's totals: `amount` fen and `orders` more; an order placed at
    `ordered_at` moves the first and last order times as far as it reaches."""
    values: dict[str, Any] = {
        "lifetime_value": Customer.lifetime_value + amount,
        "order_count": Customer.order_count + orders,
        "updated_at": at,
    }
    if ordered_at is not None:
        values["first_order_at"] = case(
            (or_(Customer.first_order_at.is_(None), Customer.first_order_at > ordered_at), ordered_at),
            else_=Customer.first_order_at,
        )
        values["last_order_at"] = case(
            (or_(Customer.last_order_at.is_(None), Customer.last_order_at < ordered_at), ordered_at),
            else_=Customer.last_order_at,
        )
    await session.execute(
        update(Customer)
        .where(Customer.id == customer_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )


async def absorb(session: AsyncSession, kept: Customer, other: Customer, at: datetime) -> None:
    """`kept` takes `other`'s totals and order times; `other` is left empty, merged into it."""
    values = {
        "lifetime_value": kept.lifetime_value + other.lifetime_value,
        "order_count": kept.order_count + other.order_count,
        "first_order_at": min(filter(None, (kept.first_order_at, other.first_order_at)), default=None),
        "last_order_at": max(filter(None, (kept.last_order_at, other.last_order_at)), default=None),
        "updated_at": at,
    }
    for name, value in values.items():
        setattr(kept, name, value)
    other.lifetime_value, other.order_count, other.merged_into, other.updated_at = 0, 0, kept.id, at
    await session.flush()


async def repoint(
    session: AsyncSession, tables: Collection[str], other: int, kept: Customer
) -> dict[str, int]:
    """Every row of `tables` (each with a `customer_id`) that belonged to `other` now belongs to
    `kept`; how many rows of each moved. The moved phones are no longer primary; the moved
    orders' contact is sealed again with `kept`'s own key (RSK-3), in one statement."""
    metadata = Customer.metadata
    moved = {}
    contacts = (
        await session.execute(select(Order.id, Order.contact).where(Order.customer_id == other))
    ).all()
    if contacts:
        resealed = (
            update(Order.__table__)
            .where(Order.__table__.c.id == bindparam("order_id"))
            .values(contact=bindparam("sealed"))
        )
        rows = [{"order_id": i, "sealed": Owned(kept.secret, contact)} for i, contact in contacts]
        await session.execute(resealed, rows)
    for name in tables:
        table: Table = metadata.tables[name]
        stmt = update(table).where(table.c.customer_id == other).values(customer_id=kept.id)
        moved[name] = int((await session.execute(stmt)).rowcount)
    phones = (
        update(CustomerPhone)
        .where(CustomerPhone.customer_id == other)
        .values(customer_id=kept.id, is_primary=False)
        .execution_options(synchronize_session=False)
    )
    moved["customer_phones"] = int((await session.execute(phones)).rowcount)
    return moved


async def leads_of(session: AsyncSession, customer_id: int, limit: int) -> list[Lead]:
    """The leads of the customer's phones (merged profiles' phones included), the newest first."""
    hashes = select(CustomerPhone.phone_hash).where(CustomerPhone.customer_id == customer_id)
    stmt = select(Lead).where(Lead.phone_hash.in_(hashes)).order_by(Lead.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def spend_since(session: AsyncSession, customer_ids: Iterable[int], since: datetime) -> dict[int, int]:
    """Each customer's net spend (payments less refunds, their value entries) since `since` (LOY-2)."""
    stmt = (
        select(ValueEntry.customer_id, func.sum(ValueEntry.amount))
        .where(ValueEntry.customer_id.in_(set(customer_ids)), ValueEntry.at >= since)
        .group_by(ValueEntry.customer_id)
    )
    return {customer_id: int(total) for customer_id, total in (await session.execute(stmt)).all()}


async def tiers_of(session: AsyncSession, customer_ids: Iterable[int]) -> dict[int, str]:
    """The tier of each customer not merged into another, locked (a review writes it)."""
    stmt = (
        select(Customer.id, Customer.tier)
        .where(Customer.id.in_(set(customer_ids)), Customer.merged_into.is_(None))
        .order_by(Customer.id)
        .with_for_update()
    )
    return dict((await session.execute(stmt)).tuples().all())


async def set_tier(session: AsyncSession, customer_id: int, tier: str, at: datetime) -> None:
    await session.execute(
        update(Customer).where(Customer.id == customer_id).values(tier=tier, updated_at=at),
        execution_options={"synchronize_session": False},
    )


async def tier_and_agent(session: AsyncSession, customer_id: int) -> tuple[str | None, int | None]:
    """The member's tier and dedicated agent (LOY-2), each None when they have none."""
    found = (
        await session.execute(select(Customer.tier, Customer.agent_id).where(Customer.id == customer_id))
    ).first()
    return (None, None) if found is None else (found.tier, found.agent_id)


async def set_agent(session: AsyncSession, customer_id: int, agent_id: int | None, at: datetime) -> None:
    await session.execute(
        update(Customer).where(Customer.id == customer_id).values(agent_id=agent_id, updated_at=at),
        execution_options={"synchronize_session": False},
    )


async def agent_with_fewest_members(session: AsyncSession, role: str) -> int | None:
    """The active user of `role` who is the dedicated agent of the fewest members (LOY-2), the
    first by id on a tie; None when the role has nobody."""
    members = (
        select(Customer.agent_id, func.count().label("members"))
        .where(Customer.agent_id.is_not(None))
        .group_by(Customer.agent_id)
        .subquery()
    )
    stmt = (
        select(User.id)
        .outerjoin(members, members.c.agent_id == User.id)
        .where(User.role == role, User.active.is_(True))
        .order_by(func.coalesce(members.c.members, 0), User.id)
        .limit(1)
    )
    return await session.scalar(stmt)
