"""What every console page shares (core/console.py), over HTTP without a browser: sign-in and the
session, CSRF, languages, money and times in the store's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from shopflow.core import clock, policy
from shopflow.core.db import Database
from shopflow.core.policy import Policy
from tests.builders.auth import bearer
from tests.builders.console import PASSWORD, Visitor, Visitors, signed_in, visitors
from tests.builders.payments import place_order
from tests.builders.rows import order_status
from tests.builders.store import small_store


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


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
        assert await order_status(db, order["id"]) == "confirmed"

        done = await client.post(
            f"/orders/{order['id']}/cancel",
            data={"reason": "客户要求"},
            headers={"X-CSRF-Token": visitor.token},
        )
        assert done.status_code == 303
        assert await order_status(db, order["id"]) == "cancelled"


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
    assert "Payment · 30 min left" in english.text

    await visitor.post("/language", {"locale": "klingon", "next": "/orders"})  # ignored
    assert '<html lang="en">' in (await visitor.get("/orders")).text
    await visitor.post("/language", {"locale": "zh_CN", "next": "/orders"})
    assert "付款 · 剩余 30分钟" in (await visitor.get("/orders")).text


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
