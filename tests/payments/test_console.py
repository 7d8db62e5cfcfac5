"""The receipts ledger of the console over HTTP (PAY-5): a paid order's receipt in the store's zone,
the totals of a date range, and a bad date named at its field."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from shopflow.core.db import Database
from shopflow.payments.models import PaymentReceipt
from tests.builders.auth import bearer
from tests.builders.console import Visitor, Visitors, signed_in, table_row, visitors
from tests.builders.payments import paid_order
from tests.builders.store import small_store

PAID_AT = datetime(2030, 6, 3, 2, 30, tzinfo=UTC)  # 10:30 on 3 June in Shanghai


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _paid_order(visitor: Visitor, db: Database, lines: list[tuple[str, int, str]]) -> dict[str, Any]:
    return await paid_order(visitor.client, await bearer(db), lines, at=PAID_AT, method="wechat")


async def test_the_receipts_ledger_lists_a_paid_order_with_the_total_of_the_range(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "finance") as visitor:
        first = await _paid_order(visitor, db, [("SKU-1", 1, "99.00")])
        second = await _paid_order(visitor, db, [("SKU-1", 2, "99.00"), ("SKU-2", 1, "45.50")])
        async with db.transaction() as session:
            receipts = (await session.scalars(select(PaymentReceipt).order_by(PaymentReceipt.id))).all()
        assert [r.order_id for r in receipts] == [first["id"], second["id"]]

        page = (await visitor.get("/payments/receipts?date_from=2030-06-03&date_to=2030-06-03")).text
        row = table_row(page, f"receipt-{receipts[0].id}")
        assert re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) == [
            "2030-06-03 10:30",
            f'<a href="/orders/{first["id"]}">{first["order_no"]}</a>',
            str(receipts[0].payment_id),
            "微信支付",
            "¥99.00",
        ]
        assert "¥243.50" in table_row(page, f"receipt-{receipts[1].id}")
        assert '<th class="num" id="receipts-count">2</th>' in page
        assert '<th class="num" id="receipts-total">¥342.50</th>' in page

        before = (await visitor.get("/payments/receipts?date_to=2030-06-02")).text
        assert "该时间段内没有收款。" in before and 'id="receipts-total">¥0.00<' in before
        after = (await visitor.get("/payments/receipts?date_from=2030-06-04")).text
        assert 'id="receipts-count">0<' in after

        wrong = await visitor.get("/payments/receipts?date_from=2030-13-01")
        assert wrong.status_code == 422
        assert '<div class="field-error" id="error-date_from">2030-13-01 不是日期。</div>' in wrong.text
        assert 'value="2030-13-01"' in wrong.text
