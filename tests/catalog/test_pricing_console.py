"""The price-rule pages of the console (CAT-3, CAT-2): the list with its new-rule form and the
decisions on pending rules, the six-week calendar, and a SKU's effective price on its page; zh/en."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.catalog import pricing
from shopflow.catalog.schemas import PriceRuleIn
from shopflow.core import clock
from shopflow.core.audit import Actor
from shopflow.core.db import Database
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.builders.store import small_store

PLANNER = Actor(user_id=None, name="planner", role="manager")  # grants up to 30% off
NOW = datetime(2030, 6, 5, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


@pytest.fixture
def now() -> object:
    with clock.use(clock.FakeClock(NOW)):
        yield


async def _rules(db: Database) -> None:
    """SKU-1 (99.00, profit): 10% off from now for a week; SKU-2: 40.00 in two weeks (pending:
    under the band's floor)."""
    async with db.transaction() as session:
        await pricing.create_rule(
            session,
            PLANNER,
            PriceRuleIn(
                name="端午九折", sku="SKU-1", percent="10", starts_at=NOW, ends_at=NOW + timedelta(days=7)
            ),
        )
        await pricing.create_rule(
            session,
            PLANNER,
            PriceRuleIn(name="七月特价", sku="SKU-2", price="20.00", starts_at=NOW + timedelta(days=14)),
        )


async def test_the_price_rule_pages_show_in_chinese_and_english(
    db: Database, visit: Visitors, now: object
) -> None:
    await small_store(db)
    await _rules(db)
    async with await signed_in(visit, db, "manager") as visitor:
        pages = {
            "/price-rules": (
                ["端午九折", "减 10%", "待审批", "新建价格规则"],
                ["10% off", "pending approval", "New price rule"],
            ),
            "/price-rules/calendar": (
                ["未来六周的价格规则", "周三"],
                ["Price rules in the next six weeks", "Wed"],
            ),
            "/catalog/SKU-1": (["当前售价", "¥89.10", "端午九折"], ["Price now", "¥89.10", "端午九折"]),
        }
        for path, (chinese, _) in pages.items():
            reply = await visitor.get(path)
            assert reply.status_code == 200, (path, reply.text)
            for text in chinese:
                assert text in reply.text, (path, text)
        calendar = (await visitor.get("/price-rules/calendar")).text
        assert "端午九折" in table_cell(calendar, "day-2030-06-05")
        assert "端午九折" in table_cell(calendar, "day-2030-06-12")  # ends 10:00 that day
        assert "端午九折" not in table_cell(calendar, "day-2030-06-13")
        assert "七月特价" in table_cell(calendar, "day-2030-06-19") and "pending" in table_cell(
            calendar, "day-2030-06-19"
        )
        assert 'id="day-2030-06-03"' in calendar and 'id="day-2030-07-14"' in calendar  # Monday, six weeks
        await visitor.post("/language", {"locale": "en", "next": "/price-rules"})
        for path, (_, english) in pages.items():
            reply = await visitor.get(path)
            assert reply.status_code == 200, (path, reply.text)
            for text in english:
                assert text in reply.text, (path, text)


def table_cell(html: str, cell_id: str) -> str:
    found = re.search(rf'<td id="{cell_id}"[^>]*>(.*?)</td>', html, re.S)
    assert found is not None, cell_id
    return found[1]


async def test_a_rule_made_by_the_form_errors_at_fields_and_a_pending_one_decided_by_another_manager(
    db: Database, visit: Visitors, now: object
) -> None:
    await small_store(db)
    form = {"name": "清仓", "kind": "promotion", "sku": "SKU-1", "starts_at": "2030-06-05T10:00"}
    async with await signed_in(visit, db, "manager") as first:
        await first.get("/price-rules")
        bad = await first.post(
            "/price-rules", {**form, "sku": "NOPE", "percent": "120", "ends_at": "2030-06-01T00:00"}
        )
        assert bad.status_code == 422
        assert '<div class="field-error" id="error-sku">没有 SKU NOPE。</div>' in bad.text
        assert '<div class="field-error" id="error-percent">须大于 0 且小于 100</div>' in bad.text
        assert '<div class="field-error" id="error-ends_at">须晚于开始时间</div>' in bad.text
        assert 'value="清仓"' in bad.text

        done = await first.post("/price-rules", {**form, "price": "75.00"})  # under the floor 79.20
        assert (done.status_code, done.headers["location"]) == (303, "/price-rules")
        listed = (await first.get("/price-rules")).text
        assert "清仓 需主管审批。" in listed
        [rule_id] = re.findall(r'<tr id="rule-(\d+)">', listed)
        own = await first.post(f"/price-rules/{rule_id}/approve")
        assert own.status_code == 403 and "不能审批自己的申请。" in own.text
        assert "¥99.00" in (await first.get("/catalog/SKU-1")).text
    async with await signed_in(visit, db, "manager") as second:
        await second.get("/price-rules")
        approved = await second.post(f"/price-rules/{rule_id}/approve")
        assert approved.status_code == 303
        row = table_row((await second.get("/price-rules")).text, f"rule-{rule_id}")
        assert "已批准" in row and "生效中" in row
        sku = (await second.get("/catalog/SKU-1")).text
        assert re.search(
            r'<dd id="sku-effective-price">¥75.00 · <a href="/price-rules#rule-\d+">清仓</a>', sku
        )
    async with await signed_in(visit, db, "sales") as sales:
        page = (await sales.get("/price-rules")).text
        assert 'id="rule-form"' not in page and "/approve" not in page


async def test_a_price_change_waiting_for_approval_is_shown_and_decided_on_the_sku_page(
    db: Database, visit: Visitors, now: object
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as clerk:
        await clerk.get("/catalog/SKU-1")
        asked = await clerk.post("/catalog/SKU-1/price", {"price": "75.00", "reason": "清仓"})
        assert asked.status_code == 303
        page = (await clerk.get("/catalog/SKU-1")).text
        assert "SKU-1 的新价格需主管审批。" in page
        assert 'id="pending-price"' in page and "/price-change/approve" not in page
        assert '<dd id="sku-price">¥99.00</dd>' in page
    async with await signed_in(visit, db, "manager") as manager:
        await manager.get("/catalog/SKU-1")
        approved = await manager.post("/catalog/SKU-1/price-change/approve")
        assert approved.status_code == 303
        page = (await manager.get("/catalog/SKU-1")).text
        assert 'id="pending-price"' not in page and '<dd id="sku-price">¥75.00</dd>' in page
        assert "SKU-1 的价格已调整为 ¥75.00。" in page
