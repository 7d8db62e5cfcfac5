"""The `shopflow` command: serve, migrate, demo, users, tokens, policy, import, aftersales."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import re
import socket
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from asyncpg import PostgresError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from shopflow.core import access, auth, clock, crypto, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database, upgrade_schema
from shopflow.core.errors import AppError
from shopflow.core.settings import get_settings

app = typer.Typer(help="Shopflow: e-commerce operations, by the book.", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts (STF-1).", no_args_is_help=True)
tokens_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
policy_app = typer.Typer(help="The effective policy (POL-1).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(policy_app, name="policy")
import_app = typer.Typer(help="Carriers' files: tracking events, freight bills.", no_args_is_help=True)
app.add_typer(import_app, name="import")
aftersales_app = typer.Typer(help="After-sales cases (ASV-1..6).", no_args_is_help=True)
app.add_typer(aftersales_app, name="aftersales")

console = Console()
err = Console(stderr=True)
T = TypeVar("T")


# How long a command waits for the database server to accept a connection before saying so.
CONNECT_SECONDS = 10.0


def _shown(url: str) -> str:
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
        raise AppError(f"{_shown(url)!r} is not a database URL: write {example}") from None
    try:
        db = Database.from_url(url, pool_size)
    except ValueError as exc:  # a database Shopflow does not run on
        raise AppError(f"{exc} (the database URL is {_shown(url)!r})") from None
    try:
        await _open(db, parsed)
    except Exception as exc:
        await db.dispose()
        reason = _unreachable(exc)
        if reason is None:
            raise
        raise AppError(f"cannot reach the database at {_shown(url)}: {reason}") from None
    return db


def _failed(exc: AppError) -> typer.Exit:
    """Print why a command failed, each line unbroken; the exit (1) to raise."""
    err.print(f"[red]error:[/red] {escape(exc.detail)}", soft_wrap=True)
    for field_error in exc.errors:
        err.print(escape(f"  {field_error.field}: {field_error.message}"), soft_wrap=True)
    return typer.Exit(1)


def _check_database(url: str) -> None:
    """Exit 1 with one line when the database at `url` cannot be used (`_connected`)."""

    async def check() -> None:
        await (await _connected(url)).dispose()

    try:
        asyncio.run(check())
    except AppError as exc:
        raise _failed(exc) from None


def _run(work: Callable[[Database], Awaitable[T]]) -> T:
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
        raise _failed(exc) from None


def _served_url(host: str, port: int) -> str:
    """The address `serve --host --port` answers at; the machine's name when it listens on all
    interfaces."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL only)")] = 1,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run the worker in each server process")
    ] = False,
) -> None:
    """Serve the HTTP API (and its docs at /docs); with --with-worker, sweeps run beside it.
    Links Shopflow hands out (pay URLs) point at this address unless SHOPFLOW_PUBLIC_URL is set."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    # The environment reaches every server process (--workers); the settings read it afresh.
    os.environ.setdefault("SHOPFLOW_PUBLIC_URL", _served_url(host, port))
    get_settings.cache_clear()
    settings = get_settings()
    _check_database(settings.database_url)
    settings.fernet_key()  # create the keys once, before several workers race to
    if settings.sandbox:
        settings.sandbox_key()
        err.print("[yellow]sandbox payments on (SHOPFLOW_SANDBOX=true): no real money moves[/yellow]")
    else:
        err.print("sandbox payments off: set SHOPFLOW_SANDBOX=true to mark orders paid without money")
    if workers > 1 and settings.database_url.startswith("sqlite"):
        err.print("[yellow]SQLite serves one process; starting 1 worker[/yellow]")
        workers = 1
    if with_worker:
        from shopflow.worker import check_interval

        try:
            policy.install(policy.load(settings.policy_file))
            check_interval(settings.worker_interval)
        except AppError as exc:
            raise _failed(exc) from None
    log_config = copy.deepcopy(LOGGING_CONFIG)  # shopflow's own log lines (the worker's) shown too
    log_config["loggers"]["shopflow"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    uvicorn.run(
        "shopflow.app:create_app_with_worker" if with_worker else "shopflow.app:create_app",
        factory=True,
        log_config=log_config,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


@app.command()
def worker(
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between rounds of sweeps (default: SHOPFLOW_WORKER_INTERVAL, else 5)"),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run every sweep until nothing is due, print the counts, exit")
    ] = False,
) -> None:
    """Run the worker: SLA breaches and their actions, notifications. SIGTERM or Ctrl-C stop it
    after the batch in progress has committed."""
    from shopflow.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    seconds = get_settings().worker_interval if interval is None else interval

    async def work(db: Database) -> dict[str, int] | None:
        runner = Worker(db, seconds)
        runner.handle_signals()
        if once:
            return await runner.run_once()
        await runner.run()
        return None

    handled = _run(work)
    if handled is not None:
        print(json.dumps(handled))


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    settings = get_settings()
    _check_database(settings.database_url)
    upgrade_schema(settings.database_url)
    console.print(f"[green]database is up to date[/green] ({escape(_shown(settings.database_url))})")


# The demo admin's console password (at least `security.password_min_length` characters).
DEMO_PASSWORD = "shopflow-demo"


@app.command()
def demo(
    orders: Annotated[int, typer.Option(help="How many demo orders to place")] = 300,
) -> None:
    """Load a demo store with four weeks of trading and print an admin token. Progress goes to
    stderr; the history sends no customer notification."""
    from shopflow import demo as demo_data

    if orders < demo_data.MIN_ORDERS:
        raise typer.BadParameter(
            f"the demo needs at least {demo_data.MIN_ORDERS} orders", param_hint="--orders"
        )

    async def work(db: Database) -> str:
        summary = await demo_data.load(db, orders, err)
        if summary is None:
            console.print("demo data already present; not loading it again")
        else:
            states = ", ".join(f"{state} {n}" for state, n in sorted(summary.orders.items()))
            console.print(
                f"[green]demo store loaded[/green]: {sum(summary.orders.values())} orders ({states})"
            )
            late = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.late.items()))
            console.print(
                f"{summary.carriers} carriers with {summary.rules} rules; {summary.cases} after-sales cases;"
                f" alerts: {summary.alerts}"
            )
            console.print(f"past their deadline until the worker's first sweep: {late}")
        async with db.transaction() as session:
            if not await auth.user_exists(session, demo_data.ADMIN):
                await auth.add_user(session, SYSTEM, demo_data.ADMIN, auth.Role.ADMIN, DEMO_PASSWORD)
            return await access.create_token(session, SYSTEM, demo_data.ADMIN, "demo")

    token = _run(work)
    console.print(f"demo admin user: {demo_data.ADMIN} (password: {DEMO_PASSWORD})")
    print(f"demo admin token: {token}")


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

    _run(work)
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

    _run(work)
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

    _run(work)
    console.print(f"user [bold]{escape(name)}[/bold] updated")


def _set_active(name: str, active: bool) -> None:
    async def work(db: Database) -> None:
        async with db.transaction() as session:
            await access.set_active(session, SYSTEM, await auth.find_user(session, name), active)

    _run(work)


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

    users = _run(work)
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

    token = _run(work)
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
    for token, owner in _run(work):
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

    token = _run(work)
    console.print(f"token {token.id} ([bold]{escape(token.label)}[/bold]) revoked")


@aftersales_app.command("list")
def aftersales_list(
    state: Annotated[
        str | None, typer.Option(help="Only cases in this state (requested, approved, …)")
    ] = None,
    type: Annotated[
        str | None, typer.Option(help="Only cases of this type (return_refund, exchange, …)")
    ] = None,
    order_id: Annotated[int | None, typer.Option(help="Only this order's cases")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first", min=1, max=500)] = 50,
) -> None:
    """List after-sales cases, newest first."""
    from shopflow.aftersales import service as aftersales
    from shopflow.aftersales.models import CaseState, CaseType
    from shopflow.core import money

    known = {"state": (state, CaseState), "type": (type, CaseType)}
    for name, (value, kind) in known.items():
        if value is not None and value not in {member.value for member in kind}:
            err.print(f"error: --{name} must be one of {', '.join(kind)}")
            raise typer.Exit(1)

    async def work(db: Database) -> tuple[list[Any], int]:
        async with db.transaction() as session:
            return await aftersales.list_cases(session, state, type, order_id, 1, limit)

    cases, total = _run(work)
    table = Table(
        "id", "case", "order", "type", "reason", "state", "refund", "opened", title=f"{total} cases"
    )
    for case in cases:
        table.add_row(
            str(case.id),
            case.case_no,
            str(case.order_id),
            case.type,
            case.reason,
            case.state,
            money.fmt(case.refund_total),
            clock.local_text(case.created_at),
        )
    console.print(table)


@policy_app.command("show")
def policy_show() -> None:
    """Print the effective policy as JSON."""
    settings = get_settings()
    try:
        effective = policy.load(settings.policy_file)
    except AppError as exc:
        raise _failed(exc) from None
    print(json.dumps(effective.model_dump(mode="json"), indent=2, ensure_ascii=False))


# --- carriers' files (FUL-5, FUL-8) ------------------------------------------------------------

IMPORT_BATCH = 500  # rows per transaction: a long file commits as it goes


def _file_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/red] cannot read {path}: {exc}")
        raise typer.Exit(1) from None


def _row_errors(errors: list[Any]) -> None:
    table = Table("row", "waybill", "reason", title="rows not imported")
    for e in sorted(errors, key=lambda e: e.row):
        table.add_row(str(e.row), e.waybill, e.reason)
    console.print(table)


@import_app.command("tracking")
def import_tracking(
    file: Annotated[Path, typer.Argument(help="CSV: waybill, status, time[, location, description]")],
) -> None:
    """Tracking events from a carrier's export (FUL-5). Good rows are kept; each bad row is listed
    with its line and reason (unknown waybill, bad time, unknown status) and the exit code is 1."""
    from zoneinfo import ZoneInfo

    from rich.progress import Progress

    from shopflow.core.audit import Actor
    from shopflow.fulfillment.files import RowError, parse_tracking
    from shopflow.fulfillment.service import tracking

    content = _file_text(file)
    actor = Actor(user_id=None, name=f"import:{file.name}", role="system")

    async def work(db: Database) -> tuple[int, int, list[RowError]]:
        rows, errors = parse_tracking(content, ZoneInfo(policy.current().calendar.timezone))
        stored = duplicates = 0
        with Progress(console=console) as progress:
            bar = progress.add_task("tracking events", total=len(rows))
            for start in range(0, len(rows), IMPORT_BATCH):
                batch = rows[start : start + IMPORT_BATCH]
                async with db.transaction() as session:
                    recorded = await tracking.import_rows(session, actor, batch)
                stored += recorded.stored
                duplicates += recorded.duplicates
                errors += recorded.errors
                progress.advance(bar, len(batch))
        return stored, duplicates, errors

    stored, duplicates, errors = _run(work)
    console.print(f"{stored} events stored, {duplicates} duplicates ignored, {len(errors)} rows with errors")
    if errors:
        _row_errors(errors)
        raise typer.Exit(1)


@import_app.command("freight-bill")
def import_freight_bill(
    carrier: Annotated[str, typer.Argument(help="The carrier's code")],
    file: Annotated[Path, typer.Argument(help="CSV: waybill, amount (yuan)")],
    reference: Annotated[
        str | None, typer.Option(help="The bill's reference; default: the file name")
    ] = None,
    period_from: Annotated[
        str | None, typer.Option("--from", help="Start of the billed period (ISO date/time, store zone)")
    ] = None,
    period_to: Annotated[
        str | None, typer.Option("--to", help="End of the billed period, exclusive; default: now")
    ] = None,
) -> None:
    """Reconcile a carrier's freight bill (FUL-8): matched, over-charged, unknown waybills, and
    parcels of the period it does not bill. Exit code 0 only when every line matched."""
    from zoneinfo import ZoneInfo

    from shopflow.core import money
    from shopflow.fulfillment.files import event_time
    from shopflow.fulfillment.models.freight import BillOutcome
    from shopflow.fulfillment.service import reports

    content = _file_text(file)

    async def work(db: Database) -> reports.BillResult:
        zone = ZoneInfo(policy.current().calendar.timezone)
        bounds = []
        for name, value in (("--from", period_from), ("--to", period_to)):
            at = None if value is None else event_time(value, zone)
            if value is not None and at is None:
                raise AppError(f"{name} {value!r} is not an ISO date or time")
            bounds.append(at)
        async with db.transaction() as session:
            return await reports.reconcile_bill(
                session, SYSTEM, carrier, reference or file.name, content, bounds[0], bounds[1]
            )

    result = _run(work)
    counts = Table("outcome", "parcels", title=f"freight bill {result.reference} of {result.carrier.code}")
    for outcome, n in result.counts.items():
        counts.add_row(outcome, str(n))
    console.print(counts)
    lines = Table("row", "waybill", "billed", "expected", "outcome", title="lines to look at")
    for line in result.lines:
        if line.outcome is not BillOutcome.MATCHED:
            shown = ["" if v is None else money.fmt(v) for v in (line.billed, line.expected)]
            lines.add_row("" if line.row is None else str(line.row), line.waybill, *shown, line.outcome)
    if lines.row_count:
        console.print(lines)
    if result.errors:
        _row_errors(result.errors)
    if lines.row_count or result.errors:
        raise typer.Exit(1)
