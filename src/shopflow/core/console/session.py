"""The console's session and its door: the signed cookie (HttpOnly, SameSite=Lax, Secure over
https) holding the key of a session the server keeps (`access.start_session`) and a CSRF token every
POST must echo (a form field, or a header from HTMX), the permission checks of pages and actions
(the API's `authorize`), sign-in (throttled), sign-out, the language, the error pages, the
security headers of every page, and `install`, which adds all of it and every domain's pages to
the app."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopflow.core import access, auth, policy
from shopflow.core.api import Session
from shopflow.core.console.forms import form_values
from shopflow.core.console.i18n import DEFAULT_LOCALE, LANG_COOKIE, LOCALES, WEB, locale_of
from shopflow.core.console.page import CSRF_REFUSED, Console
from shopflow.core.console.registry import Registry
from shopflow.core.console.render import redirect, render
from shopflow.core.errors import AppError, Forbidden, Unauthorized
from shopflow.core.settings import Settings

SESSION_COOKIE = "shopflow_session"
SESSION_KEY = "sid"  # in the signed cookie: the key of the server's console session
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def _registry(request: Request) -> Registry[Console]:
    registry: Registry[Console] = request.app.state.console_registry
    return registry


class LoginRequired(Exception):
    """No signed-in user: pages answer with the sign-in form."""


def _anonymous(request: Request) -> Console:
    return Console(request, None, locale_of(request), csrf_token(request), _registry(request))


async def _console(request: Request, session: Session) -> Console:
    key = request.session.get(SESSION_KEY)
    actor = await access.session_actor(session, key) if isinstance(key, str) else None
    if actor is None:
        raise LoginRequired
    c = Console(request, actor, locale_of(request), csrf_token(request), _registry(request))
    request.state.console = c
    return c


async def _csrf_checked(request: Request, c: Annotated[Console, Depends(_console)]) -> Console:
    await check_csrf(request)
    return c


async def check_csrf(request: Request) -> None:
    """The POST must carry the session's token (form field or HTMX header), else 403."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    expected = request.session.get(CSRF_FIELD)
    if not (isinstance(expected, str) and sent and hmac.compare_digest(sent, expected)):
        raise Forbidden("the form's security token is missing or stale", code=CSRF_REFUSED)


def can_view(permission: str) -> Any:
    """A page for signed-in users whose role holds `permission` (the API's `authorize`)."""

    async def allowed(c: Annotated[Console, Depends(_console)]) -> Console:
        auth.authorize(c.actor, permission)  # type: ignore[arg-type]
        return c

    return Depends(allowed)


def can_do(permission: str) -> Any:
    """A POST by a signed-in user: CSRF-checked, then `authorize`d like the API; 403 otherwise."""

    async def allowed(c: Annotated[Console, Depends(_csrf_checked)]) -> Console:
        auth.authorize(c.actor, permission)  # type: ignore[arg-type]
        return c

    return Depends(allowed)


def safe_next(target: str | None) -> str:
    """Only a path of this site: never another site through `next` (open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# --- sign-in, sign-out, language -------------------------------------------------------

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(_anonymous(request), "login.html", next=safe_next(next), username="", error=None)


@router.post("/login")
async def login(request: Request, session: Session) -> Response:
    await check_csrf(request)
    values = await form_values(request)
    c = _anonymous(request)
    username = values.get("username", "").strip()
    address = request.client.host if request.client else "unknown"
    try:
        actor = await access.login(session, username, values.get("password", ""), address)
    except (Unauthorized, access.TooManyAttempts) as exc:
        error = c.message(exc.detail)
        reply = render(
            c, "login.html", exc.status, next=safe_next(values.get("next")), username=username, error=error
        )
        if isinstance(exc, access.TooManyAttempts):
            reply.headers["Retry-After"] = str(exc.retry_after)
        return reply
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in user
    request.session[SESSION_KEY] = await access.start_session(session, actor)
    return redirect(safe_next(values.get("next")))


@router.post("/logout")
async def logout(
    request: Request, session: Session, _: Annotated[Console, Depends(_csrf_checked)]
) -> Response:
    """Sign out: the server ends the session, so a copy of the cookie no longer signs anyone in."""
    await access.end_session(session, request.session[SESSION_KEY])
    request.session.clear()
    return redirect("/login")


@router.post("/language")
async def language(request: Request) -> Response:
    """Switch the console's language; kept in a cookie, so it lasts across sign-ins."""
    await check_csrf(request)
    values = await form_values(request)
    chosen = values.get("locale", DEFAULT_LOCALE)
    reply = redirect(safe_next(values.get("next")))
    if chosen in LOCALES:
        reply.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, httponly=True, samesite="lax")
    return reply


# --- errors: problem+json for the API, a page for the console ------------------------------------


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _console_for_error(request: Request) -> Console:
    found = getattr(request.state, "console", None)
    return found if isinstance(found, Console) else _anonymous(request)


async def _login_required(request: Request, _: Exception) -> Response:
    target = "/login?" + urlencode({"next": request.url.path})
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return redirect(target)


# What every page (not the API) answers with: never framed by another site (clickjacking), never
# sniffed into another type, no address leaked to other sites. No script policy: the vendored
# Swagger UI at /docs runs inline script.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class PageSecurity:
    """ASGI middleware: the security headers on every answer outside /api/, and the cookies set
    over https marked Secure (the scheme the client used: uvicorn takes X-Forwarded-Proto from the
    proxies FORWARDED_ALLOW_IPS trusts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if secure:
                    cookies = headers.getlist("set-cookie")
                    del headers["set-cookie"]
                    for cookie in cookies:
                        marked = "secure" in cookie.lower().replace(" ", "").split(";")
                        headers.append("set-cookie", cookie if marked else f"{cookie}; secure")
            await send(message)

        await self.app(scope, receive, sending)


def install(app: FastAPI, settings: Settings, registry: Registry[Console]) -> None:
    """Add the console to the app: session cookie, static files, sign-in routes, error pages, and
    every domain's pages with their menu entries, labels and panels (`registry`)."""
    api_error = app.exception_handlers[AppError]
    api_invalid = app.exception_handlers[RequestValidationError]

    async def app_error(request: Request, exc: Exception) -> Response:
        if _is_api(request) or not isinstance(exc, AppError):
            return await api_error(request, exc)  # type: ignore[no-any-return]
        c = _console_for_error(request)
        return render(c, "error.html", exc.status, reason=c.error(exc), code=exc.status)

    async def invalid(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return await api_invalid(request, exc)  # type: ignore[no-any-return]
        c = _console_for_error(request)
        return render(c, "error.html", 422, reason=c.gettext("The address has a wrong value."), code=422)

    app.state.console_registry = registry
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.console_secret(),
        session_cookie=SESSION_COOKIE,
        max_age=policy.current().security.console_session_hours * 3600,
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )
    app.add_middleware(PageSecurity)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    app.include_router(router)
    for pages in registry.routers:
        app.include_router(pages)
