"""The console page of staff accounts and API tokens (STF-1), for admins (`users.manage`): users
with role, state, team, manager, duty and email; add one, set a password, set their team,
manager, duty and email, disable and enable; tokens with owner and dates, create one (shown this
once), revoke one. Every change is audited by `core.auth`; a disabled user's sessions end and
their tokens are revoked at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import access, auth
from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, field_errors, form_errors, form_values, page_size
from shopflow.core.console.i18n import N_, label
from shopflow.core.console.page import ROLES, Console
from shopflow.core.console.registry import NavItem, Pages
from shopflow.core.console.render import after_action, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError

router = APIRouter(include_in_schema=False)
PERMISSION = "users.manage"
PAGE = "/staff"

MESSAGES = (
    ("the password is too short; nothing was changed", N_("The password is too short; nothing was changed.")),
    (r"must have at least (?P<n>\d+) characters", N_("must have at least %(n)s characters")),
    (r"at most (?P<n>\d+) characters", N_("at most %(n)s characters")),
    (r"user '(?P<name>.+)' exists", N_("There is already a user %(name)s.")),
    (r"one of: .*", N_("choose one of the roles")),
    (r"no user (?P<id>\d+)", N_("There is no user %(id)s.")),
    (r"no token (?P<id>\d+)", N_("There is no token %(id)s.")),
    ("you cannot disable your own account", N_("You cannot disable your own account.")),
    (r"no user '(?P<name>.+)'", N_("There is no user %(name)s.")),
    ("is not an email address", N_("is not an email address")),
    (
        "may not be the user or someone reporting to them",
        N_("may not be the user or someone reporting to them"),
    ),
    (
        r"'(?P<manager>.+)' cannot manage '(?P<name>.+)'.*",
        N_("%(manager)s cannot manage %(name)s: they report to them."),
    ),
)


async def _page(
    session: AsyncSession,
    c: Console,
    status: int = 200,
    *,
    page: int = 1,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    created: tuple[str, str] | None = None,
) -> HTMLResponse:
    """The staff page; `created` is a new token (owner, token) shown this once."""
    size = page_size()
    tokens, total = await access.list_tokens(session, offset=(page - 1) * size, limit=size)
    users = await auth.list_users(session)
    return render(
        c,
        "staff/users.html",
        status,
        users=users,
        names={user.id: user.username for user in users},
        tokens=tokens,
        pager=Pager(page, size, total),
        roles=ROLES,
        values=values or {},
        errors=errors or {},
        refusal=refusal,
        created=created,
    )


def _row_refused(session: AsyncSession, c: Console) -> Callable[[AppError], Awaitable[Response]]:
    """The answer to a refused action of a user's or token's row: the page, saying why (with what
    its fields got wrong)."""

    async def refused(exc: AppError) -> Response:
        refusal = " ".join([c.error(exc), *field_errors(exc.errors, c).values()])
        return await _page(session, c, exc.status, refusal=refusal)

    return refused


@router.get(PAGE)
async def staff(
    session: Session,
    c: Annotated[Console, can_view(PERMISSION)],
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    return await _page(session, c, page=page)


@router.post(f"{PAGE}/users")
async def add_user(session: Session, c: Annotated[Console, can_do(PERMISSION)]) -> Response:
    """Add a user; without a password it cannot sign in until one is set. On errors nothing is
    stored and the form comes back as typed (the password excepted)."""
    values = await form_values(c.request)
    username = values.get("username", "").strip()
    password = values.get("password") or None

    async def add() -> Response:
        user = await auth.add_user(session, c.actor, username, values.get("role", ""), password)  # type: ignore[arg-type]
        await auth.set_people(session, c.actor, user, _people(values))  # type: ignore[arg-type]
        if password is None:
            c.flash(c.gettext("%(name)s is added. It cannot sign in until a password is set.", name=username))
        else:
            c.flash(c.gettext("%(name)s is added and can sign in.", name=username))
        return redirect(PAGE)

    async def refused(exc: AppError) -> Response:
        typed = {name: values.get(name, "") for name in ("role", "team", "manager", "email")}
        typed["username"] = username
        return await _page(session, c, exc.status, values=typed, errors=form_errors(exc, c))

    return await attempt(c, session, add, refused, address=PAGE)


@router.post(f"{PAGE}/users/{{user_id}}/password")
async def set_password(user_id: int, session: Session, c: Annotated[Console, can_do(PERMISSION)]) -> Response:
    values = await form_values(c.request)

    async def change() -> Response:
        user = await auth.get_user(session, user_id)
        await auth.set_password(session, c.actor, user, values.get("password", ""))  # type: ignore[arg-type]
        c.flash(c.gettext("The password of %(name)s is set.", name=user.username))
        return redirect(PAGE)

    return await attempt(c, session, change, _row_refused(session, c), address=PAGE)


def _people(values: dict[str, str]) -> auth.PeopleChange:
    """The team, manager and email typed in a form (empty clears them)."""
    return {"team": values.get("team"), "manager": values.get("manager"), "email": values.get("email")}


@router.post(f"{PAGE}/users/{{user_id}}/people")
async def set_people(user_id: int, session: Session, c: Annotated[Console, can_do(PERMISSION)]) -> Response:
    """Set a user's team, manager, email and whether they are on duty."""
    values = await form_values(c.request)

    async def change() -> Response:
        user = await auth.get_user(session, user_id)
        people = _people(values) | {"on_duty": values.get("on_duty") == "true"}
        await auth.set_people(session, c.actor, user, people)  # type: ignore[arg-type]
        c.flash(c.gettext("%(name)s is updated.", name=user.username))
        return redirect(PAGE)

    return await attempt(c, session, change, _row_refused(session, c), address=PAGE)


async def _set_active(user_id: int, session: AsyncSession, c: Console, active: bool) -> Response:
    async def change() -> Response:
        user = await auth.get_user(session, user_id)
        await access.set_active(session, c.actor, user, active)  # type: ignore[arg-type]
        if active:
            c.flash(c.gettext("%(name)s is enabled again.", name=user.username))
        else:
            c.flash(
                c.gettext(
                    "%(name)s is disabled: signed out, tokens revoked, no sign-in until enabled.",
                    name=user.username,
                )
            )
        return after_action(c, PAGE)

    return await attempt(c, session, change, _row_refused(session, c), address=PAGE)


@router.post(f"{PAGE}/users/{{user_id}}/disable")
async def disable(user_id: int, session: Session, c: Annotated[Console, can_do(PERMISSION)]) -> Response:
    """Disable a user: their console sessions end and their tokens are revoked, at once."""
    return await _set_active(user_id, session, c, False)


@router.post(f"{PAGE}/users/{{user_id}}/enable")
async def enable(user_id: int, session: Session, c: Annotated[Console, can_do(PERMISSION)]) -> Response:
    """Enable a disabled user: they may sign in again (their old tokens stay revoked)."""
    return await _set_active(user_id, session, c, True)


@router.post(f"{PAGE}/users/{{user_id}}/tokens")
async def create_token(user_id: int, session: Session, c: Annotated[Console, can_do(PERMISSION)]) -> Response:
    """A new API token acting as the user; the reply shows it this once (only its hash is kept)."""
    label_typed = (await form_values(c.request)).get("label", "").strip() or "console"

    async def create() -> Response:
        user = await auth.get_user(session, user_id)
        token = await access.create_token(session, c.actor, user.username, label_typed)  # type: ignore[arg-type]
        c.address = PAGE  # a reload shows the page, not a second token
        return await _page(session, c, 201, created=(user.username, token))

    return await attempt(c, session, create, _row_refused(session, c), address=PAGE)


@router.post(f"{PAGE}/tokens/{{token_id}}/revoke")
async def revoke_token(
    token_id: int, session: Session, c: Annotated[Console, can_do(PERMISSION)]
) -> Response:
    token = await access.revoke_token(session, c.actor, token_id)  # type: ignore[arg-type]
    c.flash(c.gettext("The token “%(label)s” is revoked.", label=token.label))
    return after_action(c, PAGE)


PAGES = Pages(router, nav=(NavItem(PAGE, label("nav", "Staff"), PERMISSION, 95),), messages=MESSAGES)
