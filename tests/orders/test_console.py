"""The order pages of the console over HTTP (no browser): the list with its filters and live
clocks, the detail page's cancel, hold and release, roles and refusals (ORD-3, ORD-5)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.inventory.models import Stock
from tests.builders.auth import bearer
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.payments import paid_order, pay, place_order, start_payment
from tests.builders.rows import audit_rows, order_status
from tests.builders.store import small_store


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _stock(db: Database) -> list[tuple[int, int, int, int]]:
    async with db.transaction() as session:
        rows = await session.execute(select(Stock.sku_id, Stock.warehouse_id, Stock.on_hand, Stock.reserved))
        return sorted(tuple(row) for row in rows.all())  # type: ignore[misc]


async def test_a_warehouse_user_sees_no_cancel_button_and_is_refused_403_when_posting_anyway(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "warehouse") as visitor:
        order = await place_order(visitor.client, await bearer(db))
        page = await visitor.get(f"/orders/{order['id']}")
        assert page.status_code == 200
        assert 'id="cancel-order"' not in page.text and 'id="hold-order"' not in page.text
        trail = len(await audit_rows(db, "order", order["id"]))

        refused = await visitor.post(f"/orders/{order['id']}/cancel", {"reason": "try anyway"})

        assert refused.status_code == 403
        assert "您的角色（仓库）无权执行此操作" in refused.text
        assert await order_status(db, order["id"]) == "confirmed"
        assert len(await audit_rows(db, "order", order["id"])) == trail
    async with await signed_in(visit, db, "customer_service") as visitor:
        assert 'id="cancel-order"' in (await visitor.get(f"/orders/{order['id']}")).text


async def test_an_illegal_action_says_why_and_changes_nothing(db: Database, visit: Visitors) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        order = await place_order(visitor.client, await bearer(db))
        await visitor.get(f"/orders/{order['id']}")
        assert (
            await visitor.post(f"/orders/{order['id']}/cancel", {"reason": "重复下单"})
        ).status_code == 303
        trail = len(await audit_rows(db, "order", order["id"]))
        stock = await _stock(db)

        again = await visitor.post(f"/orders/{order['id']}/cancel", {"reason": "再取消一次"})
        release = await visitor.post(f"/orders/{order['id']}/release")

        assert again.status_code == 409
        assert "当前无法执行：现为“已取消”，不能变为“已取消”。" in again.text
        assert 'value="再取消一次"' not in again.text  # the cancel form is gone: cancelled orders cannot be
        assert release.status_code == 409 and "现为“已取消”" in release.text
        assert len(await audit_rows(db, "order", order["id"])) == trail
        assert await _stock(db) == stock


async def test_cancelling_without_a_reason_names_the_field_and_keeps_the_order(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        order = await place_order(visitor.client, await bearer(db))
        await visitor.get(f"/orders/{order['id']}")
        reply = await visitor.post(f"/orders/{order['id']}/cancel", {"reason": "   "})
        too_long = await visitor.post(f"/orders/{order['id']}/cancel", {"reason": "长" * 201})

        assert reply.status_code == 422
        assert '<div class="field-error" id="error-reason">必填</div>' in reply.text
        assert too_long.status_code == 422 and "最多 200 个字符" in too_long.text
        assert 'value="' + "长" * 201 + '"' in too_long.text
        assert await order_status(db, order["id"]) == "confirmed"


async def test_hold_and_release_from_the_detail_page_are_audited_with_the_person(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        order = await place_order(visitor.client, await bearer(db))
        await visitor.get(f"/orders/{order['id']}")
        held = await visitor.post(f"/orders/{order['id']}/hold", {"reason": "risk_review"})
        page = await visitor.get(held.headers["location"])
        assert "订单已挂起。" in page.text and "风控审核" in page.text and 'id="release-order"' in page.text
        await visitor.post(f"/orders/{order['id']}/release")
        assert await order_status(db, order["id"]) == "confirmed"
        actions = [(row.action, row.actor_name) for row in await audit_rows(db, "order", order["id"])]
        assert [a for a, _ in actions] == [
            "order.pending",
            "order.confirmed",
            "order.on_hold",
            "order.confirmed",
        ]
        assert actions[2][1].startswith("cs_supervisor-") and actions[3][1].startswith("cs_supervisor-")


async def test_a_deadline_passing_shows_the_order_late_in_red_on_the_list_and_today(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    start = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
    fake = clock.FakeClock(start)
    with clock.use(fake):
        async with await signed_in(visit, db, "operations") as visitor:
            order = await place_order(visitor.client, await bearer(db))
            fresh = await visitor.get("/orders", headers={"HX-Request": "true"})
            assert 'class="clock running"' in fresh.text and "<html" not in fresh.text  # the live part only
            fake.advance(minutes=31)  # past the 30-minute pay clock, before any worker sweep

            live = await visitor.get("/orders", headers={"HX-Request": "true"})
            row = re.search(rf'<tr id="order-{order["id"]}">.*?</tr>', live.text, re.S)
            assert row is not None and 'class="clock late"' in row[0] and "已超时 1分钟" in row[0]
            today = await visitor.get("/", headers={"HX-Request": "true"})
            assert '<div class="n" id="late-total">1</div>' in today.text
            assert f'href="/orders/{order["id"]}">订单 {order["id"]}</a>' in today.text


async def test_orders_list_filters_by_state_channel_date_and_finds_either_order_number(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    admin = await bearer(db)
    async with await signed_in(visit, db, "sales") as visitor:
        own = await place_order(visitor.client, admin)
        imported = await place_order(visitor.client, admin, channel="import", channel_order_no="TM-0001")
        cancelled = await place_order(visitor.client, admin)
        await visitor.client.post(
            f"/api/v1/orders/{cancelled['id']}/cancel", json={"reason": "x"}, headers=admin
        )

        def shown(html: str) -> set[int]:
            return {int(n) for n in re.findall(r'<tr id="order-(\d+)">', html)}

        assert shown((await visitor.get("/orders")).text) == {own["id"], imported["id"], cancelled["id"]}
        assert shown((await visitor.get("/orders?status=cancelled")).text) == {cancelled["id"]}
        assert shown((await visitor.get("/orders?channel=import&status=")).text) == {imported["id"]}
        assert shown((await visitor.get(f"/orders?q={own['order_no'].lower()}")).text) == {own["id"]}
        assert shown((await visitor.get("/orders?q=TM-0001")).text) == {imported["id"]}
        today = clock.now().astimezone().date()
        assert (
            shown((await visitor.get(f"/orders?date_to={today.replace(year=today.year - 1)}")).text) == set()
        )
        bad = await visitor.get("/orders?date_from=yesterday")
        assert bad.status_code == 422 and "yesterday 不是日期。" in bad.text
        missing = await visitor.get("/orders/999999")
        assert missing.status_code == 404 and "没有订单 999999。" in missing.text


async def test_the_order_history_reads_as_labels_and_dates_have_one_format_per_language(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    with clock.use(lambda: datetime(2026, 12, 6, 6, 5, tzinfo=UTC)):  # 14:05 in Shanghai
        async with await signed_in(visit, db, "cs_supervisor") as visitor:
            order = await place_order(visitor.client, await bearer(db))
            await visitor.get(f"/orders/{order['id']}")
            await visitor.post(f"/orders/{order['id']}/hold", {"reason": "risk_review"})
            page = (await visitor.get(f"/orders/{order['id']}")).text
            trail = page[page.index("审计记录") :]

            assert "待确认 → 已确认" in trail and "已确认 → 挂起" in trail and "风控审核" in trail
            assert "order." not in trail and "{" not in trail and "[" not in trail
            assert "2026-12-06 14:05" in page
            await visitor.post("/language", {"locale": "en", "next": "/"})
            english = (await visitor.get(f"/orders/{order['id']}")).text
            assert "6 Dec 2026 14:05" in english and "2026-12-06" not in english
            assert "pending → confirmed" in english and "risk review" in english


async def test_a_refused_form_is_shown_again_with_the_address_of_its_page(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        order = await place_order(visitor.client, await bearer(db))
        await visitor.get(f"/orders/{order['id']}")

        plain = await visitor.post(f"/orders/{order['id']}/cancel", {"reason": " "})
        htmx = await visitor.post(f"/orders/{order['id']}/cancel", {"reason": " "}, {"HX-Request": "true"})

        assert plain.status_code == 422 and f'data-address="/orders/{order["id"]}"' in plain.text
        assert 'id="error-reason">必填' in plain.text
        assert f'name="next" value="/orders/{order["id"]}"' in plain.text  # switching language stays here
        assert htmx.headers["HX-Replace-Url"] == f"/orders/{order['id']}"
        assert "data-address" not in (await visitor.get(f"/orders/{order['id']}")).text


async def test_cancelling_a_paid_order_asks_first_naming_the_refund(db: Database, visit: Visitors) -> None:
    await small_store(db)
    admin = await bearer(db)
    async with await signed_in(visit, db, "operations") as visitor:
        order = await paid_order(visitor.client, admin, [("SKU-1", 1, "99.00")], at=clock.now())
        page = (await visitor.get(f"/orders/{order['id']}")).text
        assert f'<form method="get" action="/orders/{order["id"]}/cancel">' in page

        asked = await visitor.post(f"/orders/{order['id']}/cancel", {"reason": "客户改主意"})
        assert asked.status_code == 303 and await order_status(db, order["id"]) == "paid"
        confirm = await visitor.get(asked.headers["location"])
        assert "该订单已支付 ¥99.00；取消后将申请退款 ¥99.00。" in confirm.text
        assert 'value="客户改主意"' in confirm.text and f'href="/orders/{order["id"]}"' in confirm.text

        done = await visitor.post(
            f"/orders/{order['id']}/cancel", {"reason": "客户改主意", "confirmed": "yes"}
        )
        assert done.status_code == 303 and await order_status(db, order["id"]) == "cancelled"
        assert (await visitor.get(f"/orders/{order['id']}/cancel")).status_code == 303  # nothing left to ask


async def test_an_unpaid_order_is_cancelled_in_one_step(db: Database, visit: Visitors) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        order = await place_order(visitor.client, await bearer(db))
        await visitor.get(f"/orders/{order['id']}")
        done = await visitor.post(f"/orders/{order['id']}/cancel", {"reason": "重复下单"})
        assert (done.status_code, done.headers["location"]) == (303, f"/orders/{order['id']}")
        assert await order_status(db, order["id"]) == "cancelled"


async def test_a_held_order_paid_during_the_hold_says_so_in_both_languages(
    db: Database, visit: Visitors
) -> None:
    """ORD-3: the page shows the order held and already paid, and its history the capture."""
    await small_store(db)
    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        sales = await bearer(db, "sales")
        order = await place_order(visitor.client, sales)
        await visitor.get(f"/orders/{order['id']}")
        await visitor.post(f"/orders/{order['id']}/hold", {"reason": "risk_review"})
        await pay(visitor.client, await start_payment(visitor.client, sales, order["id"]))

        page = (await visitor.get(f"/orders/{order['id']}")).text
        status = page[page.index('id="order-status"') :]
        status = status[: status.index("</dd>")]
        assert "挂起" in status and "风控审核" in status and "已付款" in status
        assert "挂起期间已付款" in page[page.index("审计记录") :]
        await visitor.post("/language", {"locale": "en", "next": "/"})
        english = (await visitor.get(f"/orders/{order['id']}")).text
        assert "already paid" in english and "Paid while on hold" in english

        await visitor.post(f"/orders/{order['id']}/release")
        released = (await visitor.get(f"/orders/{order['id']}")).text
        assert await order_status(db, order["id"]) == "paid"
        assert 'id="paid-on-hold"' not in released
