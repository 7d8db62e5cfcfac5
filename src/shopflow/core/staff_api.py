"""Staff accounts and API tokens over the API, for admins (`users.manage`): list users, set their
team, manager, duty and email, disable and enable them; list tokens, revoke one. The same use
cases as `shopflow users|tokens` and the console's staff page (`core.auth`), audited there.
Disabling a user and revoking a token take effect on the next request of every server process."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import access, auth
from shopflow.core.api import Pages, Session, paged, problems, require
from shopflow.core.audit import Actor
from shopflow.core.schemas import Page, PeopleIn, TokenOut, UserOut

router = APIRouter(tags=["staff"], responses=problems(401, 403))
Admin = Annotated[Actor, require("users.manage")]
TokenId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # what a BIGINT id holds


def _user_out(user: auth.User, names: dict[int, str]) -> UserOut:
    manager = None if user.manager_id is None else names.get(user.manager_id)
    return UserOut(
        id=user.id,
        username=user.username,
        role=user.role,
        active=user.active,
        team=user.team,
        manager=manager,
        on_duty=user.on_duty,
        email=user.email,
        created_at=user.created_at,
    )


async def _answer(session: AsyncSession, user: auth.User) -> UserOut:
    manager = None if user.manager_id is None else await auth.get_user(session, user.manager_id)
    return _user_out(user, {} if manager is None else {manager.id: manager.username})


@router.get("/users", response_model=Page[UserOut])
async def list_users(session: Session, _: Admin, pages: Pages) -> dict[str, object]:
    """Every staff account, oldest first."""
    users = await auth.list_users(session)
    names = {user.id: user.username for user in users}
    return paged([_user_out(user, names) for user in users], pages)


@router.patch("/users/{username}", response_model=UserOut, responses=problems(404, 409, 422))
async def set_people(username: str, body: PeopleIn, session: Session, actor: Admin) -> UserOut:
    """Set a user's team, manager (another user's username, not one reporting to them), whether
    they are on duty, and email; fields left out keep their values."""
    user = await auth.find_user(session, username)
    change = body.model_dump(include=body.model_fields_set)
    await auth.set_people(session, actor, user, change)  # type: ignore[arg-type]
    return await _answer(session, user)


@router.post("/users/{username}/disable", response_model=UserOut, responses=problems(404, 409))
async def disable(username: str, session: Session, actor: Admin) -> UserOut:
    """Disable a user: from the next request their tokens are revoked and their console sessions
    ended; they cannot sign in until enabled. Nobody disables their own account (409)."""
    user = await auth.find_user(session, username)
    await access.set_active(session, actor, user, False)
    return await _answer(session, user)


@router.post("/users/{username}/enable", response_model=UserOut, responses=problems(404))
async def enable(username: str, session: Session, actor: Admin) -> UserOut:
    """Enable a disabled user: they may sign in again; their old tokens stay revoked."""
    user = await auth.find_user(session, username)
    await access.set_active(session, actor, user, True)
    return await _answer(session, user)


def _token_out(token: access.ApiToken, owner: str) -> TokenOut:
    return TokenOut(
        id=token.id, label=token.label, owner=owner, created_at=token.created_at, revoked_at=token.revoked_at
    )


@router.get("/tokens", response_model=Page[TokenOut], responses=problems(404))
async def list_tokens(
    session: Session, _: Admin, pages: Pages, username: str | None = None
) -> dict[str, object]:
    """API tokens, newest first (all, or those of `username`): never the tokens themselves."""
    found, total = await access.list_tokens(
        session, username, offset=(pages.page - 1) * pages.page_size, limit=pages.page_size
    )
    return pages.of([_token_out(token, owner) for token, owner in found], total)


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut, responses=problems(404))
async def revoke_token(token_id: TokenId, session: Session, actor: Admin) -> TokenOut:
    """Revoke a token: refused by every server process from the next request."""
    token = await access.revoke_token(session, actor, token_id)
    owner = await auth.get_user(session, token.user_id)
    return _token_out(token, owner.username)
