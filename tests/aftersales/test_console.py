"""The after-sales console over HTTP (zh_CN by default): opening a case from the order page,
the eligibility sentence, the queue, and a step refused with its reason in the reader's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.fulfillment.files import TrackingRow
from shopflow.fulfillment.models.shipments import TrackingStatus
from shopflow.fulfillment.service import tracking
from tests.builders.aftersales import delivered_order
from tests.builders.console import Visitors, signed_in, table_row, visitors


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def test_an_agent_opens_a_case_from_the_order_page_and_approves_it(
    db: Database, visit: Visitors
) -> None:
    order_id = await delivered_order(db)
    async with await signed_in(visit, db, "customer_service") as agent:
        order_page = (await agent.get(f"/orders/{order_id}")).text
        assert 'id="order-aftersales"' in order_page and "发起售后" in order_page
        assert '<p id="order-aftersales-standing">无 · 已退款 ¥0.00</p>' in order_page
        form = await agent.get(f"/orders/{order_id}/aftersales/new")
        line_ids = re.findall(r'name="qty-(\d+)"', form.text)
        assert len(line_ids) == 2

        opened = await agent.post(
            f"/orders/{order_id}/aftersales/new",
            {"type": "return_refund", "reason": "quality", f"qty-{line_ids[0]}": "1"},
        )

        assert opened.status_code == 303
        case_page = (await agent.get(opened.headers["location"])).text
        assert "待审核" in case_page
        assert re.search(r'id="case-rule">15天质量问题退货，截止 \d{4}-\d{2}-\d{2} 23:59<', case_page)
        assert "¥109.00" in case_page  # 99.00 and the store's 10.00 return postage
        case_id = opened.headers["location"].rsplit("/", 1)[1]
        approved = await agent.post(f"/aftersales/{case_id}/approve")
        assert approved.status_code == 303
        queue = (await agent.get("/aftersales?state=approved")).text
        assert "已同意" in table_row(queue, f"case-{case_id}")
        assert 'id="case-' not in (await agent.get("/aftersales?state=requested")).text
        order_page = (await agent.get(f"/orders/{order_id}")).text
        assert '<p id="order-aftersales-standing">售后中 · 已退款 ¥0.00</p>' in order_page


async def test_an_ineligible_request_is_refused_on_the_form_in_chinese(db: Database, visit: Visitors) -> None:
    order_id = await delivered_order(db)
    async with await signed_in(visit, db, "customer_service") as agent:
        form = await agent.get(f"/orders/{order_id}/aftersales/new")
        first = re.findall(r'name="qty-(\d+)"', form.text)[0]

        refused = await agent.post(
            f"/orders/{order_id}/aftersales/new",
            {"type": "return_refund", "reason": "no_reason", "opened": "1", f"qty-{first}": "1"},
        )

        assert refused.status_code == 422
        assert "已拆封商品不适用7天无理由退货" in refused.text
        assert 'id="case-' not in (await agent.get("/aftersales")).text


async def test_a_warehouse_clerk_sees_no_approve_button(db: Database, visit: Visitors) -> None:
    order_id = await delivered_order(db)
    async with await signed_in(visit, db, "customer_service") as agent:
        form = await agent.get(f"/orders/{order_id}/aftersales/new")
        first = re.findall(r'name="qty-(\d+)"', form.text)[0]
        opened = await agent.post(
            f"/orders/{order_id}/aftersales/new",
            {"type": "return_refund", "reason": "quality", f"qty-{first}": "1"},
        )
    async with await signed_in(visit, db, "warehouse") as clerk:
        page = (await clerk.get(opened.headers["location"])).text
        assert 'id="step-approve"' not in page
        case_id = opened.headers["location"].rsplit("/", 1)[1]
        assert (await clerk.post(f"/aftersales/{case_id}/approve")).status_code == 403


async def test_a_compensations_amount_is_labelled_compensation_not_goods(
    db: Database, visit: Visitors
) -> None:
    order_id = await delivered_order(db)
    async with await signed_in(visit, db, "customer_service") as agent:
        opened = await agent.post(
            f"/orders/{order_id}/aftersales/new",
            {"type": "compensation", "reason": "other", "amount": "20.00"},
        )
        assert opened.status_code == 303, opened.text
        compensation = (await agent.get(opened.headers["location"])).text
        form = await agent.get(f"/orders/{order_id}/aftersales/new")
        first = re.findall(r'name="qty-(\d+)"', form.text)[0]
        returned = await agent.post(
            f"/orders/{order_id}/aftersales/new",
            {"type": "return_refund", "reason": "quality", f"qty-{first}": "1"},
        )
        goods = (await agent.get(returned.headers["location"])).text

    assert re.search(r'<tr id="refund-items"><td>补偿</td><td class="num">¥20.00</td>', compensation)
    assert re.search(r'<tr id="refund-items"><td>商品</td><td class="num">¥99.00</td>', goods)


async def test_the_case_page_shows_the_returns_tracking_and_its_timeline(
    db: Database, visit: Visitors
) -> None:
    order_id = await delivered_order(db)
    async with await signed_in(visit, db, "customer_service") as agent:
        form = await agent.get(f"/orders/{order_id}/aftersales/new")
        first = re.findall(r'name="qty-(\d+)"', form.text)[0]
        opened = await agent.post(
            f"/orders/{order_id}/aftersales/new",
            {"type": "return_refund", "reason": "quality", f"qty-{first}": "1"},
        )
        page = opened.headers["location"]
        await agent.post(f"{page}/approve")
        await agent.post(f"{page}/return-shipment", {"carrier": "SF", "tracking_no": "SF700001"})
        row = TrackingRow(
            2, "SF700001", TrackingStatus.DELIVERED, datetime(2030, 3, 5, 1, 0, tzinfo=UTC), "上海", None
        )
        async with db.transaction() as session:
            await tracking.import_rows(session, SYSTEM, [row])

        shown = (await agent.get(page)).text

    assert re.search(r'<ol id="return-tracking"><li>2030-03-05 09:00 · 已签收 · 上海</li></ol>', shown)
    assert re.search(r'<dd id="case-state">[^<]*<span[^>]*>已收货</span>', shown)
    assert "<td>退货物流更新</td>" in shown  # the carrier's event on the case's timeline
