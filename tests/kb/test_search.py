"""Knowledge-base search (SVC-4): Chinese found by two-character words and single characters,
English by stemmed words, ranked best first, the same on SQLite and PostgreSQL; edits re-index."""

from __future__ import annotations

import pytest

from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.kb import service, terms
from shopflow.kb.models import Article
from shopflow.kb.schemas import ArticleIn, ArticlePatch

RETURN_SHIPPING = "退货运费谁承担"


async def search(db: Database, text: str, kind: str | None = None, language: str | None = None) -> list[str]:
    async with db.transaction() as session:
        await service.seed_articles(session)  # stored by the migration; again if a test emptied the table
        found, total = await service.search(session, text, kind, language, 1, 50)
        assert total == len(found)
        return [a.title for a in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("qwertz shipped boxes", ["qwertz", "ship", "box"]),
        ("Refunds", ["refund"]),
        ("refunded", ["refund"]),
        ("deliveries", ["delivery"]),
        ("How long do refunds take?", ["long", "refund", "take"]),
        ("运费", ["运费"]),
        ("退货运费", ["退货", "货运", "运费"]),
        ("货", ["货"]),
        ("退款 refund", ["refund", "退款"]),
        ("，。!?", []),
    ],
)
def test_what_a_query_looks_for(text: str, expected: list[str]) -> None:
    assert terms.query(text) == expected


def test_an_article_is_indexed_by_every_two_character_window_and_character() -> None:
    weights = terms.weights(RETURN_SHIPPING, "运费由商家承担。", [], "returns")

    assert {"退货", "货运", "运费", "费谁", "谁承", "承担", "退", "运", "return"} <= weights.keys()
    assert weights["运费"] > weights["商家"]  # the title weighs more than the body
    assert weights["运费"] > weights["运"]  # a window more than one character


async def test_two_character_chinese_words_find_the_article(db: Database) -> None:
    assert (await search(db, "运费"))[0] == RETURN_SHIPPING
    assert RETURN_SHIPPING in await search(db, "退货")
    assert (await search(db, "退货运费"))[0] == RETURN_SHIPPING  # all three of its windows match
    assert (await search(db, "发票怎么开"))[0] == "如何开具发票"


async def test_a_one_character_query_finds_the_articles_holding_it(db: Database) -> None:
    found = await search(db, "票")

    assert found and found[0] == "如何开具发票"


async def test_an_english_word_finds_its_other_forms(db: Database) -> None:
    assert (await search(db, "refund"))[0] == "How long do refunds take"  # in its title
    assert "Who pays for return shipping" in await search(db, "refund")  # in its body only: after
    assert (await search(db, "invoices"))[0] == "How do I get an invoice"
    assert await search(db, "the of and") == []  # common words alone look for nothing


async def test_kind_and_language_narrow_the_search(db: Database) -> None:
    assert (await search(db, "arrive", language="en"))[0] == "When will my order ship and arrive"
    assert await search(db, "arrive", language="zh_CN") == []
    assert "退款多久到账" in await search(db, "refund", language="zh_CN")  # its category, refunds
    scripts = await search(db, "订单", kind="script", language="zh_CN")
    assert scripts and all(title.startswith(("致歉", "差评", "索要")) for title in scripts)


async def test_more_terms_matched_rank_first_then_heavier_ones(db: Database) -> None:
    async with db.transaction() as session:
        body_only = await service.create(
            session,
            SYSTEM,
            ArticleIn(
                title="包装说明",
                body="运费险包含在内，破损可退货。",
                kind="faq",
                category="zz",
                language="zh_CN",
            ),
        )
        both = await service.create(
            session,
            SYSTEM,
            ArticleIn(
                title="运费险理赔", body="退货时运费险自动理赔。", kind="faq", category="zz", language="zh_CN"
            ),
        )
        found, _ = await service.search(session, "运费险", None, "zh_CN", 1, 10)

    titles = [a.title for a in found]
    assert titles.index(both.title) < titles.index(body_only.title)


async def test_an_edit_reindexes_the_article(db: Database) -> None:
    async with db.transaction() as session:
        article = await service.create(
            session,
            SYSTEM,
            ArticleIn(title="Gift wrapping", body="We wrap gifts.", kind="faq", category="zz", language="en"),
        )
        await service.update(
            session, SYSTEM, article.id, ArticlePatch(title="Gift tokens", body="Tokens never expire.")
        )
        by_new, _ = await service.search(session, "token", None, None, 1, 10)
        by_old, _ = await service.search(session, "wrapping", None, None, 1, 10)

    assert [a.id for a in by_new] == [article.id]
    assert by_old == []


def test_a_script_is_filled_with_the_customers_name_and_order_number() -> None:
    article = Article(body="${name}您好，订单${order_no}已加急；$5 优惠券另计。")

    assert (
        service.render_script(article, "张三", "SO-2026-0001")
        == "张三您好，订单SO-2026-0001已加急；$5 优惠券另计。"
    )
