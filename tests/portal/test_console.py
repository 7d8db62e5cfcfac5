"""The customer's own page over HTTP, without an account: the signed link opens the order (zh by
default, en by `?lang=` or Accept-Language); a tampered or expired link is refused; receipt is
confirmed and audited as the customer; a return is previewed (nothing stored) and then sent; an
ineligible one is refused with its rule; one order's link cannot act on another; the page's
requests are limited per address; staff find the link on the console's order page."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.aftersales.models import Case
from shopflow.core import clock, crypto, policy
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.orders.models import OrderStatus
from shopflow.orders.service import queries
from shopflow.portal import models
from tests.builders.aftersales import delivered_order
from tests.builders.console import signed_in, visitors
from tests.builders.lifecycle import deliver, place
from tests.builders.portal import link_path, opened, tracked_order
from tests.builders.rows import audit_rows
from tests.builders.store import small_store

HX = {"HX-Request": "true"}


async def _cases(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def _status(db: Database, order_id: int) -> str:
    async with db.transaction() as session:
        return (await queries.get_order(session, order_id)).status


async def test_the_link_opens_the_order_in_chinese_by_default_with_lines_tracking_and_masked_address(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id, tracking_no = await tracked_order(db, client)
    path = await link_path(db, order_id)

    page = await client.get(path)

    assert page.status_code == 200
    async with db.transaction() as session:
        order = await queries.get_order(session, order_id)
    html = page.text
    assert order.order_no in html and '<html lang="zh-CN">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "已送达" in re.search(r'id="status">(.*?)</p>', html, re.S)[1]  # type: ignore[index]
    assert "商品 SKU-1" in html and "¥99.00" in html  # the line by its name, and the total
    street = order.contact["shipping_address"]["street"]
    assert street not in html and f"{street[:2]}****" in html  # masked (RSK-3)
    assert order.contact["customer"]["phone"] not in html
    tracking = re.search(r'class="timeline tracking">(.*?)</ol>', html, re.S)[1]  # type: ignore[index]
    assert tracking_no in html and "顺丰速运" in html
    assert tracking.index("上海徐汇") < tracking.index("上海浦东")  # latest first
    assert 'id="confirm-receipt"' in html and 'id="request-form"' in html
    assert re.search(r'id="closes">\d{4}-\d{2}-\d{2} 23:59<', html)  # the window's last minute
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "same-origin"  # the token never leaves in a Referer
    assets = re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets)  # no CDN


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?lang=en", {}), ("", {"Accept-Language": "en-GB,en;q=0.9,zh-CN;q=0.5"})],
)
async def test_the_page_speaks_english_when_asked(
    db: Database, client: httpx.AsyncClient, query: str, headers: dict[str, str]
) -> None:
    order_id = await delivered_order(db)

    page = await client.get(await link_path(db, order_id) + query, headers=headers)

    assert '<html lang="en">' in page.text
    assert "I received my order" in page.text and "Return or exchange" in page.text
    assert "delivered" in re.search(r'id="status">(.*?)</p>', page.text, re.S)[1]  # type: ignore[index]


async def test_a_chinese_browser_gets_chinese_and_lang_overrides_it(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)

    chinese = await client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    english = await client.get(path + "?lang=en", headers={"Accept-Language": "zh-CN"})

    assert "我已收到货" in chinese.text and "退货或换货" in chinese.text
    assert "I received my order" in english.text


async def test_a_tampered_link_is_refused_like_a_link_to_no_order(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)
    order_part, expires, signature = path.rsplit("/", 1)[1].split(".")
    tampered = [
        f"/my/orders/{order_id + 1}.{expires}.{signature}",
        f"/my/orders/{order_part}.{int(expires) + 86400}.{signature}",
        f"/my/orders/{order_part}.{expires}.{signature[:-2]}AA",
        "/my/orders/anything",
    ]
    async with db.transaction() as session:
        order = await queries.get_order(session, order_id)
        no_order = models.sign(order_id + 10**6, order.created_at + timedelta(days=400), _key())  # signed

    answers = [await client.get(path) for path in [*tampered, f"/my/orders/{no_order}"]]

    assert [a.status_code for a in answers] == [404] * 5
    assert len({a.text for a in answers}) == 1  # the same page: nothing said about the order
    assert "该页面不存在" in answers[0].text and order.order_no not in answers[0].text
    refused_post = await client.post(f"{tampered[0]}/confirm-receipt", data={"csrf": "x"})
    assert refused_post.status_code == 404
    assert await _status(db, order_id) == OrderStatus.DELIVERED


def _key() -> bytes:
    return crypto.vault().derived_key(models.KEY_PURPOSE)


async def test_a_link_expires_with_the_after_sales_window(db: Database, client: httpx.AsyncClient) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)
    window = policy.current().aftersales.quality_return_days

    with clock.use(FakeClock(clock.now() + timedelta(days=window + 2))):
        expired = await client.get(path)
        expired_en = await client.get(path + "?lang=en")

    assert expired.status_code == expired_en.status_code == 410
    assert "链接已过期" in expired.text and "This link has expired" in expired_en.text


async def test_a_link_sent_before_delivery_works_for_the_policy_span(
    db: Database, client: httpx.AsyncClient
) -> None:
    await small_store(db)
    order_id = await place(db, [("SKU-1", 1, "99.00")])
    path = await link_path(db, order_id)
    days = policy.current().aftersales.customer_link_days

    assert (await client.get(path)).status_code == 200
    with clock.use(FakeClock(clock.now() + timedelta(days=days, seconds=1))):
        assert (await client.get(path)).status_code == 410


async def test_the_customer_confirms_receipt_and_it_is_audited_as_the_customer(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)
    key, _ = await opened(client, path)

    without_key = await client.post(f"{path}/confirm-receipt", data={})
    assert without_key.status_code == 403
    assert await _status(db, order_id) == OrderStatus.DELIVERED

    confirmed = await client.post(f"{path}/confirm-receipt", data={"csrf": key})

    assert confirmed.status_code == 303
    assert await _status(db, order_id) == OrderStatus.COMPLETED
    trail = await audit_rows(db, "order", order_id)
    [row] = [r for r in trail if (r.after or {}).get("status") == "completed"]
    assert row.actor_name == "customer" and row.actor_id is None
    after = await client.get(confirmed.headers["location"])
    assert "已确认收货" in after.text and 'id="confirm-receipt"' not in after.text
    again = await client.post(f"{path}/confirm-receipt", data={"csrf": key})
    assert again.status_code == 409 and 'id="refusal"' in again.text


async def test_the_preview_shows_the_rule_sentence_and_the_refund_and_stores_nothing(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)
    key, lines = await opened(client, path)
    form = {"csrf": key, "type": "return_refund", "reason": "quality", f"qty-{lines[0]}": "1"}

    preview = await client.post(f"{path}/returns/preview", data=form, headers=HX)

    assert preview.status_code == 200
    assert "<html" not in preview.text  # the fragment HTMX swaps in
    assert re.search(r"15天质量问题退货，截止 \d{4}-\d{2}-\d{2} 23:59", preview.text)
    assert "¥109.00" in preview.text  # 99.00 and the store's 10.00 return postage
    no_js = await client.post(f"{path}/returns/preview?lang=en", data=form)
    assert no_js.status_code == 200 and "<html" in no_js.text
    assert re.search(r"15-day quality return ends \d{4}-\d{2}-\d{2} 23:59", no_js.text)
    assert await _cases(db) == 0


async def test_the_customer_sends_a_request_and_follows_the_case(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)
    key, lines = await opened(client, path)

    sent = await client.post(
        f"{path}/returns",
        data={"csrf": key, "type": "exchange", "reason": "quality", f"qty-{lines[1]}": "2", "note": "尺码"},
    )

    assert sent.status_code == 303
    async with db.transaction() as session:
        [case] = (await session.scalars(select(Case).where(Case.order_id == order_id))).all()
    assert (case.type, case.state, case.created_by) == ("exchange", "requested", None)
    [row] = await audit_rows(db, "case", case.id)
    assert row.actor_name == "customer"
    page = (await client.get(sent.headers["location"])).text
    assert "已提交" in re.search(r'id="done">(.*?)</div>', page, re.S)[1]  # type: ignore[index]
    followed = re.search(rf'id="case-{case.case_no}">(.*?)</div>', page, re.S)[1]  # type: ignore[index]
    assert "待审核" in followed and "换货" in followed and "SKU-2 × 2" in followed


async def test_an_ineligible_request_shows_the_rule_and_stores_nothing(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)
    key, lines = await opened(client, path)
    form = {"csrf": key, "type": "return_refund", "reason": "no_reason", "opened": "1"} | {
        f"qty-{lines[0]}": "1"
    }

    preview = await client.post(f"{path}/returns/preview", data=form, headers=HX)
    refused = await client.post(f"{path}/returns", data=form)
    refused_en = await client.post(f"{path}/returns?lang=en", data=form)

    assert "已拆封商品不适用7天无理由退货" in preview.text
    assert refused.status_code == refused_en.status_code == 422
    shown = re.search(r'id="request-refusal">(.*?)</div>', refused.text, re.S)[1]  # type: ignore[index]
    assert "已拆封商品不适用7天无理由退货" in shown
    assert "opened goods are not eligible for the 7-day no-reason return" in refused_en.text
    assert 'value="1" checked' in refused.text  # what was typed is kept
    assert await _cases(db) == 0


async def test_too_many_units_are_refused_at_their_line(db: Database, client: httpx.AsyncClient) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)
    key, lines = await opened(client, path)

    refused = await client.post(
        f"{path}/returns",
        data={"csrf": key, "type": "refund_only", "reason": "quality", f"qty-{lines[1]}": "3"},
    )

    assert refused.status_code == 422
    assert re.search(rf'name="qty-{lines[1]}" value="3"[^>]*class="bad"', refused.text)
    assert await _cases(db) == 0


async def test_a_customer_cannot_ask_for_compensation_from_the_page(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)
    key, lines = await opened(client, path)

    refused = await client.post(
        f"{path}/returns?lang=en",
        data={"csrf": key, "type": "compensation", "reason": "quality", f"qty-{lines[0]}": "1"},
    )

    assert refused.status_code == 422 and "Choose return and refund, refund only or exchange." in refused.text
    assert await _cases(db) == 0


async def test_a_second_orders_link_cannot_act_on_the_first(db: Database, client: httpx.AsyncClient) -> None:
    first = await delivered_order(db)
    second = await place(db, [("SKU-2", 1, "45.50")])
    await deliver(db, second)
    first_path, second_path = await link_path(db, first), await link_path(db, second)
    second_key, _ = await opened(client, second_path)
    _, first_lines = await opened(client, first_path)

    crossed = await client.post(f"{first_path}/confirm-receipt", data={"csrf": second_key})
    foreign_lines = await client.post(
        f"{second_path}/returns",
        data={"csrf": second_key, "type": "return_refund", "reason": "quality", f"qty-{first_lines[0]}": "1"},
    )

    assert crossed.status_code == 403
    assert await _status(db, first) == OrderStatus.DELIVERED
    assert foreign_lines.status_code == 422  # the first order's lines are not on the second
    assert await _cases(db) == 0


async def test_the_page_answers_429_beyond_the_policys_rate_per_address(
    db: Database, client: httpx.AsyncClient
) -> None:
    policy.install(policy.validate({"security": {"customer_page_requests_per_minute": 2}}))
    order_id = await delivered_order(db)
    path = await link_path(db, order_id)

    answers = [await client.get(path) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["Retry-After"]) > 0
    assert (await client.get("/my/orders/anything")).status_code == 429  # guessing costs the same


async def test_staff_find_the_customers_link_on_the_order_page(db: Database) -> None:
    order_id = await delivered_order(db)
    async with await signed_in(visitors(db), db, "customer_service") as agent:
        page = (await agent.get(f"/orders/{order_id}")).text
    found = re.search(r'href="([^"]+)"[^>]*id="customer-page-link"', page)

    assert found is not None and "客户页面" in page
    async with visitors(db)() as customer:
        opened_page = await customer.get(httpx.URL(found[1]).path)
    assert opened_page.status_code == 200 and 'id="order"' in opened_page.text
