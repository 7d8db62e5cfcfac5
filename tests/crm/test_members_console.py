"""The member's points page on the console (LOY-1): tier, balance and the ledger in zh and en (an
order's earned points with its order linked, their expiry in the store's zone), linked from the
profile; the adjustment form of a customer-service supervisor (audited), a take beyond the balance
refused at its field with nothing stored, and a sales user reading without the form (posting
anyway: 403)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from shopflow.core.audit import SYSTEM
from shopflow.core.console.page import local_time
from shopflow.core.db import Database
from shopflow.loyalty import points
from shopflow.loyalty.models import PointEntry
from shopflow.orders.models import Order
from shopflow.orders.service import lifecycle
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.builders.lifecycle import deliver, order, place
from tests.builders.rows import audit_rows
from tests.builders.store import small_store

EARNED = 99  # one SKU-1 at 99.00, one point per yuan


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _member(db: Database) -> tuple[int, Order]:
    """A customer whose order of one SKU-1 (99.00) was completed: 99 points earned."""
    await small_store(db)
    order_id = await place(db)
    await deliver(db, order_id)
    async with db.transaction() as session:
        await lifecycle.complete(session, SYSTEM, order_id)
    placed = await order(db, order_id)
    assert placed.customer_id is not None
    return placed.customer_id, placed


async def _entries(db: Database, customer_id: int) -> list[PointEntry]:
    async with db.transaction() as session:
        stmt = select(PointEntry).where(PointEntry.customer_id == customer_id).order_by(PointEntry.id)
        return list((await session.scalars(stmt)).all())


async def _balance(db: Database, customer_id: int) -> int:
    async with db.transaction() as session:
        held = await points.balance(session, customer_id)
        assert held == await points.ledger_sum(session, customer_id)
        return held


def _cells(html: str, row_id: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", table_row(html, row_id), re.S)
    ]


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'<div class="field-error" id="error-{field}">(.*?)</div>', html, re.S)
    assert found is not None, f"no error at {field}"
    return found[1]


async def test_the_page_shows_the_tier_balance_and_an_earned_entry_in_chinese_and_english(
    db: Database, visit: Visitors
) -> None:
    customer_id, placed = await _member(db)
    (earned,) = await _entries(db, customer_id)
    assert earned.expires_at is not None
    async with await signed_in(visit, db, "sales") as visitor:
        profile = await visitor.get(f"/customers/{customer_id}")
        assert f'<a href="/customers/{customer_id}/points" id="points-link">{EARNED}</a>' in profile.text
        assert "积分余额" in profile.text

        zh = await visitor.get(f"/customers/{customer_id}/points")
        assert zh.status_code == 200, zh.text
        assert f'<dd id="points-balance">{EARNED}</dd>' in zh.text
        assert '<dd id="member-tier">银卡</dd>' in zh.text  # reviewed at completion (LOY-2)
        row = table_row(zh.text, f"entry-{earned.id}")
        assert f'<a href="/orders/{placed.id}">{placed.order_no}</a>' in row
        cells = _cells(zh.text, f"entry-{earned.id}")
        assert cells[0] == local_time(earned.at, "zh_CN")
        assert cells[1:3] == ["获得", f"+{EARNED}"]
        assert cells[4] == "订单已完成"
        # The end of the year after, in the store's zone (local midnight, not UTC's 16:00).
        assert cells[5] == local_time(earned.expires_at, "zh_CN")
        assert re.fullmatch(r"\d{4}-01-01 00:00", cells[5])

        await visitor.post("/language", {"locale": "en", "next": f"/customers/{customer_id}/points"})
        en = await visitor.get(f"/customers/{customer_id}/points")
        assert "Points balance" in en.text and "Tier" in en.text
        cells = _cells(en.text, f"entry-{earned.id}")
        assert cells[1:3] == ["earned", f"+{EARNED}"]
        assert cells[3] == placed.order_no and cells[4] == "order completed"
        assert re.fullmatch(r"1 Jan \d{4} 00:00", cells[5])

        assert (await visitor.get("/customers/999999/points")).status_code == 404


async def test_a_supervisor_adjusts_points_and_the_adjustment_is_audited(
    db: Database, visit: Visitors
) -> None:
    customer_id, _ = await _member(db)
    page = f"/customers/{customer_id}/points"
    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        shown = await visitor.get(page)
        assert 'id="adjust-form"' in shown.text
        added = await visitor.post(page, {"points": "50", "reason": "补偿：物流延误"})
        assert added.status_code == 303, added.text
        assert added.headers["location"] == page
        after = await visitor.get(page)
        assert "已增加 50 积分，当前余额 149。" in after.text
        assert '<dd id="points-balance">149</dd>' in after.text

        taken = await visitor.post(page, {"points": "-30", "reason": "误发积分"})
        assert taken.status_code == 303, taken.text
        assert "已扣减 30 积分，当前余额 119。" in (await visitor.get(page)).text

    assert await _balance(db, customer_id) == EARNED + 50 - 30
    entries = await _entries(db, customer_id)
    credit, debit = entries[-2:]
    assert (credit.kind, credit.points, credit.reason) == ("adjust", 50, "补偿：物流延误")
    assert (debit.kind, debit.points, debit.expires_at) == ("adjust", -30, None)
    assert credit.actor_id is not None and credit.expires_at is not None
    audited = [
        row for row in await audit_rows(db, "customer", customer_id) if row.action == "points.adjusted"
    ]
    assert [row.after for row in audited] == [
        {"points": 50, "reason": "补偿：物流延误", "balance": 149},
        {"points": -30, "reason": "误发积分", "balance": 119},
    ]
    assert all(row.actor_id == credit.actor_id for row in audited)

    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        listed = await visitor.get(page)
        cells = _cells(listed.text, f"entry-{debit.id}")
        assert cells[1:5] == ["调整", "−30", "—", "误发积分"] and cells[5] == "—"
        assert _cells(listed.text, f"entry-{credit.id}")[1:3] == ["调整", "+50"]


async def test_taking_more_than_the_balance_is_refused_at_the_points_field(
    db: Database, visit: Visitors
) -> None:
    customer_id, _ = await _member(db)
    page = f"/customers/{customer_id}/points"
    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        await visitor.get(page)
        refused = await visitor.post(page, {"points": "-500", "reason": "退货扣回"})
        assert refused.status_code == 422, refused.text
        assert _field_error(refused.text, "points") == "该会员只有 99 积分，无法扣减 500。"
        assert 'id="adjust-refusal"' in refused.text
        assert (
            'name="points" value="-500"' in refused.text and 'name="reason" value="退货扣回"' in refused.text
        )
        assert '<dd id="points-balance">99</dd>' in refused.text

        for fields, error in (
            ({"points": "many", "reason": "x"}, "必须是整数"),
            ({"points": "", "reason": "x"}, "必填"),
        ):
            bad = await visitor.post(page, fields)
            assert bad.status_code == 422, bad.text
            assert _field_error(bad.text, "points") == error
        no_reason = await visitor.post(page, {"points": "5", "reason": " "})
        assert no_reason.status_code == 422
        assert _field_error(no_reason.text, "reason") == "必填"

        await visitor.post("/language", {"locale": "en", "next": page})
        english = await visitor.post(page, {"points": "-100", "reason": "returned goods"})
        assert english.status_code == 422
        assert _field_error(english.text, "points") == "The member has 99 points: 100 cannot be taken."

    assert await _balance(db, customer_id) == EARNED
    assert len(await _entries(db, customer_id)) == 1
    assert [r for r in await audit_rows(db, "customer", customer_id) if r.action == "points.adjusted"] == []


async def test_a_sales_user_reads_the_page_without_the_form_and_posting_is_refused(
    db: Database, visit: Visitors
) -> None:
    customer_id, _ = await _member(db)
    page = f"/customers/{customer_id}/points"
    async with await signed_in(visit, db, "sales") as visitor:
        shown = await visitor.get(page)
        assert shown.status_code == 200
        assert 'id="adjust-form"' not in shown.text and 'name="points"' not in shown.text
        assert (await visitor.post(page, {"points": "1000", "reason": "friend"})).status_code == 403
    async with await signed_in(visit, db, "warehouse") as visitor:  # no customers.read
        assert (await visitor.get(page)).status_code == 403
    assert await _balance(db, customer_id) == EARNED
    async with db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(PointEntry))
    assert count == 1
