"""The reports (ANA-4) of the hand-built store (`store`: conftest.py): the April 2030 report's
figures are the metric API's, in JSON, CSV, XLSX (numbers with their formats, native charts) and
standalone HTML (the figures, ECharts inlined, nothing fetched), as files to download; bad
kinds, dates, formats and channels are 422s naming them."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from shopflow.analytics.reports.render import ECHARTS
from shopflow.analytics.reports.report import Kind, last_complete, period_for
from shopflow.core import clock
from shopflow.core.db import Database
from tests.builders.analytics import local
from tests.builders.auth import bearer

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str = "monthly", **query: str
) -> httpx.Response:
    reply = await client.get(f"/api/v1/reports/{kind}", params=query, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply


async def metric_values(client: httpx.AsyncClient, headers: dict[str, str], first: str, last: str) -> Any:
    query = {"from": first, "to": last}
    reply = await client.get("/api/v1/analytics/metrics", params=query, headers=headers)
    return reply.json()["rows"][0]


def sections(text: str) -> list[list[list[str]]]:
    """A report's CSV as its sections (separated by blank lines), each a list of rows."""
    found: list[list[list[str]]] = [[]]
    for row in csv.reader(io.StringIO(text)):
        if row:
            found[-1].append(row)
        else:
            found.append([])
    return found


def test_a_report_covers_the_day_its_iso_week_or_its_month() -> None:
    day = date(2030, 4, 2)  # a Tuesday

    assert period_for(Kind.DAILY, day).label == "2030-04-02"
    assert (period_for(Kind.WEEKLY, day).first, period_for(Kind.WEEKLY, day).last) == (
        date(2030, 4, 1),
        date(2030, 4, 7),
    )
    assert period_for(Kind.WEEKLY, day).label == "2030-W14"
    assert (period_for(Kind.MONTHLY, day).label, period_for(Kind.MONTHLY, day).last) == (
        "2030-04",
        date(2030, 4, 30),
    )
    # Asked on 2030-04-02: yesterday, last week (Monday 03-25 to Sunday 03-31), last month.
    assert [last_complete(k, day).label for k in Kind] == ["2030-04-01", "2030-W13", "2030-03"]


async def test_the_json_report_holds_the_metric_apis_figures_for_the_month_and_the_month_before(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    reply = await report(client, store, date="2030-04-15", format="json")
    found = reply.json()

    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["content-disposition"] == 'attachment; filename="shopflow-monthly-2030-04.json"'
    assert (found["kind"], found["period"], found["first"], found["last"]) == (
        "monthly",
        "2030-04",
        "2030-04-01",
        "2030-04-30",
    )
    # A calendar month is compared with the month before: March (A's and B's orders).
    assert (found["previous_first"], found["previous_last"]) == ("2030-03-01", "2030-03-31")
    april = await metric_values(client, store, "2030-04-01", "2030-04-30")
    before = await metric_values(client, store, "2030-03-01", "2030-03-31")
    assert found["current"] == april
    assert found["previous"] == before
    assert {k: found["changes"][k] for k in ("orders", "sales", "net_sales", "refund_rate")} == {
        "orders": "0.00",  # 2 orders, 2 before
        "sales": "0.00",  # 200.00, 200.00 before
        "net_sales": "100.00",  # 200.00 against 100.00 (B's refund): +100 %
        "refund_rate": "-50.00",  # 0 % against 50 %: −50 percentage points
    }
    assert found["changes"]["repurchase_cycle_days"] is None  # n/a before: no change
    assert found["trend_period"] == "day"
    assert [(r["period"], r["metrics"]["orders"]["value"]) for r in found["trend"][:3]] == [
        ("2030-04-01", 1),  # A at 00:30 local
        ("2030-04-02", 1),  # G
        ("2030-04-03", 0),
    ]
    assert len(found["trend"]) == 30
    assert found["categories"] == [{"category": None, "sales": "200.00", "orders": 2}]
    assert [(s["sku"], s["sales"], s["quantity"]) for s in found["skus"]] == [("SKU-R100", "200.00", 2)]
    assert {s["state"]: s["count"] for s in found["pipeline"]["orders"]} == {"paid": 4, "cancelled": 1}


async def test_the_csv_report_lists_the_metric_set_trend_categories_skus_and_pipeline(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    reply = await report(client, store, date="2030-04-30", format="csv", lang="en")
    head, figures, trend, categories, skus, pipeline = sections(reply.content.decode("utf-8-sig"))

    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert reply.headers["content-disposition"] == 'attachment; filename="shopflow-monthly-2030-04.csv"'
    assert head[:3] == [
        ["Monthly report 2030-04"],
        ["2030-04-01 to 2030-04-30"],
        ["Compared with 2030-03-01 to 2030-03-31"],
    ]
    assert figures[0] == ["metric", "Metric", "Value", "Previous period", "Change"]
    rows = {row[0]: row[1:] for row in figures[1:]}
    assert rows["orders"] == ["Orders", "2", "2", "0.00"]
    assert rows["net_sales"] == ["Net sales", "200.00", "100.00", "100.00"]
    assert rows["repurchase_rate"] == ["Repurchase rate", "50.00", "0.00", "50.00"]  # A of A and G
    assert rows["repurchase_cycle_days"] == ["Repurchase cycle (days)", "21.60", "", ""]  # n/a: blank
    assert trend[0][:3] == ["Period", "Orders", "Sales"]
    assert trend[1][:3] == ["2030-04-01", "1", "100.00"]
    assert categories == [["Category", "Value", "Count"], ["(no category)", "200.00", "2"]]
    assert skus[1][0] == "SKU-R100" and skus[1][2:] == ["200.00", "2", "2"]
    assert ["Orders", "paid", "4", "0"] in pipeline


async def test_the_xlsx_report_has_its_sheets_numbers_with_formats_and_native_charts(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    reply = await report(client, store, date="2030-04-01", format="xlsx", lang="en")
    book = load_workbook(io.BytesIO(reply.content))

    assert reply.headers["content-type"] == XLSX
    assert reply.headers["content-disposition"] == 'attachment; filename="shopflow-monthly-2030-04.xlsx"'
    assert book.sheetnames == ["Summary", "Trend", "Categories", "SKUs", "Pipeline"]
    summary = book["Summary"]
    rows = {row[0].value: row[1:4] for row in summary.iter_rows(min_row=7) if row[0].value}
    sales, before, change = rows["Net sales"]
    assert (sales.value, sales.number_format) == (200, "#,##0.00")  # money: a number, not a string
    assert (before.value, change.value, change.number_format) == (100, 1, "+0.00%;-0.00%;0.00%")
    refund_rate, refunds_before, points = rows["Refund rate"]
    assert (refund_rate.value, refunds_before.value, refunds_before.number_format) == (0, 0.5, "0.00%")
    assert points.value == -50 and "pp" in points.number_format
    assert rows["Repurchase cycle (days)"][1].value is None  # n/a: an empty cell
    assert len(book["Trend"]._charts) == 2  # sales (line) and orders (bar)
    assert len(book["Categories"]._charts) == 1
    assert [c.value for c in book["Categories"][2]] == ["(no category)", 200, 2]
    assert book["Categories"]["B2"].number_format == "#,##0.00"
    assert [c.value for c in book["SKUs"][2]][::2] == ["SKU-R100", 200, 2]


async def test_the_html_report_stands_alone_with_its_figures_and_echarts_inlined(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    reply = await report(client, store, date="2030-04-01", format="html")
    page = reply.text

    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["content-disposition"] == 'attachment; filename="shopflow-monthly-2030-04.html"'
    assert "月报 2030-04" in page and "客单价" in page  # the console's default language
    assert "¥200.00" in page and "50.00%" in page and "-50.00 个百分点" in page
    library = ECHARTS.read_text(encoding="utf-8")
    assert library in page and "echarts.init" in page  # the vendored library itself, inlined
    markup = page.replace(library, "")
    assert not re.search(r"(src|href)\s*=|https?:|//cdn", markup)  # nothing is fetched


async def test_the_language_is_the_consoles_unless_asked(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    client.cookies.set("shopflow_lang", "en")
    english = await report(client, store, date="2030-04-01", format="csv")
    chinese = await report(client, store, date="2030-04-01", format="csv", lang="zh_CN")

    assert english.content.decode("utf-8-sig").startswith("Monthly report 2030-04")
    assert chinese.content.decode("utf-8-sig").startswith("月报 2030-04")


async def test_the_default_period_is_the_last_that_has_ended(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    with clock.use(lambda: local("2030-04-03", 9)):
        daily = await report(client, store, "daily")
        weekly = await report(client, store, "weekly", format="csv")

    assert daily.json()["period"] == "2030-04-02"
    assert daily.json()["current"]["metrics"]["orders"]["value"] == 1  # G
    assert weekly.headers["content-disposition"] == 'attachment; filename="shopflow-weekly-2030-W13.csv"'


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("yearly", {}, "kind"),
        ("monthly", {"date": "2030-02-30"}, "date"),
        ("monthly", {"date": "yesterday"}, "date"),
        ("monthly", {"format": "pdf"}, "format"),
        ("monthly", {"channel": "tmall"}, "channel"),
        ("monthly", {"lang": "fr"}, "lang"),
    ],
)
async def test_bad_inputs_are_422s_naming_the_field(
    client: httpx.AsyncClient, db: Database, path: str, query: dict[str, str], field: str
) -> None:
    reply = await client.get(f"/api/v1/reports/{path}", params=query, headers=await bearer(db, "manager"))

    assert reply.status_code == 422, reply.text
    assert field in [e["field"] for e in reply.json()["errors"]]


@pytest.mark.parametrize(("role", "status"), [("finance", 200), ("manager", 200), ("sales", 403)])
async def test_reports_are_for_the_roles_that_read_analytics(
    client: httpx.AsyncClient, db: Database, role: str, status: int
) -> None:
    reply = await client.get(
        "/api/v1/reports/daily", params={"date": "2030-04-01"}, headers=await bearer(db, role)
    )

    assert reply.status_code == status
