"""The quote console (zh_CN by default): the new-quote form with its field errors, the quote
page with the reasons for approval and the approver's buttons, the contract's printable page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.lifecycle import stocked_store
from tests.builders.quotes import a_customer

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


def _form(customer: int, sku: str = "SKU-1") -> dict[str, str]:
    return {
        "customer_id": str(customer),
        "buyer_name": "王经理",
        "buyer_phone": "13700137000",
        "ship_name": "王经理",
        "ship_phone": "13700137000",
        "ship_province": "上海市",
        "ship_city": "上海市",
        "ship_district": "浦东新区",
        "ship_street": "世纪大道100号",
        "ship_postcode": "200120",
        "sku_0": sku,
        "spec_0": "标准款",
        "quantity_0": "10",
        "unit_price_0": "99.00",
        "discount_percent_0": "25",
        "delivery_date": "2026-12-20",
        "payment_terms": "net30",
        "aftersales_terms": "一年保修",
    }


async def test_a_quote_is_written_approved_and_accepted_on_the_console(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    await stocked_store(db, 100)
    customer = await a_customer(db)
    async with await signed_in(visit, db, "sales") as sales:
        refused = await sales.post("/quotes", _form(customer, sku="NOPE"))
        created = await sales.post("/quotes", _form(customer))
        address = created.headers["location"]
        await sales.post(f"{address}/submit")
        waiting = (await sales.get(address)).text
    async with await signed_in(visit, db, "manager") as manager:
        shown = (await manager.get(address)).text
        approved = await manager.post(f"{address}/approve", {"note": "大客户"})
    async with await signed_in(visit, db, "sales") as sales:
        await sales.post(f"{address}/send")
        await sales.post(f"{address}/accept")
        done = (await sales.get(address)).text
        contract = re.search(r'href="(/contracts/\d+)" id="quote-contract"', done)
        assert contract is not None
        printable = (await sales.get(contract.group(1))).text
        pdf = await sales.get(f"{contract.group(1)}/pdf")
        listed = (await sales.get("/quotes?state=accepted")).text

    assert refused.status_code == 422 and 'id="error-sku_0"' in refused.text
    assert created.status_code == 303
    assert "待审批" in waiting and "is below the profit band&#39;s floor 79.20" in waiting
    assert "/approve" not in waiting  # sales may not approve
    assert "/approve" in shown
    assert approved.status_code == 303
    assert "HT202612070001" in done and "已接受" in done
    assert "HT202612070001" in printable and "¥742.50" in printable and "30 天账期" in printable
    assert pdf.content.startswith(b"%PDF")
    assert f'href="{address}"' in listed
