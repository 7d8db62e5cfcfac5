"""core.db's writes for hot paths: the same rows whether SQLAlchemy (SQLite) or asyncpg (PostgreSQL)
carries them, inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from shopflow.core import audit, clock, events
from shopflow.core.audit import SYSTEM, AuditEntry
from shopflow.core.auth import User
from shopflow.core.db import Database, changed, insert_rows, insert_together, loaded, update_changed
from shopflow.core.events import OutboxEvent
from shopflow.orders.models import Order, OrderLine


def user(name: str) -> dict[str, object]:
    return {
        "username": name,
        "role": "sales",
        "password_hash": None,
        "active": True,
        "created_at": clock.now(),
    }


async def trail(db: Database, entity: str) -> list[AuditEntry]:
    async with db.transaction() as session:
        stmt = select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)
        return list((await session.scalars(stmt)).all())


async def test_values_are_stored_as_their_column_types_say(db: Database) -> None:
    beijing = datetime(2026, 1, 2, 11, 4, 5, tzinfo=timezone(timedelta(hours=8)))
    async with db.transaction() as session:
        await insert_rows(
            session,
            AuditEntry,
            [
                audit.row(SYSTEM, "thing.made", "thing", 7, None, {"name": "商品"}, beijing),
                audit.row(SYSTEM, "thing.sold", "thing", 7, {"name": "商品"}, {"sold": True}, beijing),
            ],
        )

    stored = await trail(db, "thing")

    assert [(e.action, e.entity_id, e.before, e.after) for e in stored] == [
        ("thing.made", "7", None, {"name": "商品"}),
        ("thing.sold", "7", {"name": "商品"}, {"sold": True}),
    ]
    assert {e.at for e in stored} == {datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}


async def test_left_out_columns_take_their_defaults(db: Database) -> None:
    row = events.row("thing.made", "thing:8", {"n": 1})
    del row["attempts"]
    async with db.transaction() as session:
        await insert_rows(session, OutboxEvent, [row])
        found = await session.scalar(select(OutboxEvent).where(OutboxEvent.subject == "thing:8"))
    assert found is not None and found.attempts == 0 and found.payload == {"n": 1}


async def test_rows_a_unique_key_refuses_are_skipped(db: Database) -> None:
    async with db.transaction() as session:
        first = await insert_rows(session, User, [user("ada")], returning="id", skip_conflicts=True)
        again = await insert_rows(
            session, User, [user("ada"), user("bob")], returning="id", skip_conflicts=True
        )
        names = (await session.scalars(select(User.username).where(User.id.in_(first + again)))).all()
    assert len(first) == 1 and len(again) == 1
    assert sorted(names) == ["ada", "bob"]


async def test_batches_written_together_share_the_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await insert_together(
                session,
                (AuditEntry, [audit.row(SYSTEM, "thing.made", "gone", 9)]),
                (OutboxEvent, []),
                (
                    OutboxEvent,
                    [events.row("thing.made", "gone:9", {}), events.row("thing.seen", "gone:9", {})],
                ),
            )
            assert (
                len((await session.scalars(select(OutboxEvent).where(OutboxEvent.subject == "gone:9"))).all())
                == 2
            )
            raise RuntimeError("the unit of work fails")
    assert await trail(db, "gone") == []


async def test_queued_rows_go_with_the_next_write_before_its_own(db: Database) -> None:
    async with db.transaction() as session:
        audit.queue(session, audit.row(SYSTEM, "thing.packed", "queued", 1))
        events.queue(session, "thing.packed", "queued:1", {})
        assert await trail_in(session, "queued") == []  # not written yet
        await audit.record(session, audit.row(SYSTEM, "thing.shipped", "queued", 1))
        assert [e.action for e in await trail_in(session, "queued")] == ["thing.packed", "thing.shipped"]
        outbox = await session.scalars(select(OutboxEvent.event).where(OutboxEvent.subject == "queued:1"))
        assert outbox.all() == ["thing.packed"]
        await audit.record(session, audit.row(SYSTEM, "thing.seen", "queued", 1))
    assert [e.action for e in await trail(db, "queued")] == ["thing.packed", "thing.shipped", "thing.seen"]


async def test_rows_still_queued_are_written_at_commit_and_dropped_on_rollback(db: Database) -> None:
    async with db.transaction() as session:
        audit.queue(session, audit.row(SYSTEM, "thing.made", "kept", 2))
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            audit.queue(session, audit.row(SYSTEM, "thing.made", "dropped", 3))
            raise RuntimeError("the unit of work fails")
    assert [e.action for e in await trail(db, "kept")] == ["thing.made"]
    assert await trail(db, "dropped") == []


async def trail_in(session: AsyncSession, entity: str) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)
    return list((await session.scalars(stmt)).all())


async def test_a_broken_constraint_is_sqlalchemys_integrity_error(db: Database) -> None:
    line = {
        "order_id": 987654321,
        "sku_id": 987654321,
        "sku_code": "NONE",
        "name": "none",
        "quantity": 1,
        "unit_price": 100,
        "discount": 0,
        "line_total": 100,
    }
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await insert_rows(session, OrderLine, [line])


def test_a_loaded_instance_reads_like_a_queried_one() -> None:
    at = clock.now()
    order = loaded(Order, {"id": 5, "order_no": "SF1", "status": "confirmed", "created_at": at})
    set_committed_value(order, "lines", [loaded(OrderLine, {"id": 1, "order_id": 5, "quantity": 2})])

    assert (order.id, order.order_no, order.created_at, order.paid_at) == (5, "SF1", at, None)
    assert [(line.order_id, line.quantity) for line in order.lines] == [(5, 2)]


async def test_an_instance_writes_what_was_set_since_it_was_read_while_its_guard_holds(db: Database) -> None:
    async with db.transaction() as session:
        [user_id] = await insert_rows(session, User, [user("ana")], returning="id")
        read = {"id": user_id, "username": "ana", "role": "sales", "active": True}
        ana, stale = loaded(User, read), loaded(User, read)
        ana.role = "finance"
        ana.active = False
        stale.role = "purchasing"

        assert await update_changed(session, ana, "active") == 1
        assert await update_changed(session, stale, "active") == 0
        stored = await session.scalar(select(User).where(User.id == user_id))

    assert stored is not None
    assert (stored.username, stored.role, stored.active) == ("ana", "finance", False)


async def test_changed_gives_what_was_set_and_leaves_nothing_for_the_session_to_flush(db: Database) -> None:
    async with db.transaction() as session:
        [user_id] = await insert_rows(session, User, [user("bo")], returning="id")
        bo = await session.get(User, user_id)
        assert bo is not None
        bo.role = "finance"

        assert changed(bo) == {"role": "finance"}
        assert changed(bo) == {}
        assert bo not in session.dirty
