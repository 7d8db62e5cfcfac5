"""`shopflow import orders` and `shopflow import olist`: a store's order history from another
platform's export or Olist's dataset (ORD-1, issue 15 item 6), loaded a batch of orders per
transaction through the history writer, with a progress bar, a summary and the rows rejected."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from shopflow.analytics.importing import olist, writer
from shopflow.analytics.importing.platforms import parse
from shopflow.analytics.importing.records import HistoricalOrder, RowError
from shopflow.cli.run import console, err, run
from shopflow.core import policy
from shopflow.core.audit import Actor
from shopflow.core.db import Database

BATCH = 1000  # orders per transaction: a long file commits as it goes


class Layout(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    CSV = "csv"


@dataclass(slots=True)
class Loaded:
    """What an import came to."""

    loaded: int = 0
    present: int = 0
    customers: int = 0
    skus: int = 0
    errors: list[RowError] = field(default_factory=list)


async def load(
    db: Database,
    actor: Actor,
    parsed: Iterable[HistoricalOrder | RowError],
    done: Loaded,
    advance: Callable[[HistoricalOrder | RowError], None],
) -> Loaded:
    """Write the orders of `parsed` in batches of `BATCH`, one transaction each; its RowErrors
    collected in `done`; `advance` told of each item once its batch is stored."""
    batch: list[HistoricalOrder] = []

    async def flush() -> None:
        async with db.transaction() as session:
            written = await writer.write(session, actor, batch)
        done.loaded += written.loaded
        done.present += written.present
        done.customers += written.customers
        done.skus += written.skus
        advance(batch[-1])
        batch.clear()

    for item in parsed:
        if isinstance(item, RowError):
            done.errors.append(item)
            continue
        batch.append(item)
        if len(batch) >= BATCH:
            await flush()
    if batch:
        await flush()
    return done


def _report(done: Loaded, errors_file: Path | None) -> None:
    summary = Table("loaded", "already present", "rows rejected", "new customers", "new SKUs", title="orders")
    summary.add_row(
        *(str(n) for n in (done.loaded, done.present, len(done.errors), done.customers, done.skus))
    )
    console.print(summary)
    if not done.errors:
        return
    ordered = sorted(done.errors, key=lambda e: (e.file, e.line))
    table = Table("file", "line", "reason", title="rows not imported")
    for e in ordered:
        table.add_row(escape(e.file), str(e.line), escape(e.reason))
    console.print(table)
    if errors_file is not None:
        with errors_file.open("w", encoding="utf-8", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["file", "line", "reason"])
            out.writerows([e.file, e.line, e.reason] for e in ordered)
        console.print(f"rows not imported written to {escape(str(errors_file))}")


def _fail(message: str) -> typer.Exit:
    """Print why the command cannot run, on one unbroken line; the exit (1) to raise."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)


def _zone(name: str | None) -> ZoneInfo:
    if name is None:
        return ZoneInfo(policy.current().calendar.timezone)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(f"--timezone {name!r} is not a time zone (like Asia/Shanghai)") from None


ErrorsOption = Annotated[
    Path | None, typer.Option("--errors", help="Also write the rows not imported to this CSV file")
]


def import_orders(
    path: Annotated[Path, typer.Argument(help="The export: a CSV file, one row per order line")],
    layout: Annotated[Layout, typer.Option("--format", help="The export's layout")],
    timezone: Annotated[
        str | None, typer.Option(help="Zone of times written without an offset (default: the store's)")
    ] = None,
    errors: ErrorsOption = None,
) -> None:
    """Order history from Shopify's or WooCommerce's order export, or Shopflow's own CSV layout
    (docs/imports.md): finished orders with their customers, SKUs and captured payments; no stock,
    clock or notification. Re-importing changes nothing. Each bad row is listed with its line and
    the exit code is 1; the good rows are loaded."""
    if not path.is_file():
        raise _fail(f"{path} is not a file")
    actor = Actor(user_id=None, name=f"import:{path.name}", role="system")

    async def work(db: Database) -> Loaded:
        zone = _zone(timezone)
        size = path.stat().st_size
        with (
            path.open(encoding="utf-8-sig", newline="") as handle,
            Progress(console=err) as progress,
        ):
            bar = progress.add_task(f"{layout} orders", total=size)

            def advance(_: HistoricalOrder | RowError) -> None:
                progress.update(bar, completed=handle.buffer.tell())

            done = await load(db, actor, parse(handle, layout, zone), Loaded(), advance)
            progress.update(bar, completed=size)
        return done

    try:
        done = run(work)
    except UnicodeDecodeError as exc:
        raise _fail(f"{path} is not UTF-8 text: {exc.reason}") from None
    _report(done, errors)
    if done.errors:
        raise typer.Exit(1)


def import_olist(
    directory: Annotated[Path, typer.Argument(help="A directory holding Olist's CSV files (Kaggle's names)")],
    errors: ErrorsOption = None,
) -> None:
    """Olist's public dataset as order history: every order id of the items or payments file an
    order of the `olist` channel (BRL), its items lines, its payments captures, its products SKUs
    under their English category; the orders file, where it has the order, gives its customer,
    status and times, otherwise it is completed with its date unknown. Re-importing changes
    nothing; each bad row is listed with its file and line, and the exit code is 1."""
    if not directory.is_dir():
        raise _fail(f"{directory} is not a directory")
    source = olist.OlistDirectory(directory)
    if not {"items", "payments"} & set(source.found):
        raise _fail(f"{directory} has neither {olist.FILES['items']} nor {olist.FILES['payments']}")
    actor = Actor(user_id=None, name=f"import:olist:{directory.name}", role="system")

    async def work(db: Database) -> Loaded:
        with source, Progress(console=err) as progress:
            staging = progress.add_task(
                "reading the files",
                total=sum((directory / olist.FILES[name]).stat().st_size for name in source.found),
            )
            total = source.stage(lambda size: progress.advance(staging, size))
            bar = progress.add_task("olist orders", total=total)
            seen = 0

            def advance(_: HistoricalOrder | RowError) -> None:
                nonlocal seen
                seen = min(total, seen + BATCH)
                progress.update(bar, completed=seen)

            done = await load(db, actor, source.orders(), Loaded(errors=list(source.errors)), advance)
            progress.update(bar, completed=total)
        return done

    done = run(work)
    _report(done, errors)
    if done.errors:
        raise typer.Exit(1)
