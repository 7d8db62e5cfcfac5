"""The `shopflow` command: serve, migrate, demo, users, tokens, policy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from shopflow.core import auth, crypto, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.core.errors import AppError
from shopflow.core.settings import get_settings

app = typer.Typer(help="Shopflow: e-commerce operations, by the book.", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts (STF-1).", no_args_is_help=True)
tokens_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
policy_app = typer.Typer(help="The effective policy (POL-1).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(policy_app, name="policy")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run one unit of CLI work against SHOPFLOW_DATABASE_URL; errors print, exit 1."""
    settings = get_settings()
    crypto.install(settings.fernet_key())

    async def main() -> T:
        db = Database.from_url(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        policy.install(policy.load(settings.policy_file))
        return asyncio.run(main())
    except AppError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        for field_error in exc.errors:
            err.print(f"  {field_error.field}: {field_error.message}")
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL only)")] = 1,
) -> None:
    """Serve the HTTP API (and its docs at /docs)."""
    import uvicorn

    settings = get_settings()
    settings.fernet_key()  # create the key once, before several workers race to
    settings.sandbox_key()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        err.print("[yellow]SQLite serves one process; starting 1 worker[/yellow]")
        workers = 1
    uvicorn.run(
        "shopflow.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from alembic import command
    from alembic.config import Config

    settings = get_settings()
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["database_url"] = settings.database_url
    command.upgrade(config, "heads")
    console.print(f"[green]database is up to date[/green] ({settings.database_url})")


@app.command()
def demo(
    orders: Annotated[int, typer.Option(help="How many demo orders to place")] = 300,
) -> None:
    """Load a realistic demo store and print an admin token."""
    from shopflow import demo as demo_data

    async def work(db: Database) -> str:
        loaded = await demo_data.load(db, orders, console)
        if not loaded:
            console.print("demo data already present; not loading it again")
        async with db.transaction() as session:
            if not await auth.user_exists(session, demo_data.ADMIN):
                await auth.add_user(session, SYSTEM, demo_data.ADMIN, auth.Role.ADMIN, "admin")
            return await auth.create_token(session, SYSTEM, demo_data.ADMIN, "demo")

    token = _run(work)
    console.print(f"demo admin user: {demo_data.ADMIN} (password: admin)")
    print(f"demo admin token: {token}")


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(auth.Role)}")],
    password: Annotated[str | None, typer.Option(help="Console password")] = None,
) -> None:
    """Add a staff user with a role."""

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            await auth.add_user(session, SYSTEM, name, role, password)

    _run(work)
    console.print(f"user [bold]{name}[/bold] added with role {role}")


@users_app.command("list")
def users_list() -> None:
    """List staff users."""

    async def work(db: Database) -> list[auth.User]:
        async with db.transaction() as session:
            return await auth.list_users(session)

    table = Table("id", "username", "role", "active")
    for user in _run(work):
        table.add_row(str(user.id), user.username, user.role, "yes" if user.active else "no")
    console.print(table)


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="The user the token acts as")],
    label: Annotated[str, typer.Option(help="What the token is for")] = "cli",
) -> None:
    """Create an API token for a user; the last line of output ends with the token."""

    async def work(db: Database) -> str:
        async with db.transaction() as session:
            return await auth.create_token(session, SYSTEM, name, label)

    token = _run(work)
    console.print("Store it now: it is shown only once.")
    print(f"token for {name}: {token}")


@policy_app.command("show")
def policy_show() -> None:
    """Print the effective policy as JSON."""
    settings = get_settings()
    try:
        effective = policy.load(settings.policy_file)
    except AppError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None
    print(json.dumps(effective.model_dump(mode="json"), indent=2, ensure_ascii=False))
