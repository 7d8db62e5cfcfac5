"""The catalog pages (CAT-1, CAT-2) of the console over HTTP: the SKU list with its search and
filters, a SKU's price change with its history and audit, new products with their SKUs, and who may
see and do what (the receipts ledger's entry included, PAY-5)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from shopflow.catalog import service as catalog
from shopflow.catalog.models import Category, PriceBand, PriceChange, Product, Sku
from shopflow.catalog.schemas import ProductIn, SkuPatch
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.catalog import sku_in
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.builders.payments import paid_order
from tests.builders.rows import audit_rows
from tests.builders.store import small_store

PAID_AT = datetime(2030, 6, 3, 2, 30, tzinfo=UTC)  # 10:30 on 3 June in Shanghai


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


def _listed(html: str) -> list[str]:
    return re.findall(r'<tr id="sku-([^"]+)">', html)


async def _count(db: Database, model: object, *where: object) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


async def _sku(db: Database, code: str) -> Sku:
    async with db.transaction() as session:
        return await catalog.get_sku(session, code)


async def _seasonal(db: Database) -> None:
    """A second product: a traffic-band SKU TEA-1 and an image-band SKU TEA-2 no longer sold."""
    async with db.transaction() as session:
        skus = [sku_in("TEA-1", 1990, PriceBand.TRAFFIC), sku_in("TEA-2", 26800, PriceBand.IMAGE)]
        await catalog.create_product(session, SYSTEM, ProductIn(name="明前龙井", skus=skus))
        await catalog.update_sku(session, SYSTEM, "TEA-2", SkuPatch(sellable=False))


async def test_catalog_and_receipt_pages_show_in_chinese_and_english(db: Database, visit: Visitors) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "manager") as visitor:
        order = await paid_order(
            visitor.client, await bearer(db), [("SKU-1", 1, "99.00")], at=PAID_AT, method="wechat"
        )
        pages = {
            "/catalog": ("价格带", "Price band", "SKU-1", "/catalog"),
            "/catalog/SKU-2": ("调价记录", "Price history", "¥45.50", "/catalog"),
            "/catalog/new": ("创建商品", "Create product", 'name="skus[2].code"', "/catalog"),
            "/payments/receipts": (
                "收款台账",
                "Receipts ledger",
                f'href="/orders/{order["id"]}"',
                "/payments/receipts",
            ),
        }
        nav = {"/catalog": ("商品", "Catalog"), "/payments/receipts": ("收款", "Receipts")}
        for path, (chinese, _, shown, active) in pages.items():
            reply = await visitor.get(path)
            assert reply.status_code == 200, (path, reply.text)
            assert chinese in reply.text and shown in reply.text, path
            assert f'<a href="{active}" class="active">{nav[active][0]}</a>' in reply.text, path
        await visitor.post("/language", {"locale": "en", "next": "/catalog"})
        for path, (_, english, shown, active) in pages.items():
            reply = await visitor.get(path)
            assert reply.status_code == 200, (path, reply.text)
            assert english in reply.text and shown in reply.text, path
            assert f'<a href="{active}" class="active">{nav[active][1]}</a>' in reply.text, path
            assert all(chinese not in reply.text for chinese, _, _, _ in pages.values()), path


async def test_the_sku_list_finds_by_code_or_name_and_filters_by_band_and_sellable(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)  # SKU-1..3, profit band, sellable; available SKU-1 15, SKU-2 20, SKU-3 30
    await _seasonal(db)
    async with await signed_in(visit, db, "sales") as visitor:
        everything = (await visitor.get("/catalog")).text
        assert _listed(everything) == ["SKU-1", "SKU-2", "SKU-3", "TEA-1", "TEA-2"]
        row = table_row(everything, "sku-SKU-1")
        assert re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) == [
            '<a href="/catalog/SKU-1">SKU-1</a>',
            "商品 SKU-1",
            "测试商品",
            "—",  # no category
            "¥99.00",
            "¥49.50",
            "利润款",
            "是",
            '<a href="/inventory/skus/SKU-1">15</a>',
        ]
        assert '<td class="sellable">否</td>' in table_row(everything, "sku-TEA-2")

        assert _listed((await visitor.get("/catalog?q=sku-2")).text) == ["SKU-2"]
        by_product = (await visitor.get("/catalog?q=龙井")).text  # the product's name
        assert _listed(by_product) == ["TEA-1", "TEA-2"]
        assert _listed((await visitor.get("/catalog?q=商品 SKU-3")).text) == ["SKU-3"]
        assert _listed((await visitor.get("/catalog?band=traffic")).text) == ["TEA-1"]
        assert _listed((await visitor.get("/catalog?sellable=no")).text) == ["TEA-2"]
        assert _listed((await visitor.get("/catalog?q=TEA&sellable=yes")).text) == ["TEA-1"]
        none = (await visitor.get("/catalog?q=nothing-like-this")).text
        assert _listed(none) == [] and "没有符合条件的 SKU。" in none
        filtered = (await visitor.get("/catalog?band=image")).text
        assert '<option value="image" selected>形象款</option>' in filtered


async def test_a_price_change_by_the_form_is_recorded_audited_and_shown_on_the_sku(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        page = await visitor.get("/catalog/SKU-1")
        assert 'id="price-form"' in page.text and "价格尚未调整过。" in page.text

        changed = await visitor.post("/catalog/SKU-1/price", {"price": "1234.50", "reason": "双11 调价"})

        assert (changed.status_code, changed.headers["location"]) == (303, "/catalog/SKU-1")
        assert (await _sku(db, "SKU-1")).price == 123450
        async with db.transaction() as session:
            [record] = (await session.scalars(select(PriceChange))).all()
        assert (record.old_price, record.new_price, record.reason) == (9900, 123450, "双11 调价")
        [audited] = await audit_rows(db, "sku", "SKU-1")
        assert (audited.action, audited.before, audited.after) == (
            "sku.updated",
            {"price": 9900},
            {"price": 123450},
        )
        assert audited.actor_name.startswith("operations-") and audited.actor_id == record.changed_by

        detail = (await visitor.get("/catalog/SKU-1")).text
        assert "SKU-1 的价格已调整为 ¥1,234.50（原为 ¥99.00）。" in detail
        assert '<dd id="sku-price">¥1,234.50</dd>' in detail
        history = re.search(r'<table id="price-history">.*?</table>', detail, re.S)
        assert history is not None
        cells = re.findall(r"<td[^>]*>(.*?)</td>", history[0])
        assert cells[1:] == [audited.actor_name, "¥99.00", "¥1,234.50", "双11 调价"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cells[0])
        trail = detail[detail.index("审计记录") :]  # the audit trail, in words
        assert "修改 SKU" in trail and "创建商品" in trail
        assert "<dt>价格</dt><dd>¥99.00 → ¥1,234.50</dd>" in trail
        assert "sku.updated" not in trail and "[" not in trail

        await visitor.post("/catalog/SKU-1/price", {"price": "1234.5"})
        assert "SKU-1 的价格保持 ¥1,234.50 不变。" in (await visitor.get("/catalog/SKU-1")).text
        assert await _count(db, PriceChange) == 1  # the same price is no price change
        assert len(await audit_rows(db, "sku", "SKU-1")) == 1  # and nothing to audit


async def test_a_bad_price_is_named_at_its_field_keeps_what_was_typed_and_changes_nothing(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "manager") as visitor:
        await visitor.get("/catalog/SKU-2")
        cases = {
            "abc": "abc 不是金额",
            "-5": "不能为负数",
            "1.234": "最多两位小数",
            "": "必填",
        }
        for typed, error in cases.items():
            reply = await visitor.post("/catalog/SKU-2/price", {"price": typed, "reason": "试一下"})
            assert reply.status_code == 422, (typed, reply.text)
            assert f'<div class="field-error" id="error-price">{error}</div>' in reply.text, typed
            assert f'name="price" value="{typed}"' in reply.text and 'value="试一下"' in reply.text
            assert "表单有错误，未做任何更改。" in reply.text
            assert '<dd id="sku-price">¥45.50</dd>' in reply.text
        assert (await _sku(db, "SKU-2")).price == 4550
        assert await _count(db, PriceChange) == 0
        assert await audit_rows(db, "sku", "SKU-2") == []
        assert (await visitor.post("/catalog/NOPE/price", {"price": "1.00"})).status_code == 404


def _product_form(rows: dict[int, dict[str, str]], name: str = "秋冬围巾") -> dict[str, str]:
    form = {"name": name, "description": "羊毛"}
    for row, fields in rows.items():
        form.update({f"skus[{row}].{field}": value for field, value in fields.items()})
    return form


def _sku_row(code: str, price: str = "129.00", band: str = "profit") -> dict[str, str]:
    return {
        "code": code,
        "name": f"围巾 {code}",
        "price": price,
        "cost": "40.00",
        "weight_g": "200",
        "price_band": band,
    }


async def test_a_new_product_with_a_taken_or_bad_sku_row_names_that_row_and_stores_nothing(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        assert 'id="product-form"' in (await visitor.get("/catalog/new")).text
        products, skus = await _count(db, Product), await _count(db, Sku)

        # Row 1 left empty: errors name the form's own rows, whatever the service numbers them.
        taken = _product_form({0: _sku_row("SCARF-1"), 2: _sku_row("SKU-1")})
        reply = await visitor.post("/catalog/products", taken)
        assert reply.status_code == 409
        assert '<div class="field-error" id="error-skus[2].code">SKU-1 已存在</div>' in reply.text
        assert "error-skus[0]" not in reply.text and "商品有错误，未保存任何内容。" in reply.text
        for value in ("秋冬围巾", "羊毛", "SCARF-1", "围巾 SKU-1", "129.00"):
            assert f'value="{value}"' in reply.text, value

        twice = await visitor.post(
            "/catalog/products", _product_form({0: _sku_row("SCARF-1"), 1: _sku_row("SCARF-1")})
        )
        assert twice.status_code == 422
        assert twice.text.count("在本表单中重复") == 2 and 'id="error-skus[1].code"' in twice.text

        bad = _product_form({0: _sku_row("SCARF-1"), 1: {**_sku_row("SCARF-2", "12,00"), "weight_g": ""}})
        wrong = await visitor.post("/catalog/products", bad)
        assert wrong.status_code == 422
        assert 'id="error-skus[1].price">12,00 不是金额<' in wrong.text
        assert 'id="error-skus[1].weight_g">必填<' in wrong.text
        assert 'value="12,00"' in wrong.text

        nothing = await visitor.post("/catalog/products", _product_form({}, name=""))
        assert nothing.status_code == 422
        assert 'id="error-name">必填<' in nothing.text and 'id="error-skus">请至少填写一行<' in nothing.text
        assert (await _count(db, Product), await _count(db, Sku)) == (products, skus)


async def test_a_new_product_is_created_with_its_skus_and_audited(db: Database, visit: Visitors) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "manager") as visitor:
        await visitor.get("/catalog/new")
        form = _product_form(
            {0: _sku_row("SCARF-1"), 2: {**_sku_row("SCARF-2", "9.90", "traffic"), "barcode": "690123"}}
        )
        made = await visitor.post("/catalog/products", form)

        assert made.status_code == 303
        listed = await visitor.get(made.headers["location"])
        assert "商品 秋冬围巾 已创建，共 2 个 SKU。" in listed.text
        assert _listed(listed.text) == ["SCARF-1", "SCARF-2"]
        scarf_row = table_row(listed.text, "sku-SCARF-2")
        assert "¥9.90" in scarf_row and "引流款" in scarf_row
        scarf = await _sku(db, "SCARF-2")
        assert (scarf.price, scarf.cost, scarf.weight_g, scarf.barcode, scarf.price_band, scarf.sellable) == (
            990,
            4000,
            200,
            "690123",
            "traffic",
            True,
        )
        [created] = await audit_rows(db, "product", scarf.product_id)
        assert created.action == "product.created"
        assert created.after == {"name": "秋冬围巾", "skus": ["SCARF-1", "SCARF-2"], "status": "published"}
        assert created.actor_name.startswith("manager-")


async def test_a_new_product_is_filed_under_the_category_path_typed(db: Database, visit: Visitors) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "manager") as visitor:
        await visitor.get("/catalog/new")
        form = _product_form({0: _sku_row("SCARF-1")})
        made = await visitor.post("/catalog/products", {**form, "category": " 服饰 / 围巾 "})

        assert made.status_code == 303
        scarf = await _sku(db, "SCARF-1")
        async with db.transaction() as session:
            product = await session.get(Product, scarf.product_id)
            assert product is not None and product.category_id is not None
            sub = await session.get(Category, product.category_id)
            assert sub is not None and sub.name == "围巾" and sub.parent_id is not None
            top = await session.get(Category, sub.parent_id)
            assert top is not None and (top.name, top.parent_id) == ("服饰", None)


async def test_a_products_category_is_shown_on_its_skus_and_changed_on_the_sku_page_audited(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    product_id = (await _sku(db, "SKU-1")).product_id
    async with await signed_in(visit, db, "operations") as visitor:
        assert "—" in table_row((await visitor.get("/catalog")).text, "sku-SKU-1")  # none yet
        page = (await visitor.get("/catalog/SKU-1")).text
        assert '<dd id="sku-category">—</dd>' in page and 'id="category-form"' in page

        moved = await visitor.post("/catalog/SKU-1/category", {"category": " 家居 / 杯具 "})
        assert moved.status_code == 303 and moved.headers["location"] == "/catalog/SKU-1"
        page = (await visitor.get("/catalog/SKU-2")).text  # the product's other SKU
        assert '<dd id="sku-category">家居 / 杯具</dd>' in page and "已归入" in page
        assert "家居 / 杯具" in table_row((await visitor.get("/catalog")).text, "sku-SKU-3")
        # The same path again changes nothing and records nothing; a path too deep is refused.
        await visitor.post("/catalog/SKU-1/category", {"category": "家居/杯具"})
        deep = await visitor.post("/catalog/SKU-1/category", {"category": "家居 / 杯具 / 马克杯"})
        assert deep.status_code == 422 and "至多" in deep.text and 'value="家居 / 杯具 / 马克杯"' in deep.text
        await visitor.post("/language", {"locale": "en", "next": "/catalog/SKU-1"})
        english = (await visitor.get("/catalog/SKU-1")).text
        assert "Change the category" in english and "Product changed" in english
        cleared = await visitor.post("/catalog/SKU-1/category", {"category": ""})
        assert cleared.status_code == 303

    async with db.transaction() as session:
        product = await session.get(Product, product_id)
        assert product is not None and product.category_id is None
    changed = [row for row in await audit_rows(db, "product", product_id) if row.action == "product.updated"]
    assert [(row.before, row.after) for row in changed] == [
        ({"category": None}, {"category": "家居 / 杯具"}),
        ({"category": "家居 / 杯具"}, {"category": None}),
    ]
    assert changed[0].actor_name.startswith("operations-")


@pytest.mark.parametrize("role", ["warehouse", "sales"])
async def test_a_role_without_the_permission_sees_no_entry_and_is_refused_403(
    db: Database, visit: Visitors, role: str
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, role) as visitor:
        listing = (await visitor.get("/catalog")).text  # everyone may read the catalog
        assert 'href="/payments/receipts"' not in listing and 'href="/catalog/new"' not in listing
        assert '<a href="/catalog" class="active">商品</a>' in listing
        detail = (await visitor.get("/catalog/SKU-1")).text
        assert 'id="price-form"' not in detail and 'id="category-form"' not in detail
        assert (await visitor.post("/catalog/SKU-1/category", {"category": "家居"})).status_code == 403
        assert (await visitor.get("/payments/receipts")).status_code == 403
        assert (await visitor.get("/catalog/new")).status_code == 403
        refused = await visitor.post("/catalog/SKU-1/price", {"price": "1.00"})
        assert refused.status_code == 403 and "无权" in refused.text
        created = await visitor.post("/catalog/products", _product_form({0: _sku_row("SCARF-1")}))
        assert created.status_code == 403
    assert (await _sku(db, "SKU-1")).price == 9900
    assert await _count(db, Sku, Sku.code == "SCARF-1") == 0
