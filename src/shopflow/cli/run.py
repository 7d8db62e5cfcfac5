"""What every `shopflow` command shares: its two consoles, opening the database (one line naming
the problem when it cannot be used) and running one unit of work against it."""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from asyncpg import PostgresError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from shopflow.core import crypto, policy
from shopflow.core.db import Database
from shopflow.core.errors import AppError
from shopflow.core.settings import get_settings

console = Console()
err = Console(stderr=True)
T = TypeVar("T")

# How long a command waits for the database server to accept a connection before saying so.
CONNECT_SECONDS = 10.0


def shown(url: str) -> str:
    """A database URL as printed: its password hidden."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url, count=1)


def _unreachable(exc: BaseException) -> str | None:
    """Why a connection could not be opened, in a few words; None for any other error."""
    match exc:
        case ConnectionRefusedError():
            return "connection refused"
        case socket.gaierror():
            return "unknown host"
        case TimeoutError():
            return f"no answer within {CONNECT_SECONDS:g} s"
        case OSError():
            return exc.strerror or str(exc)
        case PostgresError() | sqlite3.Error():
            return str(exc)
        case _:
            return None


async def _open(db: Database, url: URL) -> None:
    """Open and close one connection. SQLite through sqlite3 itself: after a failed open,
    aiosqlite's thread outlives the event loop and prints a traceback at exit."""
    if url.get_backend_name() == "sqlite":
        sqlite3.connect(url.database or "").close()
        return
    async with asyncio.timeout(CONNECT_SECONDS), db.engine.connect():
        pass


async def _connected(url: str, pool_size: int | None = None) -> Database:
    """A Database for `url` once it has opened a connection; otherwise an AppError whose one
    line names the problem: a malformed URL, an unsupported database, a server that cannot be
    reached or refuses (the password never shown)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        example = "postgresql://user@host:5432/db or sqlite:///path"
        raise AppError(f"{shown(url)!r} is not a database URL: write {example}") from None
    try:
        db = Database.from_url(url, pool_size)
    except ValueError as exc:  # a database Shopflow does not run on
        raise AppError(f"{exc} (the database URL is {shown(url)!r})") from None
    try:
        await _open(db, parsed)
    except Exception as exc:
        await db.dispose()
        reason = _unreachable(exc)
        if reason is None:
            raise
        raise AppError(f"cannot reach the database at {shown(url)}: {reason}") from None
    return db


def failed(exc: AppError) -> typer.Exit:
    """Print why a command failed, each line unbroken; the exit (1) to raise."""
    err.print(f"[red]error:[/red] {escape(exc.detail)}", soft_wrap=True)
    for field_error in exc.errors:
        err.print(escape(f"  {field_error.field}: {field_error.message}"), soft_wrap=True)
    return typer.Exit(1)


def check_database(url: str) -> None:
    """Exit 1 with one line when the database at `url` cannot be used (`_connected`)."""

    async def check() -> None:
        await (await _connected(url)).dispose()

    try:
        asyncio.run(check())
    except AppError as exc:
        raise failed(exc) from None


def run(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run one unit of CLI work against SHOPFLOW_DATABASE_URL; errors print, exit 1."""
    settings = get_settings()
    crypto.install(settings.fernet_key())

    async def main() -> T:
        db = await _connected(settings.database_url, settings.database_pool_size)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        policy.install(policy.load(settings.policy_file))
        return asyncio.run(main())
    except AppError as exc:
        raise failed(exc) from None
