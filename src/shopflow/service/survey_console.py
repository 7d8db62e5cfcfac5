"""The customer's survey page, `/s/{token}` (SVC-6): opened from the signed link of a survey
notice, without an account, on a phone; in Chinese or English (`?lang=`, else the browser's
Accept-Language). It asks a 1-5 score and a comment, once; a link this server did not sign is a
page that does not exist (404), an expired one says so (410), an answered one thanks again
(409). Public operations (`x-public`), limited per address like the customer's order page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from shopflow.core import policy
from shopflow.core.api import PUBLIC, Session
from shopflow.core.console.forms import attempt, form_errors, form_values, parsed
from shopflow.core.console.page import Console
from shopflow.core.console.registry import Pages, Registry
from shopflow.core.console.render import redirect, render
from shopflow.core.errors import AppError
from shopflow.portal.console import locale_of
from shopflow.service import surveys
from shopflow.service.care_api import _limit
from shopflow.service.errors import SurveyAnswered, SurveyExpired, SurveyNotFound
from shopflow.service.schemas import SurveyIn

router = APIRouter(tags=["customer page"])
REFUSALS = (SurveyNotFound, SurveyExpired, SurveyAnswered)


def _console(request: Request) -> Console:
    registry: Registry[Console] = request.app.state.console_registry
    return Console(request, None, locale_of(request), "", registry)


def _page(c: Console, token: str, status: int = 200, **shown: object) -> HTMLResponse:
    reply = render(
        c,
        "surveys/answer.html",
        status,
        store=policy.current().notify.store_name,
        here=f"{surveys.PATH}{token}?lang={c.locale}",
        values=shown.pop("values", {}),
        errors=shown.pop("errors", {}),
        **shown,
    )
    # A survey's page names nothing personal, but is the customer's own: not cached, not indexed.
    reply.headers["Cache-Control"] = "no-store"
    reply.headers["X-Robots-Tag"] = "noindex"
    return reply


@router.get("/s/{token}", response_class=HTMLResponse, openapi_extra=PUBLIC, dependencies=[Depends(_limit)])
async def survey_page(token: str, request: Request, session: Session) -> Response:
    """The survey's form (HTML). 404 for a link this server did not sign, 410 once expired, 409
    once answered; `?done=1` thanks the customer."""
    c = _console(request)
    if request.query_params.get("done"):
        return _page(c, token, kind="thanks")
    try:
        survey = await surveys.open_survey(session, token)
    except REFUSALS as exc:
        return _page(c, token, exc.status, kind=exc.code)
    return _page(c, token, kind="form", survey_kind=survey.kind)


@router.post("/s/{token}", response_class=HTMLResponse, openapi_extra=PUBLIC, dependencies=[Depends(_limit)])
async def survey_answer(token: str, request: Request, session: Session) -> Response:
    """The survey's form posted: the answer recorded once (as `POST /api/v1/surveys/{token}`)."""
    c = _console(request)
    values = await form_values(request)
    here = f"{surveys.PATH}{token}?lang={c.locale}"

    async def run() -> Response:
        data = parsed(
            SurveyIn, {"score": values.get("score") or None, "comment": values.get("comment") or None}
        )
        await surveys.answer(session, token, data)
        return redirect(f"{here}&done=1")

    async def refused(exc: AppError) -> Response:
        if isinstance(exc, REFUSALS):
            return _page(c, token, exc.status, kind=exc.code)
        return _page(c, token, exc.status, kind="form", values=values, errors=form_errors(exc, c))

    return await attempt(c, session, run, refused, address=here)


PAGES: Pages[Console] = Pages(router)
