"""Coupons on the console (LOY-4): created through the list's form and listed in zh and en, a bad
field refused at its field with nothing stored, a batch of codes generated and downloaded as CSV,
a sales user reading without the forms (posting anyway: 403), and the uses table naming the order
that used the coupon, released once the order is cancelled."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from shopflow.core.db import Database
from shopflow.loyalty.models import Coupon, CouponCode
from tests.builders.auth import bearer
from tests.builders.console import Visitor, Visitors, signed_in, table_row, visitors
from tests.builders.orders import order_body
from tests.builders.store import small_store

FORM = {
    "code": "new10",
    "name": "新客立减",
    "kind": "fixed",
    "value": "10.00",
    "min_spend": "99.00",
    "limit_total": "50",
    "limit_per_customer": "1",
    "starts_on": "2026-12-01",
    "ends_on": "2026-12-31",
    "skus": "SKU-1, SKU-2",
    "stacking_group": "store",
    "combines_with": "shipping",
}


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


def _cells(html: str, row_id: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", table_row(html, row_id), re.S)
    ]


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'<div class="field-error" id="error-{field}">(.*?)</div>', html, re.S)
    assert found is not None, f"no error at {field}"
    return found[1]


async def _count(db: Database, model: type[Coupon] | type[CouponCode]) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _create(visitor: Visitor, **fields: str) -> str:
    """A coupon made through the form: the address of its page."""
    await visitor.get("/coupons")
    reply = await visitor.post("/coupons", {**FORM, **fields})
    assert reply.status_code == 303, reply.text
    return reply.headers["location"]


async def test_a_coupon_created_through_the_form_is_listed_in_chinese_and_english(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        page = await _create(visitor)
        assert re.fullmatch(r"/coupons/\d+", page)
        shown = await visitor.get(page)
        assert "已创建优惠券 NEW10。" in shown.text
        await _create(visitor, code="SPRING15", kind="percent", value="15", min_spend="", limit_total="")

        zh = await visitor.get("/coupons")
        assert zh.status_code == 200, zh.text
        assert '<a href="/coupons" class="active">优惠券</a>' in zh.text
        assert 'id="coupon-form"' in zh.text
        cells = _cells(zh.text, "coupon-NEW10")
        assert cells[:4] == ["NEW10", "新客立减", "立减 ¥10.00", "¥99.00"]
        assert cells[4] == "2026-12-01 00:00 – 2027-01-01 00:00"  # the store's days, the last one included
        assert cells[5:] == ["共 50 次 · 每位顾客 1 次", "0 / 50", "1"]
        assert _cells(zh.text, "coupon-SPRING15")[2:4] == ["减 15%", "—"]
        assert _cells(zh.text, "coupon-SPRING15")[5:7] == ["每位顾客 1 次", "0 / ∞"]

        await visitor.post("/language", {"locale": "en", "next": "/coupons"})
        en = await visitor.get("/coupons")
        assert '<a href="/coupons" class="active">Coupons</a>' in en.text
        assert "Minimum spend" in en.text and "New coupon" in en.text
        cells = _cells(en.text, "coupon-NEW10")
        assert cells[2:4] == ["¥10.00 off", "¥99.00"]
        assert cells[4] == "1 Dec 2026 00:00 – 1 Jan 2027 00:00"
        assert cells[5:] == ["50 in all · 1 per customer", "0 / 50", "1"]
        assert _cells(en.text, "coupon-SPRING15")[2] == "15% off"

        detail = await visitor.get(page)
        assert detail.status_code == 200, detail.text
        facts = detail.text
        assert '<dd id="coupon-skus">SKU-1, SKU-2</dd>' in facts
        assert '<dd id="coupon-group">store</dd>' in facts
        assert '<dd id="coupon-combines">shipping</dd>' in facts


async def test_bad_fields_are_refused_at_their_field_and_nothing_is_stored(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        cases = [
            ({"value": "abc"}, "value", "abc 不是金额"),
            ({"kind": "percent", "value": "120"}, "value", None),
            ({"value": "0"}, "value", None),
            ({"min_spend": "-1"}, "min_spend", None),
            ({"limit_total": "0"}, "limit_total", None),
            ({"limit_total": "many"}, "limit_total", None),
            ({"code": "a b"}, "code", None),
            ({"skus": "SKU-1, NOPE"}, "skus", None),
            ({"starts_on": "2026-12-31", "ends_on": "2026-12-01"}, "ends_on", None),
            ({"ends_on": "31/12/2026"}, "ends_on", None),
            ({"stacking_group": ""}, "stacking_group", None),
        ]
        for fields, field, message in cases:
            reply = await visitor.post("/coupons", {**FORM, **fields})
            assert reply.status_code == 422, (fields, reply.text)
            error = _field_error(reply.text, field)
            assert message is None or error == message, (fields, error)
            assert 'id="coupon-refusal"' in reply.text
            assert 'name="name" value="新客立减"' in reply.text  # the form as typed
        assert await _count(db, Coupon) == 0

        await _create(visitor)
        taken = await visitor.post("/coupons", {**FORM, "code": "NEW10"})
        assert taken.status_code == 409, taken.text
        assert "优惠码 NEW10 已被占用，未保存任何内容。" in taken.text
        assert await _count(db, Coupon) == 1

        await visitor.post("/language", {"locale": "en", "next": "/coupons"})
        english = await visitor.post("/coupons", {**FORM, "code": "X10", "value": "abc"})
        assert english.status_code == 422
        assert _field_error(english.text, "value") == "abc is not an amount"


async def test_codes_are_generated_in_a_batch_and_downloaded_as_csv(db: Database, visit: Visitors) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        page = await _create(visitor)
        await visitor.get(page)
        made = await visitor.post(f"{page}/codes", {"count": "5"})
        assert made.status_code == 303, made.text
        shown = await visitor.get(page)
        assert "已生成优惠码 5 个，可下载 CSV。" in shown.text
        assert '<dd id="coupon-codes">6</dd>' in shown.text

        download = await visitor.get(f"{page}/codes.csv")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        assert 'filename="coupon-NEW10-codes.csv"' in download.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(download.text)))
        assert rows[0] == ["code", "max_uses", "used"]
        assert rows[1] == ["NEW10", "", "0"]  # its own code first
        generated = rows[2:]
        assert len(generated) == 5 and len({code for code, _, _ in generated}) == 5
        assert all(re.fullmatch(r"NEW10-[2-9A-HJKMNP-Z]{10}", code) for code, _, _ in generated)
        assert all((max_uses, used) == ("1", "0") for _, max_uses, used in generated)

        for count, field_error in (("0", "至少为 1"), ("", "必填"), ("ten", "必须是整数")):
            refused = await visitor.post(f"{page}/codes", {"count": count})
            assert refused.status_code == 422, refused.text
            assert _field_error(refused.text, "count") == field_error
        assert await _count(db, CouponCode) == 6
        assert (await visitor.get("/coupons/999999/codes.csv")).status_code == 404


async def test_a_sales_user_reads_coupons_without_the_forms_and_posting_is_refused(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as writer:
        page = await _create(writer)
    async with await signed_in(visit, db, "sales") as visitor:
        listed = await visitor.get("/coupons")
        assert listed.status_code == 200
        assert 'id="coupon-NEW10"' in listed.text
        assert 'id="coupon-form"' not in listed.text
        detail = await visitor.get(page)
        assert detail.status_code == 200
        assert 'id="codes-form"' not in detail.text and 'id="codes-csv"' in detail.text
        assert (await visitor.post("/coupons", {**FORM, "code": "SALES5"})).status_code == 403
        assert (await visitor.post(f"{page}/codes", {"count": "5"})).status_code == 403
    async with await signed_in(visit, db, "warehouse") as visitor:  # no coupons.read
        assert (await visitor.get("/coupons")).status_code == 403
        assert 'href="/coupons"' not in (await visitor.get("/orders")).text
    assert await _count(db, Coupon) == 1
    assert await _count(db, CouponCode) == 1


async def test_the_uses_table_shows_the_order_and_marks_a_released_use(db: Database, visit: Visitors) -> None:
    await small_store(db)
    ops, sales = await bearer(db, "operations"), await bearer(db, "sales")
    async with await signed_in(visit, db, "operations") as visitor:
        page = await _create(visitor, starts_on="", ends_on="")
        api = visitor.client
        placed = await api.post(
            "/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")], coupons=["new10"]), headers=sales
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()

        zh = await visitor.get(page)
        row = next(r for r in re.findall(r'<tr id="use-\d+"[^>]*>.*?</tr>', zh.text, re.S))
        assert f'<a href="/orders/{order["id"]}">{order["order_no"]}</a>' in row
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        assert cells[1:3] == ["NEW10", "¥10.00"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", cells[3]) and cells[4] == "—"
        assert '<dd id="coupon-used">1 / 50</dd>' in zh.text

        cancelled = await api.post(
            f"/api/v1/orders/{order['id']}/cancel", json={"reason": "changed mind"}, headers=ops
        )
        assert cancelled.status_code == 200, cancelled.text
        zh = await visitor.get(page)
        assert 'class="released"' in zh.text and "已释放" in zh.text
        assert '<dd id="coupon-used">0 / 50</dd>' in zh.text
        await visitor.post("/language", {"locale": "en", "next": page})
        en = await visitor.get(page)
        assert '<span class="badge s-released">released</span>' in en.text
        assert f'href="/orders/{order["id"]}"' in en.text
