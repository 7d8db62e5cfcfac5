"""The knowledge base over HTTP (SVC-4): articles and their ranked search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shopflow.core.api import Pages, Session, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Id, Page
from shopflow.kb import service
from shopflow.kb.models import Article, ArticleKind, Language
from shopflow.kb.schemas import ArticleIn, ArticleOut, ArticlePatch

router = APIRouter(tags=["knowledge base"], responses=problems(401))
ARTICLES = "/kb/articles"
Category = Annotated[str | None, Query(min_length=1, max_length=40)]


def article_out(article: Article) -> ArticleOut:
    return ArticleOut(
        id=article.id,
        title=article.title,
        body=article.body,
        kind=ArticleKind(article.kind),
        category=article.category,
        tags=article.tags,
        language=Language(article.language),
        created_at=article.created_at,
    )


@router.get(ARTICLES, response_model=Page[ArticleOut], responses=problems(403))
async def list_articles(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("kb.read")],
    kind: ArticleKind | None = None,
    language: Language | None = None,
    category: Category = None,
) -> Page[ArticleOut]:
    """Articles by category then title, by kind, language and category."""
    found, total = await service.page(session, kind, language, category, pages.page, pages.page_size)
    return Page[ArticleOut](**pages.of([article_out(a) for a in found], total))


@router.post(ARTICLES, status_code=201, response_model=ArticleOut, responses=problems(403, 409, 422))
async def create_article(
    data: ArticleIn, session: Session, actor: Annotated[Actor, require("kb.write")]
) -> ArticleOut:
    """A FAQ article or a reply script; 409 when one of its kind, category and language has its
    title. Scripts may hold `${name}` and `${order_no}`."""
    return article_out(await service.create(session, actor, data))


@router.get(ARTICLES + "/{article_id}", response_model=ArticleOut, responses=problems(403, 404))
async def get_article(
    article_id: Id, session: Session, _: Annotated[Actor, require("kb.read")]
) -> ArticleOut:
    return article_out(await service.get(session, article_id))


@router.patch(ARTICLES + "/{article_id}", response_model=ArticleOut, responses=problems(403, 404, 409, 422))
async def edit_article(
    article_id: Id, data: ArticlePatch, session: Session, actor: Annotated[Actor, require("kb.write")]
) -> ArticleOut:
    """Change the fields given (audited, re-indexed); the others keep their values."""
    return article_out(await service.update(session, actor, article_id, data))


@router.get("/kb/search", response_model=Page[ArticleOut], responses=problems(403, 422))
async def search(
    session: Session,
    pages: Pages,
    _: Annotated[Actor, require("kb.read")],
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words or Chinese text")],
    kind: ArticleKind | None = None,
    language: Language | None = None,
) -> Page[ArticleOut]:
    """Articles found by `q`, best first: Chinese by its two-character windows (运费 finds
    退货运费谁承担), other words lower-cased and stemmed (refund finds refunds); an article
    matching more of the query's terms first, then the heavier matches (title, tags, category
    over body)."""
    found, total = await service.search(session, q, kind, language, pages.page, pages.page_size)
    return Page[ArticleOut](**pages.of([article_out(a) for a in found], total))
