"""The console page of the personal-data read log (RSK-3), for admins: who was shown which
customer's personal data unmasked, when, and through which page or endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from shopflow.core import auth, personal_data
from shopflow.core.api import Session
from shopflow.core.auth import NAME_LENGTH
from shopflow.core.console.forms import Pager, page_size
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import render
from shopflow.core.console.session import can_view
from shopflow.core.errors import NotFound

router = APIRouter(include_in_schema=False)
PAGE = "/personal-data-reads"

MESSAGES = ((r"no user '(?P<name>.+)'", N_("There is no user %(name)s.")),)


@router.get(PAGE)
async def reads(
    session: Session,
    c: Annotated[Console, can_view(personal_data.LOG_PERMISSION)],
    user: Annotated[str, Query(max_length=NAME_LENGTH)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """The reads, newest first, of every user or of the one chosen."""
    size = page_size()
    refusal = None
    try:
        found, total = await personal_data.reads(
            session, username=user or None, offset=(page - 1) * size, limit=size
        )
    except NotFound as exc:
        found, total, refusal = [], 0, c.error(exc)
    return render(
        c,
        "staff/personal_data_reads.html",
        404 if refusal else 200,
        reads=found,
        users=await auth.list_users(session),
        user=user,
        pager=Pager(page, size, total),
        refusal=refusal,
    )


PAGES = Pages(
    router,
    nav=(NavItem(PAGE, label("nav", "Personal data reads"), personal_data.LOG_PERMISSION, 96),),
    messages=MESSAGES,
)
