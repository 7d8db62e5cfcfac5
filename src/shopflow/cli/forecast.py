"""`shopflow forecast --sku CODE`: a SKU's recent demand, its forecast and the forecast's backtest
error against the naive one (ANA-5)."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from shopflow.cli.run import console, run
from shopflow.core.db import Database


def _ratio(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.1%}"


def forecast(
    sku: Annotated[str, typer.Option("--sku", help="The SKU's code")],
    weeks: Annotated[int, typer.Option(help="Weeks of history shown", min=1, max=104)] = 4,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Make every SKU's forecast now (the nightly run) first")
    ] = False,
) -> None:
    """Show a SKU's daily demand over the last weeks, its forecast for the coming ones, and the
    backtest over the last 8 weeks (MAPE, WAPE) beside the naive "same as last week" forecast."""
    from shopflow.catalog import service as catalog
    from shopflow.core import clock
    from shopflow.planning.forecasting import ClassError
    from shopflow.planning.service import forecasts

    async def work(db: Database) -> tuple[forecasts.SkuForecast, list[ClassError]]:
        if recompute:
            async with db.transaction() as session:
                await forecasts.roll_up_demand(session, clock.today())
                await forecasts.recompute(session, clock.today())
        async with db.transaction() as session:
            found = await forecasts.of_sku(session, await catalog.get_sku(session, sku), weeks)
            return found, await forecasts.latest_errors(session)

    found, classes = run(work)
    stored = found.forecast
    table = Table("day", "weekday", "units", "", title=f"{escape(found.sku.code)} {escape(found.sku.name)}")
    for day, units in found.history:
        table.add_row(day.isoformat(), day.strftime("%a"), str(units), "history")
    for day, units in found.days():
        table.add_row(day.isoformat(), day.strftime("%a"), f"{units:.1f}", "[cyan]forecast[/cyan]")
    console.print(table)
    errors = Table("backtest (8 weeks)", "forecast", "naive (last week)", title=f"class {stored.abc}")
    errors.add_row("MAPE", _ratio(stored.mape), _ratio(stored.naive_mape))
    errors.add_row("WAPE", _ratio(stored.wape), _ratio(stored.naive_wape))
    console.print(errors)
    if classes:
        every = Table(
            "class", "SKUs", "MAPE", "naive", "WAPE", "naive", title="the last nightly run, by ABC class"
        )
        for e in classes:
            every.add_row(
                e.abc, str(e.skus), _ratio(e.mape), _ratio(e.naive_mape), _ratio(e.wape), _ratio(e.naive_wape)
            )
        console.print(every)
    console.print(f"computed {clock.local_text(found.computed_at)}")
