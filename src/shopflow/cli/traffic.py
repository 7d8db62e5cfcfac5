"""`shopflow import traffic`: a CSV of daily visitors and inquiries per channel (CRM-5)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shopflow.cli.run import console, err, run
from shopflow.core.audit import Actor
from shopflow.core.db import Database

BATCH = 1000  # rows per transaction: a long file commits as it goes


def import_traffic(
    file: Annotated[Path, typer.Argument(help="CSV: date, channel, visitors, inquiries")],
) -> None:
    """Daily traffic counts (CRM-5): a (date, channel) already stored has its counts replaced.
    Good rows are loaded in batches; each bad row is listed with its line and field, and the
    exit code is 1."""
    from rich.progress import Progress

    from shopflow.analytics import files, service
    from shopflow.core import policy

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/red] cannot read {file}: {exc}")
        raise typer.Exit(1) from None
    rows, errors = files.parse(text, policy.current().orders.channels)
    actor = Actor(user_id=None, name=f"import:{file.name}", role="system")

    async def work(db: Database) -> int:
        stored = 0
        with Progress(console=console) as progress:
            bar = progress.add_task("traffic counts", total=len(rows))
            for start in range(0, len(rows), BATCH):
                batch = [data for _, data in rows[start : start + BATCH]]
                async with db.transaction() as session:
                    stored += await service.record_traffic(session, actor, batch)
                progress.advance(bar, len(batch))
        return stored

    stored = run(work)
    console.print(f"{stored} daily counts stored, {len(errors)} rows with errors")
    if errors:
        table = Table("line", "reason", title="rows not imported")
        for e in errors:
            table.add_row(str(e.line), e.reason)
        console.print(table)
        raise typer.Exit(1)
