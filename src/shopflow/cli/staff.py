"""`shopflow users` and `shopflow tokens`: staff accounts, their people facts and API tokens (STF-1)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from shopflow.cli.run import console, run
from shopflow.core import access, auth, clock
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database

users_app = typer.Typer(help="Staff accounts (STF-1).", no_args_is_help=True)
tokens_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)


def _interactive() -> bool:
    """Whether someone is typing: stdin is a terminal."""
    return sys.stdin.isatty()


def _new_password() -> str:
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


TeamOption = Annotated[str | None, typer.Option(help="The user's team (free text; empty clears it)")]
ManagerOption = Annotated[str | None, typer.Option(help="The username of their manager (empty: none)")]
EmailOption = Annotated[
    str | None, typer.Option(help="Their email, where alerts reach them (empty clears it)")
]


def _people(team: str | None, manager: str | None, email: str | None) -> auth.PeopleChange:
    """The options given, as a change of the user (options not given are left out)."""
    given = {"team": team, "manager": manager, "email": email}
    return {key: value for key, value in given.items() if value is not None}  # type: ignore[return-value]


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(auth.Role)}")],
    password: Annotated[
        str | None, typer.Option(help="Console password; asked for (twice) when typing at a terminal")
    ] = None,
    team: TeamOption = None,
    manager: ManagerOption = None,
    email: EmailOption = None,
) -> None:
    """Add a staff user with a role (on duty). Without a password it cannot sign in to the console
    until one is set (`shopflow users passwd NAME`)."""
    if password is None and _interactive():
        password = _new_password()

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            user = await auth.add_user(session, SYSTEM, name, role, password)
            await auth.set_people(session, SYSTEM, user, _people(team, manager, email))

    run(work)
    console.print(f"user [bold]{escape(name)}[/bold] added with role {role}")
    if password is None:
        console.print(
            f"It cannot sign in to the console until a password is set: shopflow users passwd {escape(name)}",
            soft_wrap=True,
        )


@users_app.command("passwd")
def users_passwd(
    name: str,
    password: Annotated[
        str | None, typer.Option(help="The new password; asked for (twice) when not given")
    ] = None,
) -> None:
    """Set a user's console password (at least `security.password_min_length` characters)."""
    new = _new_password() if password is None else password

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            await auth.set_password(session, SYSTEM, await auth.find_user(session, name), new)

    run(work)
    console.print(f"password of [bold]{escape(name)}[/bold] set")


@users_app.command("set")
def users_set(
    name: str,
    team: TeamOption = None,
    manager: ManagerOption = None,
    on_duty: Annotated[
        bool | None, typer.Option("--on-duty/--off-duty", help="Whether they take work now")
    ] = None,
    email: EmailOption = None,
) -> None:
    """Set a user's team, manager, duty or email; options not given keep their values."""
    change = _people(team, manager, email)
    if on_duty is not None:
        change["on_duty"] = on_duty

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            await auth.set_people(session, SYSTEM, await auth.find_user(session, name), change)

    run(work)
    console.print(f"user [bold]{escape(name)}[/bold] updated")


def _set_active(name: str, active: bool) -> None:
    async def work(db: Database) -> None:
        async with db.transaction() as session:
            await access.set_active(session, SYSTEM, await auth.find_user(session, name), active)

    run(work)


@users_app.command("disable")
def users_disable(name: str) -> None:
    """Disable a user: their console sessions end and their tokens are revoked, refused by every
    server from the next request; no sign-in until enabled."""
    _set_active(name, False)
    console.print(f"user [bold]{escape(name)}[/bold] disabled: signed out, tokens revoked")


@users_app.command("enable")
def users_enable(name: str) -> None:
    """Enable a disabled user: they may sign in again (their old tokens stay revoked)."""
    _set_active(name, True)
    console.print(f"user [bold]{escape(name)}[/bold] enabled")


@users_app.command("list")
def users_list() -> None:
    """List staff users: role, state, team, manager, duty, email."""

    async def work(db: Database) -> list[auth.User]:
        async with db.transaction() as session:
            return await auth.list_users(session)

    users = run(work)
    names = {user.id: user.username for user in users}
    table = Table("id", "username", "role", "active", "team", "manager", "on duty", "email")
    for user in users:
        table.add_row(
            str(user.id),
            user.username,
            user.role,
            "yes" if user.active else "no",
            user.team or "",
            names.get(user.manager_id, "") if user.manager_id is not None else "",
            "yes" if user.on_duty else "no",
            user.email or "",
        )
    console.print(table)


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="The user the token acts as")],
    label: Annotated[str, typer.Option(help="What the token is for")] = "cli",
) -> None:
    """Create an API token for a user; the last line of output ends with the token."""

    async def work(db: Database) -> str:
        async with db.transaction() as session:
            return await access.create_token(session, SYSTEM, name, label)

    token = run(work)
    console.print("Store it now: it is shown only once.")
    print(f"token for {name}: {token}")


@tokens_app.command("list")
def tokens_list(
    name: Annotated[str | None, typer.Argument(help="Only this user's tokens")] = None,
) -> None:
    """List API tokens, newest first: label, owner, when created and revoked. The tokens
    themselves are not stored (only their hashes), so they cannot be shown."""

    async def work(db: Database) -> list[tuple[access.ApiToken, str]]:
        async with db.transaction() as session:
            return (await access.list_tokens(session, name))[0]

    table = Table("id", "label", "owner", "created", "revoked")
    for token, owner in run(work):
        revoked = "" if token.revoked_at is None else clock.local_text(token.revoked_at)
        table.add_row(str(token.id), token.label, owner, clock.local_text(token.created_at), revoked)
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (`shopflow tokens list`)")],
) -> None:
    """Revoke an API token: every server refuses it from the next request."""

    async def work(db: Database) -> access.ApiToken:
        async with db.transaction() as session:
            return await access.revoke_token(session, SYSTEM, token_id)

    token = run(work)
    console.print(f"token {token.id} ([bold]{escape(token.label)}[/bold]) revoked")
