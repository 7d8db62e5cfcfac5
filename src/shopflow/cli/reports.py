"""`shopflow report`: the daily, weekly and monthly reports as files (ANA-4), and the metric set
of `GET /api/v1/analytics/metrics` as JSON or CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from shopflow.cli.run import console, err, run
from shopflow.core.db import Database

report_app = typer.Typer(help="Reports (ANA-4) and the metric set (ANA-1).", no_args_is_help=True)


class Language(StrEnum):
    ZH_CN = "zh_CN"
    EN = "en"


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"
    JSON = "json"


class MetricsFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    ALL = "all"


def _day(typed: str | None, option: str) -> date | None:
    """A day typed as 2030-03-05; a clear error (exit 2) for anything else."""
    if typed is None:
        return None
    try:
        return date.fromisoformat(typed)
    except ValueError:
        raise typer.BadParameter(f"{typed!r} is not a date like 2030-03-05", param_hint=option) from None


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {escape(str(path))}: {escape(exc.strerror or str(exc))}")
        raise typer.Exit(1) from None


DateOption = Annotated[
    str | None,
    typer.Option("--date", help="A day of the period (2030-03-05); default: the last period that has ended"),
]
FormatOption = Annotated[FileFormat, typer.Option("--format", help="The file's format")]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Where to write it; default: shopflow-<kind>-<period>.<format>")
]
ChannelOption = Annotated[str | None, typer.Option("--channel", help="Only this channel's orders")]
LangOption = Annotated[Language, typer.Option("--lang", help="The texts' language")]


def _report(
    kind: str, typed: str | None, fmt: FileFormat, out: Path | None, channel: str | None, lang: Language
) -> None:
    """Write the report of `kind` as the API gives it (`GET /api/v1/reports/{kind}`); print where."""
    from shopflow.analytics.reports import render
    from shopflow.analytics.reports.report import Format, Kind, build, filename, last_complete
    from shopflow.core import clock

    day = _day(typed, "--date")
    chosen = Kind(kind)

    async def work(db: Database) -> tuple[str, bytes]:
        async with db.transaction() as session:
            made = await build(session, chosen, day or last_complete(chosen, clock.today()).first, channel)
        return filename(chosen, made.period, Format(fmt)), render.content(made, Format(fmt), lang)

    name, content = run(work)
    path = out or Path(name)
    _write(path, content)
    console.print(f"wrote {escape(str(path))} ({len(content):,} bytes)")


def _command(kind: str, summary: str) -> Callable[..., None]:
    """The command writing reports of `kind`; `summary` its help."""

    def command(
        day: DateOption = None,
        fmt: FormatOption = FileFormat.XLSX,
        out: OutOption = None,
        channel: ChannelOption = None,
        lang: LangOption = Language.ZH_CN,
    ) -> None:
        _report(kind, day, fmt, out, channel, lang)

    command.__doc__ = summary
    return command


for _kind, _summary in (
    ("daily", "One store day's report (default: yesterday)."),
    ("weekly", "An ISO week's report, Monday to Sunday (default: last week)."),
    ("monthly", "A calendar month's report (default: last month)."),
):
    report_app.command(_kind)(_command(_kind, _summary))


@report_app.command("metrics")
def metric_set(
    first: Annotated[str | None, typer.Option("--from", help="The first store day (2030-03-01)")] = None,
    last: Annotated[str | None, typer.Option("--to", help="The last store day, included")] = None,
    fmt: Annotated[
        MetricsFormat, typer.Option("--format", help="JSON (the API's) or CSV")
    ] = MetricsFormat.JSON,
    period: Annotated[
        Period, typer.Option("--period", help="One row per period, or one for all")
    ] = Period.ALL,
    channel: ChannelOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write it here instead of stdout")] = None,
) -> None:
    """The metric set as `GET /api/v1/analytics/metrics?from=&to=&period=&channel=` gives it
    (`from`/`to` both absent: all time); bad filters are named and the exit code is 1."""
    from shopflow.analytics import metrics, service
    from shopflow.analytics.models import PeriodKind
    from shopflow.analytics.reports.render import metrics_csv
    from shopflow.analytics.schemas import MetricRow, MetricsOut

    span = _day(first, "--from"), _day(last, "--to")
    kind = None if period is Period.ALL else PeriodKind(period)

    async def work(db: Database) -> list[metrics.Row]:
        async with db.transaction() as session:
            return await service.metric_rows(session, *span, channel, kind)

    rows = run(work)
    if fmt is MetricsFormat.CSV:
        text = metrics_csv(rows)
    else:
        shaped = MetricsOut(rows=[MetricRow.model_validate(metrics.as_json(r)) for r in rows])
        text = shaped.model_dump_json(indent=2) + "\n"
    if out is None:
        print(text, end="")
        return
    _write(out, text.encode())
    console.print(f"wrote {escape(str(out))}")
