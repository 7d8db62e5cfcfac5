"""The web console's shared machinery: pages, language, the signed session, CSRF, navigation.

Each domain's console.py adds its pages with the dependencies here (`page`, `action`) and its
labels to the registries (`NAV`, `STATES`, `CLOCKS`, `SUBJECTS`, `MESSAGES`), so a new domain
slots into the layout without touching this file. Permissions are `core.auth`'s, checked by the
same `authorize` as the API. The session is a signed cookie (HttpOnly, SameSite=Lax) holding the
user id and a CSRF token that every POST must echo, as a form field or, from HTMX, a header.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware.sessions import SessionMiddleware

from shopflow.core import alerts, auth, clock, policy, sla
from shopflow.core.api import Session
from shopflow.core.audit import Actor, AuditEntry
from shopflow.core.errors import AppError, FieldError, Forbidden, Invalid, InvalidTransition, Unauthorized
from shopflow.core.settings import Settings

WEB = Path(__file__).resolve().parents[1] / "web"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "shopflow_lang"
SESSION_COOKIE = "shopflow_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_REFUSED = "csrf"
# How often live parts of a page ask the server again (HTMX polling).
LIVE_SECONDS = 3

M = TypeVar("M", bound=BaseModel)
Label = tuple[str, str]  # (context, English text): translated when shown


def label(context: str, message: str) -> Label:
    """Mark a label for the message catalogs; `Console.label` translates it when shown."""
    return context, message


def N_(message: str) -> str:
    """Mark a message for the catalogs (the gettext convention); translated when shown."""
    return message


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    text: Label
    permission: str
    order: int


# Registries the domain consoles fill at import.
NAV: list[NavItem] = []
STATES: dict[str, dict[str, Label]] = {}  # subject kind -> state -> label (InvalidTransition texts)
CLOCKS: dict[str, Label] = {}  # SLA clock kind -> label
SUBJECTS: dict[str, tuple[str, Label]] = {}  # "order" -> ("/orders/{id}", label)
# Service messages shown to people: (pattern of the English text, msgid with its groups).
MESSAGES: list[tuple[re.Pattern[str], str]] = []
# What a later domain shows on an earlier one's page, which does not know it (the order page shows
# its parcels): subject kind -> renderers of a panel for one subject, "" when there is nothing.
Panel = Callable[[AsyncSession, "Console", int], Awaitable[str]]
PANELS: dict[str, list[Panel]] = defaultdict(list)

ROLES: dict[str, Label] = {
    "admin": label("role", "Administrator"),
    "manager": label("role", "Manager"),
    "sales": label("role", "Sales"),
    "customer_service": label("role", "Customer service"),
    "cs_supervisor": label("role", "Customer-service supervisor"),
    "operations": label("role", "Operations"),
    "warehouse": label("role", "Warehouse"),
    "purchasing": label("role", "Purchasing"),
    "finance": label("role", "Finance"),
}
ALERT_STATES: dict[str, Label] = {
    alerts.AlertState.OPEN: label("alert state", "open"),
    alerts.AlertState.ACKNOWLEDGED: label("alert state", "acknowledged"),
}
ALERT_KINDS: dict[str, Label] = {
    "sla_breach": label("alert kind", "Deadline missed"),
    "low_stock": label("alert kind", "Low stock"),
    "payment_amount_mismatch": label("alert kind", "Payment amount mismatch"),
    "payment_for_unpayable_order": label("alert kind", "Payment for an order that cannot take it"),
}
STATES["alert"] = ALERT_STATES
MESSAGES.extend(
    (re.compile(pattern), msgid)
    for pattern, msgid in (
        ("is required", N_("is required")),
        ("must be positive", N_("must be positive")),
        ("wrong username or password", N_("wrong username or password")),
    )
)


@cache
def translations(locale: str) -> Translations:
    """The locale's catalog, compiled from its .po file in memory (no build step, never stale)."""
    with (WEB / "locale" / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


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
    return env


def yuan(fen: int) -> str:
    """Money as the console shows it in every language: ¥1,234.50."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def store_zone() -> ZoneInfo:
    return ZoneInfo(policy.current().calendar.timezone)


def local_day_bounds(day: date, hours: int = 24) -> list[datetime]:
    """The UTC instants of each hour boundary of `day` in the store's zone (25 for 24 hours)."""
    zone = store_zone()
    midnight = datetime.combine(day, time(), tzinfo=zone)
    return [(midnight + timedelta(hours=h)).astimezone(UTC) for h in range(hours + 1)]


def local_midnight(day: date) -> datetime:
    """The instant the store's `day` begins."""
    return local_day_bounds(day, hours=0)[0]


def day_range(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """From the start of store day `first` to the end of `last`, both included; None stays open."""
    return (
        None if first is None else local_midnight(first),
        None if last is None else local_midnight(last + timedelta(days=1)),
    )


def page_size() -> int:
    """Rows on a page of every console list (policy `orders.page_size`)."""
    return policy.current().orders.page_size


def today() -> date:
    return clock.now().astimezone(store_zone()).date()


def locale_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, DEFAULT_LOCALE)
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


@dataclass(frozen=True, slots=True)
class Pager:
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass
class Console:
    """What a page knows: who asks, in which language, and how to show things to them."""

    request: Request
    actor: Actor | None
    locale: str
    csrf: str
    now: datetime = field(default_factory=clock.now)

    @property
    def translations(self) -> Translations:
        return translations(self.locale)

    def gettext(self, message: str, **values: Any) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def label(self, marked: Label) -> str:
        return self.translations.pgettext(*marked)

    def labelled(self, labels: Mapping[str, Label], value: str) -> str:
        found = labels.get(value)
        return value if found is None else self.label(found)

    def can(self, permission: str) -> bool:
        return self.actor is not None and auth.allowed(self.actor.role, permission)

    def nav(self) -> list[NavItem]:
        return sorted((item for item in NAV if self.can(item.permission)), key=lambda item: item.order)

    def active(self, item: NavItem) -> bool:
        path = self.request.url.path
        return path == item.path if item.path == "/" else path.startswith(item.path)

    def role(self) -> str:
        return "" if self.actor is None else self.labelled(ROLES, self.actor.role)

    def money(self, fen: int) -> str:
        return yuan(fen)

    def typed_day(self, typed: str) -> tuple[date | None, str | None]:
        """A day typed as 2026-11-01 (blank: none), or why it is not one."""
        if not typed.strip():
            return None, None
        try:
            return date.fromisoformat(typed.strip()), None
        except ValueError:
            return None, self.gettext("%(value)s is not a date.", value=typed.strip())

    def when(self, at: datetime | None, *, long: bool = False) -> str:
        """A time in the store's zone: `2026-11-23 14:05`, or the locale's long form."""
        if at is None:
            return ""
        if long:
            return format_datetime(at, "medium", tzinfo=store_zone(), locale=self.locale)
        return at.astimezone(store_zone()).strftime("%Y-%m-%d %H:%M")

    def duration(self, span: timedelta) -> str:
        minutes = int(abs(span).total_seconds() // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return self.gettext("%(d)d d %(h)d h", d=days, h=hours)
        if hours:
            return self.gettext("%(h)d h %(m)d min", h=hours, m=minutes)
        return self.gettext("%(m)d min", m=minutes)

    def clock(self, found: sla.SlaClock) -> str:
        return self.clock_kind(found.kind)

    def clock_kind(self, kind: str) -> str:
        """A clock's kind as people call it."""
        return self.labelled(CLOCKS, kind)

    def alert_kind(self, kind: str) -> str:
        return self.labelled(ALERT_KINDS, kind)

    def time_left(self, found: sla.SlaClock) -> tuple[str, str]:
        """A clock's standing and its CSS class: time left, overdue (late), paused, met, missed."""
        if sla.is_late(found, self.now):
            return self.gettext("%(span)s overdue", span=self.duration(self.now - found.deadline)), "late"
        match found.state:
            case sla.ClockState.RUNNING:
                return self.gettext("%(span)s left", span=self.duration(found.deadline - self.now)), "running"
            case sla.ClockState.PAUSED:
                return self.gettext("paused"), "paused"
            case sla.ClockState.MET:
                return self.gettext("met"), "met"
            case _:
                return self.gettext("missed"), "missed"

    def subject_link(self, subject: str) -> tuple[str | None, str]:
        """The page of a clock's or alert's subject ("order:42") and how to name it."""
        kind, _, key = subject.partition(":")
        known = SUBJECTS.get(kind)
        if known is None:
            return None, subject
        return known[0].format(id=key), f"{self.label(known[1])} {key}"

    def message(self, text: str) -> str:
        """A service's English message in the reader's language, where the catalogs know it."""
        for pattern, msgid in MESSAGES:
            found = pattern.fullmatch(text)
            if found is not None:
                return self.gettext(msgid, **found.groupdict())
        return text

    def error(self, exc: AppError) -> str:
        """Why an action was refused, for people."""
        if isinstance(exc, InvalidTransition):
            states = STATES.get(exc.subject, {})
            return self.gettext(
                "Not possible now: it is “%(current)s” and cannot become “%(target)s”.",
                current=self.labelled(states, exc.current),
                target=self.labelled(states, exc.target),
            )
        if isinstance(exc, Forbidden) and exc.code == CSRF_REFUSED:
            return self.gettext("The form has expired: reload the page and try again.")
        if isinstance(exc, Forbidden):
            return self.gettext("Your role (%(role)s) may not do this.", role=self.role())
        return self.message(exc.detail)

    def query(self, **changes: Any) -> str:
        """The current page's query string with some parameters changed (pagers, filters)."""
        params = dict(self.request.query_params)
        params.update({key: str(value) for key, value in changes.items()})
        return urlencode({key: value for key, value in params.items() if value != ""})

    def flashes(self) -> list[tuple[str, str]]:
        return [(level, text) for level, text in self.request.session.pop("flash", [])]

    def flash(self, text: str, level: str = "ok") -> None:
        self.request.session["flash"] = [*self.request.session.get("flash", []), (level, text)]


def render(c: Console, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(fragment(c, template, **values), status_code=status)


def fragment(c: Console, template: str, **values: Any) -> Markup:
    """A template rendered for `c`, as markup to place in a page (a panel)."""
    page = environment(c.locale).get_template(template)
    return Markup(page.render(c=c, live_seconds=LIVE_SECONDS, **values))


async def panels(session: AsyncSession, c: Console, kind: str, subject_id: int) -> list[str]:
    """The panels other domains add to the page of `kind` `subject_id` (`PANELS`)."""
    shown = [await panel(session, c, subject_id) for panel in PANELS[kind]]
    return [html for html in shown if html]


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def after_action(c: Console, path: str) -> Response:
    """Where an action leads: `path`, which an HTMX request (a confirmed delete) is told to load."""
    if c.request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": path})
    return redirect(path)


class LoginRequired(Exception):
    """No signed-in user: pages answer with the sign-in form."""


def _anonymous(request: Request) -> Console:
    return Console(request, None, locale_of(request), csrf_token(request))


async def _console(request: Request, session: Session) -> Console:
    user_id = request.session.get("uid")
    actor = await auth.active_actor(session, user_id) if isinstance(user_id, int) else None
    if actor is None:
        raise LoginRequired
    c = Console(request, actor, locale_of(request), csrf_token(request))
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


async def form_values(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def field_errors(errors: list[FieldError], c: Console, rename: Callable[[str], str] = str) -> dict[str, str]:
    """Field-named errors of a service, keyed by form field, in the reader's language."""
    shown: dict[str, str] = {}
    for error in errors:
        shown.setdefault(rename(error.field), c.message(error.message))
    return shown


def audit_changes(entry: AuditEntry) -> str:
    """An audit row's before → after, compactly."""
    before, after = entry.before or {}, entry.after or {}
    keys = sorted(set(before) | set(after))
    return "; ".join(f"{key}: {before.get(key, '—')} → {after.get(key, '—')}" for key in keys)


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
    try:
        actor = await auth.login(session, username, values.get("password", ""))
    except Unauthorized as exc:
        error = c.message(exc.detail)
        return render(
            c, "login.html", 401, next=safe_next(values.get("next")), username=username, error=error
        )
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in user
    request.session["uid"] = actor.user_id
    return redirect(safe_next(values.get("next")))


@router.post("/logout")
async def logout(request: Request, _: Annotated[Console, Depends(_csrf_checked)]) -> Response:
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


def install(app: FastAPI, settings: Settings) -> None:
    """Add the console to the app: session cookie, static files, sign-in routes, error pages."""
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

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.console_secret(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_SECONDS,
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    app.include_router(router)


def parsed(model: type[M], values: Mapping[str, Any]) -> M:
    """A form's values as the service's input model; its validation errors as field errors (422)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [FieldError(_dotted(e["loc"]), e["msg"]) for e in exc.errors()]
        raise Invalid("the form has errors; nothing was changed", errors=errors) from None


def _dotted(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name
