"""Console pages of the knowledge base (SVC-4): the list with its search box (results replaced as
one types, HTMX), and the article editor (new and edit)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, chosen, form_errors, form_values, page_size, parsed
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import AuditField, NavItem, Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.schemas import Id
from shopflow.kb import service
from shopflow.kb.models import Article, ArticleKind, Language
from shopflow.kb.schemas import ArticleIn, ArticlePatch
from shopflow.kb.service import ENTITY

router = APIRouter(include_in_schema=False)
KINDS = {
    ArticleKind.FAQ: label("article kind", "FAQ"),
    ArticleKind.SCRIPT: label("article kind", "Reply script"),
}
LANGUAGES = {
    Language.ZH_CN: label("article language", "Chinese"),
    Language.EN: label("article language", "English"),
}
FIELDS = ("title", "body", "kind", "category", "tags", "language")


@router.get("/kb")
async def articles(
    session: Session,
    c: Annotated[Console, can_view("kb.read")],
    q: Annotated[str, Query(max_length=200)] = "",
    kind: str = "",
    language: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """The articles, or those the search box finds, best first; an HTMX request (typing in the
    box) gets the results only."""
    size = page_size()
    wanted_kind, wanted_language = chosen(ArticleKind, kind), chosen(Language, language)
    if q.strip():
        found, total = await service.search(session, q, wanted_kind, wanted_language, page, size)
    else:
        found, total = await service.page(session, wanted_kind, wanted_language, None, page, size)
    template = "kb/_results.html" if c.request.headers.get("HX-Request") else "kb/list.html"
    return render(
        c,
        template,
        articles=found,
        filters={"q": q, "kind": kind, "language": language},
        kinds=KINDS,
        languages=LANGUAGES,
        pager=Pager(page, size, total),
    )


def _values(article: Article | None) -> dict[str, str]:
    if article is None:
        return {"kind": ArticleKind.FAQ, "language": Language.ZH_CN}
    fields = article.fields()
    return {**fields, "tags": ", ".join(fields["tags"])}


async def _editor(
    session: AsyncSession,
    c: Console,
    article: Article | None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        c,
        "kb/article.html",
        status,
        article=article,
        values=values if values is not None else _values(article),
        errors=errors or {},
        kinds=KINDS,
        languages=LANGUAGES,
        categories=await service.categories(session),
        trail=await audit.trail(session, ENTITY, article.id) if article else [],
    )


@router.get("/kb/new")
async def new_article(session: Session, c: Annotated[Console, can_view("kb.write")]) -> HTMLResponse:
    return await _editor(session, c, None)


@router.get("/kb/{article_id}")
async def article_page(
    article_id: Id, session: Session, c: Annotated[Console, can_view("kb.read")]
) -> HTMLResponse:
    return await _editor(session, c, await service.get(session, article_id))


def _input(values: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {name: values.get(name, "") for name in FIELDS}
    data["tags"] = [tag.strip() for tag in data["tags"].replace("，", ",").split(",") if tag.strip()]
    return data


async def _save(c: Console, session: AsyncSession, article_id: int | None) -> Response:
    values = await form_values(c.request)
    address = "/kb/new" if article_id is None else f"/kb/{article_id}"

    async def work() -> Response:
        assert c.actor is not None
        if article_id is None:
            saved = await service.create(session, c.actor, parsed(ArticleIn, _input(values)))
            c.flash(c.gettext(N_("The article was added.")))
        else:
            saved = await service.update(session, c.actor, article_id, parsed(ArticlePatch, _input(values)))
            c.flash(c.gettext(N_("The article was saved.")))
        return redirect(f"/kb/{saved.id}")

    async def refused(exc: Any) -> Response:
        article = None if article_id is None else await service.get(session, article_id)
        return await _editor(session, c, article, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, work, refused, address=address)


@router.post("/kb/new")
async def create_article(session: Session, c: Annotated[Console, can_do("kb.write")]) -> Response:
    return await _save(c, session, None)


@router.post("/kb/{article_id}")
async def edit_article(
    article_id: Id, session: Session, c: Annotated[Console, can_do("kb.write")]
) -> Response:
    return await _save(c, session, article_id)


PAGES = Pages(
    router,
    nav=(NavItem("/kb", label("nav", "Knowledge base"), "kb.read", 28),),
    subjects={ENTITY: ("/kb/{id}", label("subject", "Article"))},
    actions={
        "kb.article_created": label("audit action", "article written"),
        "kb.article_edited": label("audit action", "article edited"),
    },
    fields={
        "title": AuditField(label("audit field", "Title")),
        "body": AuditField(label("audit field", "Text")),
        "kind": AuditField(label("audit field", "Kind")),
        "category": AuditField(label("audit field", "Category")),
        "tags": AuditField(label("audit field", "Tags")),
        "language": AuditField(label("audit field", "Language")),
    },
)
