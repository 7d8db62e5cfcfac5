"""The knowledge-base console (zh_CN by default, en): the list with its live search, the editor."""

from __future__ import annotations

import re

import pytest

from shopflow.core.db import Database
from shopflow.kb import service
from tests.builders.console import Visitors, signed_in, visitors


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def seeded(db: Database) -> None:
    async with db.transaction() as session:
        await service.seed_articles(session)


async def test_the_list_searches_as_one_types_in_chinese_and_english(db: Database, visit: Visitors) -> None:
    await seeded(db)
    async with await signed_in(visit, db, "warehouse") as reader:
        page = (await reader.get("/kb")).text
        typed = await reader.get("/kb?q=运费", headers={"HX-Request": "true"})
        nothing = await reader.get("/kb?q=zzzz", headers={"HX-Request": "true"})
        await reader.post("/language", {"locale": "en"})
        english = (await reader.get("/kb?q=refunds&language=en")).text

    assert "<h1>知识库</h1>" in page and 'id="kb-q"' in page
    assert 'id="new-article"' not in page  # a reader may not write
    assert typed.text.lstrip().startswith('<div class="card" id="kb-results">')  # the results only
    first = re.search(r'<tr id="article-\d+">\s*<td><a href="/kb/\d+">([^<]+)</a>', typed.text)
    assert first is not None and first[1] == "退货运费谁承担"
    assert "没有与“zzzz”匹配的文章" in nothing.text
    assert "How long do refunds take" in english and "Knowledge base" in english


async def test_an_agent_adds_and_edits_an_article_and_bad_input_is_named(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "customer_service") as agent:
        form = (await agent.get("/kb/new")).text
        refused = await agent.post(
            "/kb/new",
            {"title": "", "body": "正文", "kind": "faq", "language": "zh_CN", "category": "misc", "tags": ""},
        )
        added = await agent.post(
            "/kb/new",
            {
                "title": "发票抬头修改",
                "body": "开票前可修改抬头。",
                "kind": "faq",
                "language": "zh_CN",
                "category": "invoices",
                "tags": "发票，抬头",
            },
        )
        address = added.headers["location"]
        edited = await agent.post(
            address,
            {
                "title": "发票抬头如何修改",
                "body": "开票前可修改抬头。",
                "kind": "faq",
                "language": "zh_CN",
                "category": "invoices",
                "tags": "发票",
            },
        )
        shown = (await agent.get(address)).text

    assert 'id="article-form"' in form
    assert refused.status_code == 422 and 'id="error-title"' in refused.text
    assert added.status_code == 303 and re.fullmatch(r"/kb/\d+", address)
    assert edited.status_code == 303
    assert "发票抬头如何修改" in shown and "文章已保存" in shown
    assert "编辑了文章" in shown and "新建了文章" in shown  # the timeline


async def test_a_reader_cannot_open_the_editor_or_post(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "finance") as reader:
        form = await reader.get("/kb/new")
        posted = await reader.post("/kb/new", {"title": "x"})

    assert form.status_code == 403
    assert posted.status_code == 403


async def test_an_unknown_or_impossible_article_is_a_page_not_an_error(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "sales") as reader:
        unknown = await reader.get("/kb/999999")
        impossible = await reader.get(f"/kb/{2**70}")

    assert unknown.status_code == 404
    assert impossible.status_code in (404, 422)
