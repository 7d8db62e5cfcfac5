"""RSK-3 on the console: the customer's privacy page, linked from the profile for roles that see
personal data: the export downloaded (ZIP or JSON), the erasure by a manager with a reason (a
refusal at its field), in Chinese and English."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from shopflow.core.db import Database
from shopflow.orders.models import Order
from tests.builders.aftersales import delivered_order
from tests.builders.console import Visitors, signed_in, visitors

PHONE = "13800138000"  # the order builder's buyer


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _customer(db: Database) -> int:
    order_id = await delivered_order(db)
    async with db.transaction() as session:
        return int(await session.scalar(select(Order.customer_id).where(Order.id == order_id)) or 0)


async def test_a_manager_downloads_the_export_and_erases_with_a_reason(db: Database, visit: Visitors) -> None:
    customer_id = await _customer(db)
    async with await signed_in(visit, db, "manager") as visitor:
        profile = await visitor.get(f"/customers/{customer_id}")
        assert f'href="/customers/{customer_id}/privacy"' in profile.text
        page = await visitor.get(f"/customers/{customer_id}/privacy")
        assert page.status_code == 200 and "删除客户个人信息" in page.text

        zipped = await visitor.get(f"/customers/{customer_id}/privacy/export?format=zip")
        plain = await visitor.get(f"/customers/{customer_id}/privacy/export?format=json")

        assert zipped.headers["content-type"] == "application/zip"
        assert "orders.csv" in zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
        assert json.loads(plain.content)["records"]["phones"][0]["phone"] == PHONE

        refused = await visitor.post(f"/customers/{customer_id}/privacy/erase", {"reason": ""})
        assert refused.status_code == 422
        assert 'id="erase-refusal"' in refused.text

        done = await visitor.post(f"/customers/{customer_id}/privacy/erase", {"reason": "客户要求"})
        assert done.status_code in (200, 303)
        await visitor.post("/language", {"locale": "en", "next": f"/customers/{customer_id}/privacy"})
        after = await visitor.get(f"/customers/{customer_id}/privacy")
        assert 'id="erased"' in after.text and "Erased on" in after.text
        assert 'id="erase-form"' not in after.text


async def test_an_agent_exports_but_may_not_erase_and_a_warehouse_user_sees_no_privacy_page(
    db: Database, visit: Visitors
) -> None:
    customer_id = await _customer(db)
    async with await signed_in(visit, db, "customer_service") as visitor:
        page = await visitor.get(f"/customers/{customer_id}/privacy")
        assert "Only a manager" in page.text or "只有经理" in page.text
        assert 'id="erase-form"' not in page.text
        refused = await visitor.post(f"/customers/{customer_id}/privacy/erase", {"reason": "x"})
        assert refused.status_code == 403
    async with await signed_in(visit, db, "warehouse") as visitor:
        assert (await visitor.get(f"/customers/{customer_id}/privacy")).status_code == 403
