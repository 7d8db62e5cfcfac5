"""A report as an Excel workbook (openpyxl): sheets Summary, Trend, Categories, SKUs, Pipeline,
named in the reader's language; numbers as numbers (yuan with a 0.00 format, rates as native
percentages), and native charts: the sales and orders trend, the top categories."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from shopflow.analytics.metrics import Unit
from shopflow.analytics.reports import labels
from shopflow.analytics.reports.tables import Number, Tables

MONEY = "#,##0.00"
PERCENT = "0.00%"
NUMBER = "0.00"
COUNT = "#,##0"
CHANGE = "+0.00%;-0.00%;0.00%"
POINTS = '+0.00" pp";-0.00" pp";0.00" pp"'
FORMATS = {Unit.COUNT: COUNT, Unit.MONEY: MONEY, Unit.RATE: PERCENT, Unit.NUMBER: NUMBER}
BOLD = Font(bold=True)


def _cell_value(value: Number | None, unit: Unit) -> Number | None:
    """A rate (a percent in the API) as the fraction Excel's percentage format shows."""
    if value is None or unit is not Unit.RATE:
        return value
    return Decimal(value) / 100


def _heading(sheet: Worksheet, row: int, names: list[str]) -> None:
    for column, name in enumerate(names, start=1):
        sheet.cell(row, column, name).font = BOLD


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for column, width in zip("ABCDEF", widths, strict=False):
        sheet.column_dimensions[column].width = width


def _summary(sheet: Worksheet, t: Tables) -> None:
    sheet.cell(1, 1, t.title).font = Font(bold=True, size=14)
    for row, line in enumerate(t.lines, start=2):
        sheet.cell(row, 1, line)
    top = len(t.lines) + 3
    _heading(sheet, top, [t.text(h) for h in (labels.METRIC, labels.VALUE, labels.PREVIOUS, labels.CHANGE)])
    for row, f in enumerate(t.figures, start=top + 1):
        sheet.cell(row, 1, f.label)
        for column, value in ((2, f.value), (3, f.previous)):
            sheet.cell(row, column, _cell_value(value, f.unit)).number_format = FORMATS[f.unit]
        change = None if f.change is None else f.change if f.unit is Unit.RATE else f.change / 100
        sheet.cell(row, 4, change).number_format = POINTS if f.unit is Unit.RATE else CHANGE
    sheet.cell(top + len(t.figures) + 2, 1, t.text(labels.DEFINITIONS))
    _widths(sheet, [34, 16, 16, 14])


def _trend(sheet: Worksheet, t: Tables) -> None:
    _heading(sheet, 1, [t.text(labels.PERIOD), *(name for _, name, _ in t.trend_columns)])
    for row, (period, values) in enumerate(t.trend, start=2):
        sheet.cell(row, 1, period)
        for column, (value, (_, _, unit)) in enumerate(zip(values, t.trend_columns, strict=True), start=2):
            sheet.cell(row, column, _cell_value(value, unit)).number_format = FORMATS[unit]
    last = len(t.trend) + 1
    periods = Reference(sheet, min_col=1, min_row=2, max_row=last)
    column = {name: index for index, (name, _, _) in enumerate(t.trend_columns, start=2)}
    sales = LineChart()
    sales.title = t.text(labels.SALES_TREND)
    for name in ("sales", "net_sales"):
        sales.add_data(Reference(sheet, min_col=column[name], min_row=1, max_row=last), titles_from_data=True)
    sales.set_categories(periods)
    sales.y_axis.numFmt = MONEY
    sheet.add_chart(sales, "I2")
    orders = BarChart()
    orders.title = t.text(labels.ORDERS_TREND)
    orders.add_data(
        Reference(sheet, min_col=column["orders"], min_row=1, max_row=last), titles_from_data=True
    )
    orders.set_categories(periods)
    sheet.add_chart(orders, "I18")
    _widths(sheet, [12, 10, 14, 14, 16, 12])


def _categories(sheet: Worksheet, t: Tables) -> None:
    _heading(sheet, 1, [t.text(h) for h in (labels.CATEGORY, labels.VALUE, labels.COUNT)])
    for row, (name, sales, orders) in enumerate(t.categories, start=2):
        sheet.cell(row, 1, name)
        sheet.cell(row, 2, sales).number_format = MONEY
        sheet.cell(row, 3, orders).number_format = COUNT
    chart = BarChart()
    chart.type = "bar"  # horizontal: long category names stay readable
    chart.title = t.text(labels.TOP_CATEGORIES)
    chart.add_data(
        Reference(sheet, min_col=2, min_row=1, max_row=len(t.categories) + 1), titles_from_data=True
    )
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=len(t.categories) + 1))
    chart.x_axis.scaling.orientation = "maxMin"  # the largest on top
    sheet.add_chart(chart, "E2")
    _widths(sheet, [30, 14, 10])


def _skus(sheet: Worksheet, t: Tables) -> None:
    headings = (labels.SKU, labels.NAME, labels.VALUE, labels.QUANTITY, labels.COUNT)
    _heading(sheet, 1, [t.text(h) for h in headings])
    for row, (sku, name, sales, quantity, orders) in enumerate(t.skus, start=2):
        sheet.cell(row, 1, sku)
        sheet.cell(row, 2, name)
        sheet.cell(row, 3, sales).number_format = MONEY
        sheet.cell(row, 4, quantity).number_format = COUNT
        sheet.cell(row, 5, orders).number_format = COUNT
    _widths(sheet, [16, 30, 14, 10, 10])


def _pipeline(sheet: Worksheet, t: Tables) -> None:
    _heading(sheet, 1, [t.text(h) for h in (labels.PIPELINE, labels.STATE, labels.COUNT, labels.LATE)])
    for row, values in enumerate(t.pipeline, start=2):
        for column, value in enumerate(values, start=1):
            sheet.cell(row, column, value)
    _widths(sheet, [18, 18, 10, 12])


def as_xlsx(t: Tables) -> bytes:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = t.text(labels.SUMMARY)
    _summary(summary, t)
    _trend(book.create_sheet(t.text(labels.TREND)), t)
    _categories(book.create_sheet(t.text(labels.CATEGORIES)), t)
    _skus(book.create_sheet(t.text(labels.SKUS)), t)
    _pipeline(book.create_sheet(t.text(labels.PIPELINE)), t)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
