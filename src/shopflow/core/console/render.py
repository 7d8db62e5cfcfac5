"""Pages, fragments and printable documents rendered from `web/templates`, and where actions lead."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, partial
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.console.i18n import DEFAULT_LOCALE, WEB, translations
from shopflow.core.console.page import Console, local_time
from shopflow.core.console.registry import Column

# How often live parts of a page ask the server again (HTMX polling).
LIVE_SECONDS = 3


@cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(WEB / "templates"),
        autoescape=select_autoescape(),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = partial(local_time, locale=locale)
    return env


def render(c: Console, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(fragment(c, template, **values), status_code=status)


def fragment(c: Console, template: str, **values: Any) -> Markup:
    """A template rendered for `c`, as markup to place in a page (a panel)."""
    page = environment(c.locale).get_template(template)
    return Markup(page.render(c=c, live_seconds=LIVE_SECONDS, **values))


def document(template: str, locale: str = DEFAULT_LOCALE, **values: Any) -> str:
    """A document outside a page: printable (its texts bilingual, the same for every reader), or
    a report or email in `locale`."""
    return environment(locale).get_template(template).render(**values)


async def panels(session: AsyncSession, c: Console, page: str, subject_id: int) -> list[str]:
    """The panels other domains add to `page` of subject `subject_id` (`Registry.panels`)."""
    shown = [await panel(session, c, subject_id) for panel in c.registry.panels.get(page, [])]
    return [html for html in shown if html]


async def columns(
    session: AsyncSession, c: Console, page: str, subjects: Mapping[int, str]
) -> list[tuple[Column[Console], Mapping[int, str]]]:
    """The columns other domains add to `page`, each with its cells for `subjects` (id -> key)."""
    return [(column, await column.cells(session, c, subjects)) for column in c.registry.columns.get(page, [])]


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def after_action(c: Console, path: str) -> Response:
    """Where an action leads: `path`, which an HTMX request (a confirmed delete) is told to load."""
    if c.request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": path})
    return redirect(path)
