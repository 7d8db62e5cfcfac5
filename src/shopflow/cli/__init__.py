"""The `shopflow` command: serve, migrate, demo, users, tokens, policy, import, aftersales, report,
catalog."""

from __future__ import annotations

import copy
import json
import logging
import os
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shopflow.cli.catalog import catalog_app
from shopflow.cli.forecast import forecast
from shopflow.cli.history import import_olist, import_orders
from shopflow.cli.leads import leads_app
from shopflow.cli.reports import report_app
from shopflow.cli.run import check_database, console, err, failed, run, shown
from shopflow.cli.staff import tokens_app, users_app
from shopflow.cli.traffic import import_traffic
from shopflow.core import access, auth, clock, policy
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database, upgrade_schema
from shopflow.core.errors import AppError
from shopflow.core.settings import get_settings

app = typer.Typer(help="Shopflow: e-commerce operations, by the book.", no_args_is_help=True)
policy_app = typer.Typer(help="The effective policy (POL-1).", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(catalog_app, name="catalog")
app.add_typer(tokens_app, name="tokens")
app.add_typer(policy_app, name="policy")
import_app = typer.Typer(
    help="Files: order history (other platforms, Olist); carriers' tracking events, freight bills; reviews;"
    " traffic counts.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")
import_app.command("traffic")(import_traffic)
import_app.command("orders")(import_orders)
import_app.command("olist")(import_olist)
aftersales_app = typer.Typer(help="After-sales cases (ASV-1..6).", no_args_is_help=True)
app.add_typer(aftersales_app, name="aftersales")
app.add_typer(leads_app, name="leads")
app.add_typer(report_app, name="report")
app.command("forecast")(forecast)


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
    check_database(settings.database_url)
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
            raise failed(exc) from None
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
    from shopflow.payments import gateway, providers
    from shopflow.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    seconds = get_settings().worker_interval if interval is None else interval
    gateway.install(providers.from_settings(get_settings()))  # refunds and queries go to them (PAY-1)

    async def work(db: Database) -> dict[str, int] | None:
        runner = Worker(db, seconds)
        runner.handle_signals()
        if once:
            return await runner.run_once()
        await runner.run()
        return None

    handled = run(work)
    if handled is not None:
        print(json.dumps(handled))


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    settings = get_settings()
    check_database(settings.database_url)
    upgrade_schema(settings.database_url)
    console.print(f"[green]database is up to date[/green] ({escape(shown(settings.database_url))})")


# The demo admin's console password (at least `security.password_min_length` characters).
DEMO_PASSWORD = "shopflow-demo"


@app.command()
def demo(
    orders: Annotated[int, typer.Option(help="How many demo orders to place")] = 240,
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
                f"[green]demo store loaded[/green]: {sum(summary.orders.values())} orders ({states}),"
                f" after a year of history: {summary.history} orders"
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

    token = run(work)
    console.print(f"demo admin user: {demo_data.ADMIN} (password: {DEMO_PASSWORD})")
    print(f"demo admin token: {token}")


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

    cases, total = run(work)
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
        raise failed(exc) from None
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

    from shopflow import wiring
    from shopflow.core.audit import Actor
    from shopflow.fulfillment.files import RowError, parse_tracking
    from shopflow.fulfillment.service import tracking

    wiring.connect()  # the return shipments' waybills too (ASV-3), as the app does
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

    stored, duplicates, errors = run(work)
    console.print(f"{stored} events stored, {duplicates} duplicates ignored, {len(errors)} rows with errors")
    if errors:
        _row_errors(errors)
        raise typer.Exit(1)


@import_app.command("reviews")
def import_reviews(
    file: Annotated[Path, typer.Argument(help="CSV with the header: channel, order_no, rating, text")],
) -> None:
    """Reviews from review sites and marketplaces (SVC-7): a negative one opens its ticket. Each
    good row is kept in its own transaction; each bad row is listed with its line and reason, and
    the exit code is 1."""
    from shopflow.core.audit import Actor
    from shopflow.service import reviews

    rows, errors = reviews.parse(_file_text(file))
    actor = Actor(user_id=None, name=f"import:{file.name}", role="system")

    async def work(db: Database) -> tuple[int, int]:
        stored = tickets = 0
        for line, data in rows:
            try:
                async with db.transaction() as session:
                    review = await reviews.submit(session, actor, data)
            except AppError as exc:
                fields = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.detail
                errors.append(reviews.RowError(line, fields))
                continue
            stored += 1
            tickets += review.ticket_id is not None
        return stored, tickets

    stored, tickets = run(work)
    console.print(
        f"{stored} reviews stored, {tickets} negative reviews opened tickets, {len(errors)} rows with errors"
    )
    if errors:
        table = Table("line", "reason", title="rows not imported")
        for e in sorted(errors, key=lambda e: e.line):
            table.add_row(str(e.line), e.reason)
        console.print(table)
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

    result = run(work)
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
