"""The knowledge base over HTTP (SVC-4): writing, editing, searching, and bad input named by field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.core import audit
from shopflow.core.db import Database
from shopflow.kb.models import Article
from tests.builders.auth import bearer

ARTICLES = "/api/v1/kb/articles"


def article(**change: Any) -> dict[str, Any]:
    return {
        "title": "包邮规则",
        "body": "订单满99元包邮，不满收取10元运费。",
        "kind": "faq",
        "category": "shipping_rules",
        "tags": ["包邮", "运费"],
        "language": "zh_CN",
    } | change


async def count(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Article)) or 0)


async def test_an_agent_writes_edits_and_finds_an_article(client: httpx.AsyncClient, db: Database) -> None:
    agent = await bearer(db, "customer_service")

    created = await client.post(ARTICLES, json=article(), headers=agent)
    assert created.status_code == 201, created.text
    article_id = created.json()["id"]
    edited = await client.patch(
        f"{ARTICLES}/{article_id}", json={"title": "包邮门槛", "tags": ["包邮"]}, headers=agent
    )
    shown = await client.get(f"{ARTICLES}/{article_id}", headers=await bearer(db, "warehouse"))
    found = await client.get("/api/v1/kb/search", params={"q": "包邮"}, headers=agent)
    listed = await client.get(ARTICLES, params={"category": "shipping_rules"}, headers=agent)

    assert edited.status_code == 200, edited.text
    assert shown.json() | {"created_at": None} == {
        "id": article_id,
        "title": "包邮门槛",
        "body": "订单满99元包邮，不满收取10元运费。",
        "kind": "faq",
        "category": "shipping_rules",
        "tags": ["包邮"],
        "language": "zh_CN",
        "created_at": None,
    }
    assert found.json()["items"][0]["id"] == article_id
    assert [a["id"] for a in listed.json()["items"]] == [article_id]
    assert listed.json()["total"] == 1


async def test_a_second_article_with_the_same_key_is_409_and_an_unknown_one_404(
    client: httpx.AsyncClient, db: Database
) -> None:
    agent = await bearer(db, "cs_supervisor")
    first = (await client.post(ARTICLES, json=article(), headers=agent)).json()
    other = (await client.post(ARTICLES, json=article(title="另一篇"), headers=agent)).json()

    again = await client.post(ARTICLES, json=article(), headers=agent)
    renamed = await client.patch(f"{ARTICLES}/{other['id']}", json={"title": first["title"]}, headers=agent)
    missing = await client.get(f"{ARTICLES}/999999", headers=agent)
    missing_edit = await client.patch(f"{ARTICLES}/999999", json={"title": "x"}, headers=agent)

    assert (again.status_code, again.json()["code"]) == (409, "article_exists")
    assert (renamed.status_code, renamed.json()["code"]) == (409, "article_exists")
    assert (missing.status_code, missing.json()["code"]) == (404, "article_not_found")
    assert missing_edit.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"body": "   "}, "body"),
        ({"kind": "manual"}, "kind"),
        ({"language": "fr"}, "language"),
        ({"category": ""}, "category"),
        ({"tags": [""]}, "tags[0]"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, change: dict[str, Any], field: str
) -> None:
    before = await count(db)
    reply = await client.post(ARTICLES, json=article(**change), headers=await bearer(db, "manager"))

    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert await count(db) == before


async def test_a_bad_edit_or_search_is_422_naming_the_field(client: httpx.AsyncClient, db: Database) -> None:
    agent = await bearer(db, "customer_service")
    created = (await client.post(ARTICLES, json=article(), headers=agent)).json()

    null_title = await client.patch(f"{ARTICLES}/{created['id']}", json={"title": None}, headers=agent)
    bad_kind = await client.patch(f"{ARTICLES}/{created['id']}", json={"kind": "x"}, headers=agent)
    no_query = await client.get("/api/v1/kb/search", headers=agent)
    empty_query = await client.get("/api/v1/kb/search", params={"q": ""}, headers=agent)
    bad_language = await client.get("/api/v1/kb/search", params={"q": "x", "language": "de"}, headers=agent)

    assert [e["field"] for e in null_title.json()["errors"]] == ["title"]
    assert [e["field"] for e in bad_kind.json()["errors"]] == ["kind"]
    for reply, field in ((no_query, "q"), (empty_query, "q"), (bad_language, "language")):
        assert reply.status_code == 422
        assert [e["field"] for e in reply.json()["errors"]] == [field]
    shown = (await client.get(f"{ARTICLES}/{created['id']}", headers=agent)).json()
    assert shown["title"] == created["title"]


async def test_everyone_reads_and_only_service_staff_and_managers_write(
    client: httpx.AsyncClient, db: Database
) -> None:
    for role in ("warehouse", "sales", "finance"):
        refused = await client.post(ARTICLES, json=article(title=role), headers=await bearer(db, role))
        assert refused.status_code == 403
        assert (await client.get(ARTICLES, headers=await bearer(db, role))).status_code == 200


async def test_edits_are_audited_field_by_field(client: httpx.AsyncClient, db: Database) -> None:
    agent = await bearer(db, "customer_service", username="agent-1")
    created = (await client.post(ARTICLES, json=article(), headers=agent)).json()
    await client.patch(
        f"{ARTICLES}/{created['id']}",
        json={"body": "满199包邮。", "title": article()["title"]},
        headers=agent,
    )

    async with db.transaction() as session:
        trail = await audit.trail(session, "kb_article", created["id"])
    assert [(e.action, e.actor_name) for e in trail] == [
        ("kb.article_created", "agent-1"),
        ("kb.article_edited", "agent-1"),
    ]
    assert trail[1].before == {"body": "订单满99元包邮，不满收取10元运费。"}
    assert trail[1].after == {"body": "满199包邮。"}


async def test_the_longest_article_is_stored_and_found(client: httpx.AsyncClient, db: Database) -> None:
    # 20,000 characters with about as many distinct two-character windows: more terms than one
    # INSERT may carry on PostgreSQL.
    body = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(20_000))
    agent = await bearer(db, "customer_service")

    created = await client.post(ARTICLES, json=article(title="长文", body=body), headers=agent)
    found = await client.get("/api/v1/kb/search", params={"q": body[100:102]}, headers=agent)

    assert created.status_code == 201, created.text
    assert created.json()["id"] in [a["id"] for a in found.json()["items"]]
