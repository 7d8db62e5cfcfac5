"""The console over HTTP (no browser): sign-in, CSRF, roles, languages, forms, refusals, live parts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from shopflow.core import alerts, clock, policy
from shopflow.core.alerts import Alert
from shopflow.core.db import Database
from shopflow.core.policy import Inventory, Policy
from shopflow.inventory.models import LedgerEntry, Receipt, Stock
from shopflow.orders.models import Order
from tests.builders.auth import bearer
from tests.builders.console import PASSWORD, Visitor, Visitors, signed_in, visitors
from tests.builders.payments import gateway, place_order, start_payment
from tests.builders.rows import audit_rows
from tests.builders.store import small_store


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _status(db: Database, order_id: int) -> str:
    async with db.transaction() as session:
        return str(await session.scalar(select(Order.status).where(Order.id == order_id)))


async def _count(db: Database, model: object, *where: object) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


async def _stock(db: Database) -> list[tuple[int, int, int, int]]:
    async with db.transaction() as session:
        rows = await session.execute(select(Stock.sku_id, Stock.warehouse_id, Stock.on_hand, Stock.reserved))
        return sorted(tuple(row) for row in rows.all())  # type: ignore[misc]


async def test_pages_send_a_stranger_to_sign_in_and_back_to_the_page_after(
    db: Database, visit: Visitors
) -> None:
    from tests.builders.auth import staff

    name = await staff(db, "operations", PASSWORD)
    async with visit() as visitor:
        reply = await visitor.get("/orders?status=paid")
        assert reply.status_code == 303
        assert reply.headers["location"] == "/login?next=%2Forders"
        htmx = await visitor.get("/orders", headers={"HX-Request": "true"})
        assert (htmx.status_code, htmx.headers["HX-Redirect"]) == (401, "/login?next=%2Forders")

        await visitor.get("/login?next=/orders")
        wrong = await visitor.post("/login", {"username": name, "password": "nope", "next": "/orders"})
        assert wrong.status_code == 401
        assert "用户名或密码错误" in wrong.text
        assert f'value="{name}"' in wrong.text  # what was typed stays
        assert "set-cookie" not in wrong.headers or "uid" not in wrong.headers["set-cookie"]

        right = await visitor.post("/login", {"username": name, "password": PASSWORD, "next": "/orders"})
        assert (right.status_code, right.headers["location"]) == (303, "/orders")
        cookie = right.headers["set-cookie"].lower()
        assert "shopflow_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert (await visitor.get("/orders")).status_code == 200

        # `next` never leads to another site.
        await visitor.get("/login")
        away = await visitor.post(
            "/login", {"username": name, "password": PASSWORD, "next": "//evil.example"}
        )
        assert away.headers["location"] == "/"

        await visitor.get("/orders")  # signing in starts a new session with a new CSRF token
        out = await visitor.post("/logout")
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert (await visitor.get("/orders")).status_code == 303


async def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        client = visitor.client
        order = await place_order(client, await bearer(db))
        missing = await client.post(f"/orders/{order['id']}/cancel", data={"reason": "no token"})
        stale = await client.post(f"/orders/{order['id']}/cancel", data={"reason": "x", "csrf": "forged"})
        header = await client.post(
            f"/orders/{order['id']}/cancel", data={"reason": "x"}, headers={"X-CSRF-Token": "forged"}
        )
        assert [missing.status_code, stale.status_code, header.status_code] == [403, 403, 403]
        assert await _status(db, order["id"]) == "confirmed"

        done = await client.post(
            f"/orders/{order['id']}/cancel",
            data={"reason": "客户要求"},
            headers={"X-CSRF-Token": visitor.token},
        )
        assert done.status_code == 303
        assert await _status(db, order["id"]) == "cancelled"


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
        assert await _status(db, order["id"]) == "confirmed"
        assert len(await audit_rows(db, "order", order["id"])) == trail
    async with await signed_in(visit, db, "customer_service") as visitor:
        assert 'id="cancel-order"' in (await visitor.get(f"/orders/{order['id']}")).text


async def test_chinese_by_default_english_after_switching_and_the_choice_lasts(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    fixed = clock.FakeClock(datetime(2030, 3, 1, 9, 0, tzinfo=UTC))
    with clock.use(fixed):
        async with await signed_in(visit, db, "operations") as visitor:
            await place_order(visitor.client, await bearer(db))
            await _switch_and_back(visitor)


async def _switch_and_back(visitor: Visitor) -> None:
    """Chinese first; English after the switch, kept across pages; back to Chinese."""
    chinese = await visitor.get("/orders")
    assert '<html lang="zh-CN">' in chinese.text
    assert "已确认" in chinese.text and ">订单<" in chinese.text

    switched = await visitor.post("/language", {"locale": "en", "next": "/orders?status=confirmed"})
    assert switched.headers["location"] == "/orders?status=confirmed"
    english = await visitor.get("/orders?status=confirmed")
    assert '<html lang="en">' in english.text
    assert ">confirmed<" in english.text and ">Orders<" in english.text and "已确认" not in english.text
    assert "Payment (ORD-5) · 30 min left" in english.text

    await visitor.post("/language", {"locale": "klingon", "next": "/orders"})  # ignored
    assert '<html lang="en">' in (await visitor.get("/orders")).text
    await visitor.post("/language", {"locale": "zh_CN", "next": "/orders"})
    assert "付款（ORD-5） · 剩余 30分钟" in (await visitor.get("/orders")).text


async def test_money_as_yuan_with_separators_and_times_in_the_stores_zone(
    db: Database, visit: Visitors
) -> None:
    await small_store(db, stock={"SKU-1": (100, 0)})
    placed_at = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 00:30 the next day in Shanghai
    async with await signed_in(visit, db, "manager") as visitor:
        with clock.use(lambda: placed_at):
            order = await place_order(visitor.client, await bearer(db), [("SKU-1", 12, "99.00")])
        page = await visitor.get("/orders")
        row = re.search(rf'<tr id="order-{order["id"]}">.*?</tr>', page.text, re.S)
        assert row is not None
        assert "2026-11-24 00:30" in row[0]
        assert "¥1,188.00" in row[0]
        policy.install(Policy.model_validate({"calendar": {"timezone": "Europe/London"}}))
        assert "2026-11-23 16:30" in (await visitor.get("/orders")).text


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
        assert await _status(db, order["id"]) == "confirmed"


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
        assert await _status(db, order["id"]) == "confirmed"
        actions = [(row.action, row.actor_name) for row in await audit_rows(db, "order", order["id"])]
        assert [a for a, _ in actions] == [
            "order.pending",
            "order.confirmed",
            "order.on_hold",
            "order.confirmed",
        ]
        assert actions[2][1].startswith("cs_supervisor-") and actions[3][1].startswith("cs_supervisor-")


async def test_receipt_form_names_the_bad_row_keeps_what_was_typed_and_books_nothing(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "warehouse") as visitor:
        await visitor.get("/inventory/receipts")
        ledger = await _count(db, LedgerEntry)
        typed = {
            "warehouse": "WH-A",
            "reference": "PO-7",
            "lines[1].sku": "SKU-2",  # row 0 left blank: errors still name the form's own rows
            "lines[1].quantity": "5",
            "lines[3].sku": "SKU-404",
            "lines[3].quantity": "2",
        }
        reply = await visitor.post("/inventory/receipts", typed)

        assert reply.status_code == 422
        assert '<div class="field-error" id="error-lines[3].sku">没有 SKU SKU-404</div>' in reply.text
        assert "error-lines[1]" not in reply.text
        for value in ("PO-7", "SKU-2", "SKU-404"):
            assert f'value="{value}"' in reply.text
        assert '<option value="WH-A" selected>' in reply.text
        assert await _count(db, LedgerEntry) == ledger

        bad_number = await visitor.post(
            "/inventory/receipts", {**typed, "lines[3].sku": "SKU-3", "lines[3].quantity": "two"}
        )
        assert bad_number.status_code == 422 and 'id="error-lines[3].quantity">必须是整数' in bad_number.text

        booked = await visitor.post("/inventory/receipts", {**typed, "lines[3].sku": "SKU-3"})
        assert (booked.status_code, booked.headers["location"]) == (303, "/inventory")
        assert "收货单 PO-7 已入库 WH-A：共 2 行。" in (await visitor.get("/inventory")).text
        assert await _count(db, LedgerEntry) == ledger + 2
        async with db.transaction() as session:
            receipt_id = await session.scalar(select(func.max(Receipt.id)))
        received = await audit_rows(db, "receipt", receipt_id)
        assert [(row.action, row.after["reference"]) for row in received] == [("inventory.received", "PO-7")]

        again = await visitor.post("/inventory/receipts", {**typed, "lines[3].sku": "SKU-3"})
        assert again.status_code == 409 and 'id="error-reference">该单据已入库' in again.text
    async with await signed_in(visit, db, "sales") as visitor:
        assert (await visitor.get("/inventory/receipts")).status_code == 403
        assert 'href="/inventory/receipts"' not in (await visitor.get("/inventory")).text


async def test_inventory_shows_stock_per_warehouse_and_the_low_stock_view_uses_safety_stock(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)  # available: SKU-1 10+5, SKU-2 20, SKU-3 30
    async with await signed_in(visit, db, "purchasing") as visitor:
        policy.install(Policy(inventory=Inventory(safety_stock=18)))  # after the app loaded its policy
        stock = (await visitor.get("/inventory")).text
        row = re.search(r'<tr id="sku-SKU-1">.*?</tr>', stock, re.S)
        assert row is not None
        assert re.findall(r'data-warehouse="(WH-[AB])">(\d+) / (\d+)', row[0]) == [
            ("WH-A", "10", "10"),
            ("WH-B", "5", "5"),
        ]
        assert 'class="num available low">15<' in row[0]
        low = (await visitor.get("/inventory?low=true")).text
        assert re.findall(r'<tr id="sku-([A-Z0-9-]+)">', low) == ["SKU-1"]
        today = (await visitor.get("/")).text
        assert re.search(r'href="/inventory\?low=1">1</a>', today)
        ledger = (await visitor.get("/inventory/skus/SKU-1")).text
        assert ledger.count("入库") >= 2 and "+10" in ledger and "+5" in ledger


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


async def test_today_shows_sales_and_average_order_value_to_those_who_may_see_money(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    admin = await bearer(db)
    async with await signed_in(visit, db, "finance") as visitor:
        for lines in ([("SKU-1", 1, "99.00")], [("SKU-2", 2, "45.50")]):
            order = await place_order(visitor.client, admin, lines)
            payment = await start_payment(visitor.client, admin, order["id"])
            await gateway(visitor.client, admin, payment["payment_id"], "success")
        today = (await visitor.get("/")).text
        # 99.00 ships free; 2 × 45.50 = 91.00 is below the free-shipping threshold: + 10.00.
        assert '<div class="n" id="sales-today">¥200.00</div>' in today
        assert '<div class="n">¥100.00</div>' in today  # average order value: 200.00 / 2 orders
        assert "data-chart=" in today and "/static/vendor/echarts/echarts.common.min.js" in today
    async with await signed_in(visit, db, "warehouse") as visitor:
        assert 'id="sales-today"' not in (await visitor.get("/")).text


async def test_alerts_are_acknowledged_once_by_htmx_audited_and_not_by_sales(
    db: Database, visit: Visitors
) -> None:
    async with db.transaction() as session:
        await alerts.raise_alert(session, "sla_breach", "order:7", "order.pay deadline passed", "sla:test")
        alert_id = int(await session.scalar(select(Alert.id).where(Alert.dedupe_key == "sla:test")) or 0)
    async with await signed_in(visit, db, "sales") as visitor:
        page = await visitor.get("/alerts")
        assert "超时" in page.text and 'href="/orders/7"' in page.text and "确认收到" not in page.text
        refused = await visitor.post(f"/alerts/{alert_id}/acknowledge")
        assert refused.status_code == 403
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/alerts")
        htmx = {"HX-Request": "true", "X-CSRF-Token": visitor.token}
        row = await visitor.client.post(f"/alerts/{alert_id}/acknowledge", headers=htmx)
        assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="alert-{alert_id}">')
        assert "已确认" in row.text
        again = await visitor.client.post(f"/alerts/{alert_id}/acknowledge", headers=htmx)
        assert again.status_code == 409
        assert "/alerts?state=acknowledged" in (await visitor.get("/alerts?state=acknowledged")).text
        assert f'id="alert-{alert_id}"' in (await visitor.get("/alerts?state=acknowledged")).text
        assert f'id="alert-{alert_id}"' not in (await visitor.get("/alerts")).text
    trail = await audit_rows(db, "alert", alert_id)
    assert [(row.action, row.actor_name.split("-")[0]) for row in trail] == [
        ("alert.acknowledged", "operations")
    ]


async def test_orders_list_filters_by_state_channel_date_and_finds_either_order_number(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    admin = await bearer(db)
    async with await signed_in(visit, db, "sales") as visitor:
        own = await place_order(visitor.client, admin)
        tmall = await place_order(visitor.client, admin, channel="tmall", channel_order_no="TM-0001")
        cancelled = await place_order(visitor.client, admin)
        await visitor.client.post(
            f"/api/v1/orders/{cancelled['id']}/cancel", json={"reason": "x"}, headers=admin
        )

        def shown(html: str) -> set[int]:
            return {int(n) for n in re.findall(r'<tr id="order-(\d+)">', html)}

        assert shown((await visitor.get("/orders")).text) == {own["id"], tmall["id"], cancelled["id"]}
        assert shown((await visitor.get("/orders?status=cancelled")).text) == {cancelled["id"]}
        assert shown((await visitor.get("/orders?channel=tmall&status=")).text) == {tmall["id"]}
        assert shown((await visitor.get(f"/orders?q={own['order_no'].lower()}")).text) == {own["id"]}
        assert shown((await visitor.get("/orders?q=TM-0001")).text) == {tmall["id"]}
        today = clock.now().astimezone().date()
        assert (
            shown((await visitor.get(f"/orders?date_to={today.replace(year=today.year - 1)}")).text) == set()
        )
        bad = await visitor.get("/orders?date_from=yesterday")
        assert bad.status_code == 422 and "yesterday 不是日期。" in bad.text
        missing = await visitor.get("/orders/999999")
        assert missing.status_code == 404 and "没有订单 999999。" in missing.text


async def test_vendored_assets_are_served_locally_with_their_licences(db: Database, visit: Visitors) -> None:
    async with visit() as visitor:
        for path in (
            "/static/vendor/htmx/htmx.min.js",
            "/static/vendor/htmx/LICENSE",
            "/static/vendor/echarts/echarts.common.min.js",
            "/static/vendor/echarts/LICENSE",
            "/static/vendor/echarts/NOTICE",
            "/static/console.css",
            "/static/console.js",
        ):
            assert (await visitor.get(path)).status_code == 200, path
        page = (await visitor.get("/login")).text
        assert re.findall(r'(?:src|href)="(https?:)?//', page) == []
