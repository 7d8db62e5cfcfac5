"""A product's listing on the console (CAT-4): its banned words highlighted at their place in zh
and en with a table of field, word and position; operations may publish only a clean listing, a
manager may publish one with banned words given a reason (audited); a draft edited clean is
published; a published listing is refused a banned word at its field and keeps its text."""

from __future__ import annotations

import re

import pytest

from shopflow.catalog import service as catalog
from shopflow.catalog.models import ListingStatus, Product
from shopflow.catalog.schemas import ProductIn
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from tests.builders.catalog import sku_in
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.builders.rows import audit_rows

NAME, DESCRIPTION = "最好的保温杯", "国家级工艺, the best cup"
# Every hit of the listing above: (field, word, position).
HITS = [("name", "最", 0), ("description", "国家级", 0), ("description", "best", 11)]


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _product(db: Database, name: str = NAME, description: str = DESCRIPTION) -> int:
    """A product with SKUs CUP-1 and CUP-2 (a draft when its listing uses banned words)."""
    async with db.transaction() as session:
        skus = [sku_in("CUP-1"), sku_in("CUP-2", 12900)]
        product = await catalog.create_product(
            session, SYSTEM, ProductIn(name=name, description=description, skus=skus)
        )
        return product.id


async def _stored(db: Database, product_id: int) -> Product:
    async with db.transaction() as session:
        product = await session.get(Product, product_id)
        assert product is not None
        return product


def _cells(html: str, row_id: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", table_row(html, row_id), re.S)


def _dd(html: str, dd_id: str) -> str:
    found = re.search(rf'<dd id="{dd_id}">(.*?)</dd>', html, re.S)
    assert found is not None, f"no {dd_id}"
    return found[1]


def _mark(word: str, title: str) -> str:
    return f'<mark class="banned" title="{title}">{word}</mark>'


async def test_a_drafts_banned_words_are_highlighted_and_listed_in_chinese_and_english(
    db: Database, visit: Visitors
) -> None:
    product_id = await _product(db)
    page_path = f"/catalog/products/{product_id}"
    async with await signed_in(visit, db, "sales") as visitor:  # catalog.read only
        zh = await visitor.get(page_path)
        assert zh.status_code == 200, zh.text
        assert _dd(zh.text, "listing-name") == _mark("最", "违禁词“最”，位置 0") + "好的保温杯"
        assert _dd(zh.text, "listing-description") == (
            _mark("国家级", "违禁词“国家级”，位置 0")
            + "工艺, the "
            + _mark("best", "违禁词“best”，位置 11")
            + " cup"
        )
        assert zh.text.count('<mark class="banned"') == 3
        assert 'id="listing-hits"' in zh.text
        fields = {"name": "商品名称", "description": "描述"}
        for field, word, position in HITS:
            assert _cells(zh.text, f"hit-{field}-{position}") == [fields[field], word, str(position)]
        assert '<span class="badge s-draft">草稿</span>' in zh.text
        assert _dd(zh.text, "listing-published-at") == "—"
        assert 'href="/catalog/CUP-1"' in zh.text and 'href="/catalog/CUP-2"' in zh.text
        # Reading is not changing: no edit or publish form for sales.
        assert 'id="listing-form"' not in zh.text and 'id="publish-form"' not in zh.text

        # The SKU page links to the listing with its status; the list marks a draft's SKUs.
        sku_page = (await visitor.get("/catalog/CUP-1")).text
        assert f'<a href="{page_path}">{NAME}</a> <span class="badge s-draft">草稿</span>' in sku_page
        listed = (await visitor.get("/catalog")).text
        assert '<span class="badge s-draft">草稿</span>' in table_row(listed, "sku-CUP-2")

        await visitor.post("/language", {"locale": "en", "next": page_path})
        en = (await visitor.get(page_path)).text
        assert _dd(en, "listing-name") == _mark("最", "banned word “最” at position 0") + "好的保温杯"
        assert _mark("best", "banned word “best” at position 11") in _dd(en, "listing-description")
        fields = {"name": "Product name", "description": "Description"}
        for field, word, position in HITS:
            assert _cells(en, f"hit-{field}-{position}") == [fields[field], word, str(position)]
        assert '<span class="badge s-draft">draft</span>' in en and "Banned words" in en
        assert all(chinese not in en for chinese in ("违禁词", "草稿", "位置", "商品名称"))
        listed = (await visitor.get("/catalog")).text
        assert '<span class="badge s-draft">draft</span>' in table_row(listed, "sku-CUP-1")

        assert (await visitor.get("/catalog/products/999999")).status_code == 404
        assert "没有商品" not in (await visitor.get("/catalog/products/999999")).text  # in English
        assert (await visitor.get(f"/catalog/products/{2**63}")).status_code == 422


async def test_operations_is_refused_publishing_banned_words_with_each_word_named(
    db: Database, visit: Visitors
) -> None:
    product_id = await _product(db)
    page_path = f"/catalog/products/{product_id}"
    async with await signed_in(visit, db, "operations") as visitor:
        page = (await visitor.get(page_path)).text
        assert 'id="publish-form"' in page and 'id="listing-form"' in page
        assert 'name="reason"' not in page and "请经理填写理由后上架" in page

        refused = await visitor.post(f"{page_path}/publish")
        assert refused.status_code == 422
        refusal = re.search(
            r'<div class="refusal" role="alert" id="publish-refusal">(.*?)</div>', refused.text
        )
        assert refusal is not None
        assert refusal[1].startswith("该商品含有违禁词，未能上架")
        assert 'href="/catalog/CUP-1"' in refused.text  # the page as before, its SKUs too
        for _, word, position in HITS:
            assert f"违禁词“{word}”，位置 {position}" in refusal[1]

        # A reason slipped into the form does not make operations a manager.
        forbidden = await visitor.post(f"{page_path}/publish", {"reason": "老客户要求"})
        assert forbidden.status_code == 403
        assert "您的角色（运营）无权执行此操作。" in forbidden.text and 'id="publish-form"' in forbidden.text

    stored = await _stored(db, product_id)
    assert (stored.status, stored.published_at, stored.override_reason) == (ListingStatus.DRAFT, None, None)
    assert [row.action for row in await audit_rows(db, "product", product_id)] == ["product.created"]


async def test_a_manager_publishes_banned_words_with_a_reason_shown_and_audited(
    db: Database, visit: Visitors
) -> None:
    product_id = await _product(db)
    page_path = f"/catalog/products/{product_id}"
    async with await signed_in(visit, db, "manager") as visitor:
        page = (await visitor.get(page_path)).text
        assert 'name="reason"' in page and "含违禁词仍上架的理由" in page

        without = await visitor.post(f"{page_path}/publish", {"reason": "  "})
        assert without.status_code == 422 and "违禁词“国家级”，位置 0" in without.text

        published = await visitor.post(f"{page_path}/publish", {"reason": "品牌方授权的宣传语"})
        assert (published.status_code, published.headers["location"]) == (303, page_path)
        page = (await visitor.get(page_path)).text
        assert f"{NAME} 已上架，其 SKU 现可销售。" in page
        assert '<span class="badge s-published">已上架</span>' in page
        assert _dd(page, "listing-reason") == "品牌方授权的宣传语"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", _dd(page, "listing-published-at"))
        assert 'id="publish-form"' not in page  # published: nothing left to publish
        assert page.count('<mark class="banned"') == 3  # still highlighted, for the record
        trail = page[page.index('id="audit-trail"') :]
        assert "商品上架" in trail and "草稿 → 已上架" in trail and "品牌方授权的宣传语" in trail

        await visitor.post("/language", {"locale": "en", "next": page_path})
        english = (await visitor.get(page_path)).text
        assert '<span class="badge s-published">published</span>' in english
        assert "Listing published" in english and "draft → published" in english

    stored = await _stored(db, product_id)
    assert (stored.status, stored.override_reason) == (ListingStatus.PUBLISHED, "品牌方授权的宣传语")
    assert stored.published_at is not None
    created, published_row = await audit_rows(db, "product", product_id)
    assert (created.action, published_row.action) == ("product.created", "product.published")
    assert published_row.before == {"status": "draft"}
    assert published_row.after == {
        "status": "published",
        "reason": "品牌方授权的宣传语",
        "hits": [{"field": f, "word": w, "position": p} for f, w, p in HITS],
    }
    assert published_row.actor_name.startswith("manager-")


async def test_a_draft_edited_clean_is_published_by_operations(db: Database, visit: Visitors) -> None:
    product_id = await _product(db)
    page_path = f"/catalog/products/{product_id}"
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get(page_path)
        edited = await visitor.post(
            f"{page_path}/edit", {"name": "真空保温杯", "description": "双层工艺, a fine cup"}
        )
        assert (edited.status_code, edited.headers["location"]) == (303, page_path)
        page = (await visitor.get(page_path)).text
        assert "商品 真空保温杯 的信息已修改。" in page
        assert '<mark class="banned"' not in page and 'id="listing-hits"' not in page
        assert "标题和描述未使用违禁词。" in page and "上架后，其 SKU 即可销售。" in page

        nameless = await visitor.post(f"{page_path}/edit", {"name": " ", "description": "双层工艺"})
        assert nameless.status_code == 422 and 'id="error-name">必填<' in nameless.text
        assert (await visitor.post("/catalog/products/999999/edit", {"name": "杯"})).status_code == 404
        assert (await visitor.post("/catalog/products/999999/publish")).status_code == 404

        unchanged = await visitor.post(
            f"{page_path}/edit", {"name": "真空保温杯", "description": "双层工艺, a fine cup"}
        )
        assert unchanged.status_code == 303 and "未做任何更改。" in (await visitor.get(page_path)).text

        published = await visitor.post(f"{page_path}/publish")
        assert (published.status_code, published.headers["location"]) == (303, page_path)
        page = (await visitor.get(page_path)).text
        assert '<span class="badge s-published">已上架</span>' in page and 'id="listing-reason"' not in page

    stored = await _stored(db, product_id)
    assert (stored.name, stored.description, stored.status) == (
        "真空保温杯",
        "双层工艺, a fine cup",
        ListingStatus.PUBLISHED,
    )
    assert stored.override_reason is None
    rows = await audit_rows(db, "product", product_id)
    assert [row.action for row in rows] == ["product.created", "product.updated", "product.published"]
    assert rows[1].before == {"name": NAME, "description": DESCRIPTION}
    assert rows[1].after == {"name": "真空保温杯", "description": "双层工艺, a fine cup"}
    assert rows[2].after == {"status": "published"}
    assert rows[2].actor_name.startswith("operations-")


async def test_a_published_listing_is_refused_a_banned_word_at_its_field_and_keeps_its_text(
    db: Database, visit: Visitors
) -> None:
    product_id = await _product(db, "保温杯", "真空工艺")
    assert (await _stored(db, product_id)).status == ListingStatus.PUBLISHED
    page_path = f"/catalog/products/{product_id}"
    async with await signed_in(visit, db, "operations") as visitor:
        page = (await visitor.get(page_path)).text
        assert 'id="publish-form"' not in page and 'id="listing-clean"' in page

        refused = await visitor.post(
            f"{page_path}/edit", {"name": "保温杯", "description": "行业第一, 顶级真空工艺"}
        )
        assert refused.status_code == 422
        assert (
            '<div class="field-error" id="error-description">违禁词“第一”，位置 2; 违禁词“顶级”，位置 6</div>'
            in refused.text
        )
        assert 'id="error-name"' not in refused.text
        assert "该商品已上架，不得使用违禁词。未做任何更改。" in refused.text
        assert ">行业第一, 顶级真空工艺</textarea>" in refused.text  # as typed
        assert _dd(refused.text, "listing-description") == "真空工艺"  # as stored
        assert _cells(refused.text, "sku-CUP-2")[0] == '<a href="/catalog/CUP-2">CUP-2</a>'

        await visitor.post("/language", {"locale": "en", "next": page_path})
        english = await visitor.post(f"{page_path}/edit", {"name": "The best cup", "description": "真空工艺"})
        assert english.status_code == 422
        assert 'id="error-name">banned word “best” at position 4</div>' in english.text

    stored = await _stored(db, product_id)
    assert (stored.name, stored.description, stored.status) == ("保温杯", "真空工艺", ListingStatus.PUBLISHED)
    assert [row.action for row in await audit_rows(db, "product", product_id)] == ["product.created"]


async def test_a_product_created_on_the_console_with_banned_words_opens_as_a_draft(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/catalog/new")
        form = {
            "name": "第一好杯",
            "skus[0].code": "MUG-1",
            "skus[0].name": "马克杯",
            "skus[0].price": "39.00",
            "skus[0].cost": "12.00",
            "skus[0].weight_g": "300",
            "skus[0].price_band": "traffic",
        }
        made = await visitor.post("/catalog/products", form)
        assert made.status_code == 303 and made.headers["location"].startswith("/catalog/products/")
        page = (await visitor.get(made.headers["location"])).text
        assert "商品 第一好杯 已创建为草稿：其标题或描述含有违禁词。" in page
        assert _dd(page, "listing-name") == _mark("第一", "违禁词“第一”，位置 0") + "好杯"
