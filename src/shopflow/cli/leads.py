"""`shopflow leads`: import a CSV of leads, list leads (CRM-2..4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from shopflow.cli.run import console, err, run
from shopflow.core.audit import Actor
from shopflow.core.db import Database

leads_app = typer.Typer(help="Leads (CRM-2..4): import, list.", no_args_is_help=True)
BATCH = 1000  # rows per transaction: a long file commits as it goes


@leads_app.command("import")
def import_leads(
    file: Annotated[
        Path,
        typer.Argument(help="CSV: name, phone, need_tags[, source, note, budget, quantity, quote_asked]"),
    ],
) -> None:
    """Leads from a CSV file, graded and assigned as the form's are. Good rows are loaded in
    batches; each bad row is listed with its line and field, and the exit code is 1."""
    from rich.progress import Progress

    from shopflow.crm.leads import files, service

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/red] cannot read {file}: {exc}")
        raise typer.Exit(1) from None
    rows, errors = files.parse(text)
    actor = Actor(user_id=None, name=f"import:{file.name}", role="system")

    async def work(db: Database) -> tuple[int, int]:
        stored = appended = 0
        async with db.transaction() as session:
            owners = await service.chooser(session)
        with Progress(console=console) as progress:
            bar = progress.add_task("leads", total=len(rows))
            for start in range(0, len(rows), BATCH):
                batch = [data for _, data in rows[start : start + BATCH]]
                async with db.transaction() as session:
                    done = await service.import_leads(session, actor, batch, owners)
                stored += done.stored
                appended += done.appended
                progress.advance(bar, len(batch))
        return stored, appended

    stored, appended = run(work)
    console.print(
        f"{stored} leads stored, {appended} rows appended to open leads, {len(errors)} rows with errors"
    )
    if errors:
        table = Table("line", "reason", title="rows not imported")
        for e in errors:
            table.add_row(str(e.line), e.reason)
        console.print(table)
        raise typer.Exit(1)


@leads_app.command("list")
def list_leads(
    grade: Annotated[str | None, typer.Option(help="Only this grade (A, B, C)")] = None,
    state: Annotated[str | None, typer.Option(help="Only this state (new, contacted, …)")] = None,
    late: Annotated[bool, typer.Option("--late", help="Only leads with a late clock")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first", min=1, max=500)] = 50,
) -> None:
    """List leads, newest first (names and phones masked)."""
    from shopflow.core.privacy import mask_name, mask_phone
    from shopflow.crm.leads import service
    from shopflow.crm.leads.models import Grade, LeadState

    for name, value, kind in (("grade", grade, Grade), ("state", state, LeadState)):
        if value is not None and value not in {member.value for member in kind}:
            err.print(f"error: --{name} must be one of {', '.join(kind)}")
            raise typer.Exit(1)

    async def work(db: Database) -> tuple[list[Any], int, dict[int, str], set[int]]:
        async with db.transaction() as session:
            found, total = await service.list_leads(session, grade, state, None, late, 1, limit)
            owners = await service.usernames(session, [lead.owner_id for lead in found])
            return found, total, owners, await service.late_among(session, [lead.id for lead in found])

    found, total, owners, late_ids = run(work)
    table = Table(title=f"{total} leads")
    for column in ("id", "name", "phone", "grade", "state", "owner"):
        table.add_column(column, no_wrap=True)
    table.add_column("why")
    for lead in found:
        table.add_row(
            str(lead.id),
            mask_name(lead.contact["name"]),
            mask_phone(lead.contact["phone"]),
            lead.grade,
            lead.state,
            owners.get(lead.owner_id or 0, "—"),
            "; ".join(lead.reasons),
            style="red" if lead.id in late_ids else None,
        )
    console.print(table)
