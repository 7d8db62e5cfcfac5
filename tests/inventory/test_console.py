"""The inventory pages of the console over HTTP (no browser): stock per warehouse, the low-stock
view (INV-4), a SKU's ledger and the receipt form (INV-1)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from shopflow.core import policy
from shopflow.core.db import Database
from shopflow.core.policy import Inventory, Policy
from shopflow.inventory.models import LedgerEntry, Receipt
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.rows import audit_rows
from tests.builders.store import small_store


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _count(db: Database, model: object, *where: object) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


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


async def test_the_receipt_form_reports_every_fields_error_in_one_answer(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "warehouse") as visitor:
        await visitor.get("/inventory/receipts")
        typed = {
            "warehouse": "WH-NOPE",
            "reference": "",
            "lines[0].sku": "SKU-404",
            "lines[0].quantity": "2",
            "lines[1].sku": "SKU-2",
            "lines[1].quantity": "two",
            "lines[2].sku": "SKU-3",
            "lines[2].quantity": "0",
        }
        reply = await visitor.post("/inventory/receipts", typed)

        assert reply.status_code == 422
        errors = re.findall(r'<div class="field-error" id="error-([^"]+)">', reply.text)
        assert sorted(errors) == sorted(
            ["warehouse", "reference", "lines[0].sku", "lines[1].quantity", "lines[2].quantity"]
        )
