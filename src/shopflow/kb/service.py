"""The knowledge base's use cases (SVC-4): write, edit and search articles; the scripts agents
insert into replies. Every write re-indexes the article's terms in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock
from shopflow.core.audit import Actor
from shopflow.kb import repository, seed, terms
from shopflow.kb.errors import ArticleExists, ArticleNotFound
from shopflow.kb.models import Article, ArticleKind, fill_script, term_rows
from shopflow.kb.schemas import ArticleIn, ArticlePatch

ENTITY = "kb_article"


async def _index(session: AsyncSession, articles: list[Article]) -> None:
    await repository.replace_terms(session, {a.id: term_rows(a.id, a.term_weights()) for a in articles})


async def add_articles(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Store the articles not stored yet (by kind, category, language and title) with their
    terms; how many were added (seeding: the lead scripts, the demo's FAQ)."""
    ids = await repository.add_articles(session, rows)
    await _index(session, await repository.by_ids(session, ids))
    return len(ids)


async def seed_articles(session: AsyncSession) -> int:
    """The FAQ articles and service scripts the knowledge base starts with, where missing."""
    return await add_articles(session, seed.rows(clock.now()))


async def create(session: AsyncSession, actor: Actor, data: ArticleIn) -> Article:
    row = data.model_dump(mode="json") | {"created_at": clock.now()}
    [article_id, *_] = await repository.add_articles(session, [row]) or [None]
    if article_id is None:
        raise ArticleExists(
            f"a {data.kind} titled {data.title!r} exists in {data.category} ({data.language})"
        )
    article = await get(session, article_id)
    await _index(session, [article])
    await audit.record(
        session, audit.row(actor, "kb.article_created", ENTITY, article.id, None, article.fields())
    )
    return article


async def get(session: AsyncSession, article_id: int, *, lock: bool = False) -> Article:
    article = await repository.get(session, article_id, lock=lock)
    if article is None:
        raise ArticleNotFound(f"article {article_id} does not exist")
    return article


async def update(session: AsyncSession, actor: Actor, article_id: int, data: ArticlePatch) -> Article:
    """Change the fields given; 409 when another article has the resulting key."""
    article = await get(session, article_id, lock=True)
    before = article.fields()
    changes = {k: v for k, v in data.model_dump(mode="json", exclude_unset=True).items() if before[k] != v}
    if not changes:
        return article
    key = before | changes
    taken = await repository.same_key(session, key["kind"], key["category"], key["language"], key["title"])
    if taken is not None and taken != article.id:
        raise ArticleExists(f"article {taken} has this kind, category, language and title")
    for name, value in changes.items():
        setattr(article, name, value)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ArticleExists("another article has this kind, category, language and title") from None
    await _index(session, [article])
    after = article.fields()
    await audit.record(
        session,
        audit.row(
            actor,
            "kb.article_edited",
            ENTITY,
            article.id,
            {k: before[k] for k in changes},
            {k: after[k] for k in changes},
        ),
    )
    return article


async def page(
    session: AsyncSession,
    kind: str | None,
    language: str | None,
    category: str | None,
    number: int,
    size: int,
) -> tuple[list[Article], int]:
    return await repository.page(session, kind, language, category, number, size)


async def search(
    session: AsyncSession, text: str, kind: str | None, language: str | None, number: int, size: int
) -> tuple[list[Article], int]:
    """Articles found by the words and Chinese of `text`, best first (`kb.terms`); none when
    it holds nothing to look for (only punctuation or common words)."""
    wanted = terms.query(text)
    if not wanted:
        return [], 0
    return await repository.search(session, wanted, kind, language, number, size)


async def reply_scripts(
    session: AsyncSession, text: str, first_language: str, number: int, size: int
) -> tuple[list[Article], int]:
    """The reply scripts an agent picks from (SVC-4): those `text` finds (as `search`), or all of
    them when it is blank; the scripts in `first_language` (the agent's) first."""
    if not text.strip():
        return await repository.page(session, ArticleKind.SCRIPT, None, None, number, size, first_language)
    wanted = terms.query(text)
    if not wanted:
        return [], 0
    return await repository.search(session, wanted, ArticleKind.SCRIPT, None, number, size, first_language)


async def scripts(session: AsyncSession, language: str) -> list[Article]:
    """The reply scripts in `language`, by category."""
    return await repository.scripts(session, language)


async def categories(session: AsyncSession) -> list[str]:
    return await repository.categories(session)


def render_script(article: Article, customer_name: str, order_no: str) -> str:
    """The script's text with `${name}` and `${order_no}` filled in, ready for a reply."""
    return fill_script(article.body, customer_name, order_no)
