"""B2B quotes (CRM-6): a valid body, and a customer to quote for."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from shopflow.core import clock
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.crm import service as customers
from shopflow.crm.schemas import CustomerIn


def quote_body(
    customer_id: int | None,
    lines: list[tuple[str, int, str, str]] | None = None,
    terms: str = "net30",
    **overrides: Any,
) -> dict[str, Any]:
    """A quote of (sku, quantity, unit price, discount percent) lines; one line of 10 SKU-1 at
    list price without discount unless told otherwise."""
    delivery: date = clock.now().date() + timedelta(days=10)
    return {
        "customer_id": customer_id,
        "buyer": {"name": "王经理", "phone": "13700137000"},
        "ship_to": {
            "name": "王经理",
            "phone": "13700137000",
            "province": "上海市",
            "city": "上海市",
            "district": "浦东新区",
            "street": "世纪大道100号",
            "postcode": "200120",
        },
        "lines": [
            {
                "sku": sku,
                "spec": "标准款",
                "quantity": quantity,
                "unit_price": price,
                "discount_percent": discount,
            }
            for sku, quantity, price, discount in (lines or [("SKU-1", 10, "99.00", "0")])
        ],
        "delivery_date": delivery.isoformat(),
        "payment_terms": terms,
        "aftersales_terms": "一年保修",
        **overrides,
    }


async def a_customer(db: Database, phone: str = "13700137000") -> int:
    async with db.transaction() as session:
        customer = await customers.create_customer(
            session, SYSTEM, CustomerIn(name="某某公司", phones=[phone])
        )
        return customer.id
