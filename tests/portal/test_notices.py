"""Every customer notice of an order carries the signed link to the customer's page, and it opens;
a notice to staff does not."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from shopflow.core.db import Database
from shopflow.notify import tasks
from shopflow.notify.models import CUSTOMER_EVENTS
from shopflow.notify.render import LANGUAGES, Facts, render, render_alert
from shopflow.orders.service import queries
from tests.builders.aftersales import delivered_order
from tests.builders.notify import deliveries


async def test_a_sent_notice_carries_a_link_to_the_customers_page_that_opens(
    db: Database, client: httpx.AsyncClient
) -> None:
    order_id = await delivered_order(db)  # confirmed, paid, shipped, delivered: four notices
    async with db.transaction() as session:
        while await tasks.dispatch(session):
            pass
        order_no = (await queries.get_order(session, order_id)).order_no

    mails = [d.message for d in await deliveries(db, channel="email")]
    assert len(mails) == 4
    for mail in mails:
        [in_text] = re.findall(r"在线查看订单：(\S+)", mail["text"])
        [in_html] = re.findall(r'<a href="([^"]+)">在线查看订单', mail["html"])
        assert in_text == in_html and urlsplit(in_text).path.startswith("/my/orders/")
        page = await client.get(urlsplit(in_text).path)
        assert page.status_code == 200 and order_no in page.text


LINK = "https://shop.example/my/orders/42.1900000000.x&y"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", sorted(CUSTOMER_EVENTS))
def test_every_customer_notice_shows_the_link_in_its_text_and_html(language: str, event: str) -> None:
    facts = Facts("好物小店", "张三", "SF1", 100, "Asia/Shanghai", reason="other", portal_url=LINK)

    notice = render(language, event, facts)

    assert LINK in notice.text
    assert 'href="https://shop.example/my/orders/42.1900000000.x&amp;y"' in notice.html


def test_an_alert_to_staff_carries_no_customer_link() -> None:
    alert = {"kind": "k", "subject": "order:1", "message": "m"}

    notice = render_alert("en", "Shop", "li", alert, "https://shop.example/alerts")

    assert "/my/orders/" not in notice.html and "$" not in notice.html
