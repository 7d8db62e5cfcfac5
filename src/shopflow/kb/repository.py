"""Every statement of the knowledge base."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import db
from shopflow.kb.models import Article, ArticleTerm

# Term rows per INSERT: a long article has thousands of terms, and one statement holds at most
# 32,767 parameters on PostgreSQL (three a row).
TERMS_PER_INSERT = 5000


async def get(session: AsyncSession, article_id: int, *, lock: bool = False) -> Article | None:
    stmt = select(Article).where(Article.id == article_id)
    return await session.scalar(stmt.with_for_update() if lock else stmt)


async def same_key(session: AsyncSession, kind: str, category: str, language: str, title: str) -> int | None:
    """The id of the article stored under this (kind, category, language, title), if any."""
    return await session.scalar(
        select(Article.id).where(
            Article.kind == kind,
            Article.category == category,
            Article.language == language,
            Article.title == title,
        )
    )


async def add_articles(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the articles not stored yet (by their unique key); the ids of those inserted."""
    return await db.insert_rows(session, Article, rows, returning="id", skip_conflicts=True)


async def by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Article]:
    if not ids:
        return []
    return list((await session.scalars(select(Article).where(Article.id.in_(ids)))).all())


async def replace_terms(session: AsyncSession, rows_by_article: dict[int, list[dict[str, Any]]]) -> None:
    """Store the articles' terms in place of those they had."""
    if not rows_by_article:
        return
    await session.execute(delete(ArticleTerm).where(ArticleTerm.article_id.in_(rows_by_article)))
    rows = [row for found in rows_by_article.values() for row in found]
    for start in range(0, len(rows), TERMS_PER_INSERT):
        await db.insert_rows(session, ArticleTerm, rows[start : start + TERMS_PER_INSERT])


def _filtered(stmt: Select[Any], kind: str | None, language: str | None, category: str | None) -> Select[Any]:
    if kind is not None:
        stmt = stmt.where(Article.kind == kind)
    if language is not None:
        stmt = stmt.where(Article.language == language)
    if category is not None:
        stmt = stmt.where(Article.category == category)
    return stmt


def _language_first(language: str | None) -> list[ColumnElement[Any]]:
    """The ordering that puts the articles in `language` before the others (none without one)."""
    if language is None:
        return []
    return [case((Article.language == language, 0), else_=1)]


async def page(
    session: AsyncSession,
    kind: str | None,
    language: str | None,
    category: str | None,
    number: int,
    size: int,
    first_language: str | None = None,
) -> tuple[list[Article], int]:
    """Articles by kind, language and category, those in `first_language` first, by category
    then title."""
    total = await session.scalar(
        _filtered(select(func.count()).select_from(Article), kind, language, category)
    )
    stmt = _filtered(select(Article), kind, language, category)
    stmt = stmt.order_by(*_language_first(first_language), Article.category, Article.title, Article.id)
    stmt = stmt.offset((number - 1) * size).limit(size)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def search(
    session: AsyncSession,
    wanted: Sequence[str],
    kind: str | None,
    language: str | None,
    number: int,
    size: int,
    first_language: str | None = None,
) -> tuple[list[Article], int]:
    """Articles matching any of the terms, those in `first_language` first, then best first: the
    most terms matched, then the highest sum of their weights, then the newest."""
    matched = func.count().label("matched")
    score = func.sum(ArticleTerm.weight).label("score")
    ranked = (
        select(ArticleTerm.article_id, matched, score)
        .where(ArticleTerm.term.in_(wanted))
        .group_by(ArticleTerm.article_id)
        .subquery()
    )
    base = _filtered(select(Article).join(ranked, ranked.c.article_id == Article.id), kind, language, None)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    stmt = base.order_by(
        *_language_first(first_language), ranked.c.matched.desc(), ranked.c.score.desc(), Article.id.desc()
    )
    stmt = stmt.offset((number - 1) * size).limit(size)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def scripts(session: AsyncSession, language: str) -> list[Article]:
    stmt = (
        select(Article)
        .where(Article.kind == "script", Article.language == language)
        .order_by(Article.category, Article.id)
    )
    return list((await session.scalars(stmt)).all())


async def categories(session: AsyncSession) -> list[str]:
    return list((await session.scalars(select(Article.category).distinct().order_by(Article.category))).all())
