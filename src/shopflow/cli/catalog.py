"""`shopflow catalog check`: the banned words of every listing (CAT-4)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from shopflow.cli.run import console, err, run
from shopflow.core.db import Database

catalog_app = typer.Typer(help="The catalog (CAT-4): check listings for banned words.", no_args_is_help=True)
BATCH = 500  # products read per query


@catalog_app.command("check")
def check(
    limit: Annotated[int, typer.Option(help="List at most this many hits", min=1, max=100_000)] = 1000,
) -> None:
    """Scan every product's title and description for the policy's banned words; list each hit
    with the product, its status, the field, the word and its position. Exit code 1 when any
    listing uses one."""
    from rich.progress import Progress

    from shopflow.catalog import listing
    from shopflow.catalog.compliance import Hit

    async def work(db: Database) -> list[tuple[int, str, str, Hit]]:
        with Progress(console=err) as progress:
            bar = progress.add_task("products", total=None)

            def advance(checked: int, total: int) -> None:
                progress.update(bar, completed=checked, total=total)

            async with db.transaction() as session:
                found = await listing.scan(session, BATCH, advance)
                return [(p.id, p.name, p.status, hit) for p, hits in found for hit in hits]

    hits = run(work)
    products = len({product_id for product_id, _, _, _ in hits})
    if not hits:
        console.print("no listing uses a banned word")
        return
    table = Table("product", "name", "status", "field", "word", "position", title="banned words (CAT-4)")
    for product_id, name, status, hit in hits[:limit]:
        table.add_row(str(product_id), escape(name), status, hit.field, escape(hit.word), str(hit.position))
    console.print(table)
    shown = "" if len(hits) <= limit else f" (the first {limit} listed)"
    console.print(f"{len(hits)} banned words in {products} products{shown}")
    raise typer.Exit(1)
