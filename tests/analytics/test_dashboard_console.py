"""The dashboard's console page (issue 15, ANA-1/2, CRM-5) on the metric dictionary's hand-built
store: every card shows the API's number for the range and for the range before, the change (rates
in points, others in percent, n/a for null, never 0); the trend charts, pipeline, funnel, top
categories and SKUs and the export links; bad filters named on the page; who may see it; the
definitions page with an anchor for every metric the dictionary computes."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from typing import Any

import httpx
import pytest

from shopflow.analytics import metrics
from shopflow.analytics.console.definitions import DEFINITIONS, SLA_FAMILY, anchor
from shopflow.core import clock
from shopflow.core.db import Database
from tests.builders.analytics import local
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.conftest import ROOT

APRIL = "/dashboard?from=2030-04-01&to=2030-04-30"


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


def card(page: str, name: str) -> dict[str, str]:
    """A metric card's parts: its link, value, change (with its mark and class) and value before."""
    found = re.search(
        rf'<div class="tile metric" id="metric-{re.escape(name)}">(.*?)</div>\s*</div>', page, re.S
    )
    assert found is not None, f"no card {name}"
    body = found[1]

    def part(pattern: str) -> str:
        hit = re.search(pattern, body, re.S)
        assert hit is not None, (name, pattern, body)
        return html.unescape(hit[1].strip())

    return {
        "href": part(r'<a href="([^"]+)"'),
        "value": part(r'<div class="n value">(.*?)</div>'),
        "change": part(r'<span class="delta">(.*?)</span>'),
        "class": part(r'<div class="change ([^"]*)"'),
        "mark": part(r'<div class="change [^"]*">(.*?)<span'),
        "previous": part(r'<span class="previous">(.*?)</span>'),
    }


def chart(page: str, chart_id: str) -> dict[str, Any]:
    found = re.search(rf'id="{chart_id}" data-chart="([^"]*)"', page)
    assert found is not None, chart_id
    return dict(json.loads(html.unescape(found[1])))


async def api_values(
    client: httpx.AsyncClient, headers: dict[str, str], first: str, last: str
) -> dict[str, Any]:
    reply = await client.get("/api/v1/analytics/metrics", params={"from": first, "to": last}, headers=headers)
    assert reply.status_code == 200, reply.text
    (row,) = reply.json()["rows"]
    return {name: m["value"] for name, m in row["metrics"].items()}


def as_card(name: str, value: int | str | None, na: str) -> str:
    """The API's value as a card writes it: ¥ with thousands for money, a percent for rates."""
    if value is None:
        return na
    unit = {"orders": "count", "repurchase_cycle_days": "number", "inventory_turnover": "number"}.get(name)
    if name in ("sales", "net_sales", "average_order_value"):
        return f"¥{float(value):,.2f}"
    return str(value) if unit else f"{value}%"


async def test_every_card_shows_the_apis_number_the_range_before_and_the_change(
    client: httpx.AsyncClient, db: Database, visit: Visitors, store: dict[str, str]
) -> None:
    april = await api_values(client, store, "2030-04-01", "2030-04-30")
    # April, a whole month, is compared with March.
    march = await api_values(client, store, "2030-03-01", "2030-03-31")

    async with await signed_in(visit, db, "manager") as manager:
        page = (await manager.get(APRIL)).text
        assert set(re.findall(r'id="metric-([^"]+)"', page)) == set(april)
        for name, value in april.items():
            shown = card(page, name)
            assert shown["value"] == as_card(name, value, "不适用"), name
            assert shown["previous"] == as_card(name, march.get(name), "不适用"), name
            assert shown["href"] == f"/dashboard/definitions#{anchor(name)}"
        assert "2030-04-01 至 2030-04-30" in page and "2030-03-01 至 2030-03-31" in page

        # Orders 2 → 2 and sales 200.00 → 200.00: no change, in percent.
        assert (card(page, "orders")["change"], card(page, "orders")["class"]) == ("0.0%", "flat")
        assert card(page, "sales")["change"] == "0.0%"
        # Net sales: 100.00 in March (B's refund) → 200.00: +100.0 %.
        assert card(page, "net_sales")["change"] == "+100.0%"
        assert card(page, "net_sales")["mark"] == "▲"
        # Refund rate 50.00 % → 0.00 %: −50 points, a fall that is good news.
        refunds = card(page, "refund_rate")
        assert (refunds["value"], refunds["previous"]) == ("0.00%", "50.00%")
        assert (refunds["change"], refunds["mark"], refunds["class"]) == ("-50.0 个百分点", "▼", "down")
        # Complaint rate 0 % → 50 %: +50 points, bad news.
        assert card(page, "complaint_rate")["class"] == "up worse"
        # No complaint in March: the resolution rate's change is n/a, never 0.
        resolution = card(page, "complaint_resolution_rate")
        assert (resolution["value"], resolution["previous"], resolution["change"]) == (
            "100.00%",
            "不适用",
            "不适用",
        )
        assert resolution["mark"] == ""

        await manager.post("/language", {"locale": "en", "next": APRIL})
        english = (await manager.get(APRIL)).text
        assert card(english, "refund_rate")["change"] == "-50.0 pp"
        assert card(english, "complaint_resolution_rate")["previous"] == "n/a"
        assert card(english, "average_order_value")["value"] == "¥100.00"
        assert "Refund rate" in english and "Dashboard" in english


async def test_the_trend_pipeline_funnel_top_lists_and_exports_read_the_services(
    client: httpx.AsyncClient, db: Database, visit: Visitors, store: dict[str, str]
) -> None:
    async with await signed_in(visit, db, "manager") as manager:
        page = (await manager.get(APRIL)).text

    # April is drawn per day: A's order on 04-01 and G's on 04-02, one each.
    orders_sales = chart(page, "chart-orders-sales")
    assert orders_sales["xAxis"]["data"][:2] == ["2030-04-01", "2030-04-02"]
    assert len(orders_sales["xAxis"]["data"]) == 30
    assert orders_sales["series"][0]["data"][:3] == [1, 1, 0]
    assert orders_sales["series"][1]["data"][:3] == [100.0, 100.0, 0.0]
    # A day without orders has no refund rate: a gap (null), not 0.
    rates = chart(page, "chart-rates")
    assert rates["series"][1]["data"][:3] == [0.0, 0.0, None]
    assert chart(page, "chart-net-sales")["series"][0]["data"][:2] == [100.0, 100.0]
    # The pipeline now: the 4 paid orders and D's cancelled one, linked to the lists by state.
    paid = table_row(page, "orders-paid")
    assert '<a href="/orders?status=paid">4</a>' in paid
    assert '<a href="/orders?status=cancelled">1</a>' in table_row(page, "orders-cancelled")
    assert 'id="tickets-new"' in page
    # The funnel's own partial: its chart and its stages (A and G bought in April).
    assert 'id="funnel-chart"' in page
    assert ">2<" in table_row(page, "stage-buyers")
    # Top categories and SKUs: SKU-R100's two April lines; its product has no category.
    assert "¥200.00" in table_row(page, "top-sku-SKU-R100")
    assert "无分类" in page
    # Exports: the reports of the day, week and month holding 2030-04-30, and the metrics API.
    for kind in ("daily", "weekly", "monthly"):
        for fmt in ("csv", "xlsx", "html"):
            assert f'href="/dashboard/reports/{kind}?date=2030-04-30&amp;format={fmt}"' in page
    assert 'href="/dashboard/metrics?from=2030-04-01&amp;to=2030-04-30"' in page
    assert 'href="/dashboard/metrics?from=2030-04-01&amp;to=2030-04-30&amp;period=day"' in page


async def test_the_exports_download_what_the_api_gives_to_a_signed_in_user(
    client: httpx.AsyncClient, db: Database, visit: Visitors, store: dict[str, str]
) -> None:
    query = "date=2030-04-30&format=csv"
    metric_query = "from=2030-04-01&to=2030-04-30&period=day"
    with clock.use(lambda: local("2030-05-01", 10)):  # one time for both files' "made at"
        async with await signed_in(visit, db, "manager") as manager:
            csv = await manager.get(f"/dashboard/reports/monthly?{query}")
            trend = await manager.get(f"/dashboard/metrics?{metric_query}")
            bad = await manager.get("/dashboard/reports/monthly?date=2030-04-30&format=pdf")
        async with await signed_in(visit, db, "sales") as sales:
            refused = await sales.get(f"/dashboard/reports/monthly?{query}")
        api_csv = await client.get(f"/api/v1/reports/monthly?{query}&lang=zh_CN", headers=store)
        api_trend = await client.get(f"/api/v1/analytics/metrics?{metric_query}", headers=store)

    assert csv.status_code == 200, csv.text
    assert csv.headers["content-disposition"] == 'attachment; filename="shopflow-monthly-2030-04.csv"'
    assert csv.content == api_csv.content
    assert trend.json() == api_trend.json()
    assert bad.status_code == 422 and "format" in bad.text
    assert refused.status_code in (302, 303, 403)


async def test_a_channel_filters_the_cards_and_a_channel_without_orders_shows_n_a(
    db: Database, visit: Visitors, store: dict[str, str]
) -> None:
    async with await signed_in(visit, db, "finance") as finance:
        page = (await finance.get(f"{APRIL}&channel=manual")).text

    assert card(page, "orders")["value"] == "0"
    assert card(page, "average_order_value")["value"] == "不适用"
    assert card(page, "orders")["change"] == "不适用"  # 0 → 0: no change to speak of
    assert 'option value="manual" selected' in page


@pytest.mark.parametrize(
    ("query", "field", "text"),
    [
        ("from=2030-04-30&to=2030-04-01", "to", "must not be before the first day"),
        ("from=2030-02-30&to=2030-04-01", "from", "2030-02-30 is not a date."),
        ("from=0001-01-01&to=0001-01-02", "from", "0001-01-01 is not a date."),
        ("from=2020-01-01&to=2030-12-31", "to", "must be at most 3660 days after the first day"),
        ("channel=nowhere", "channel", "unknown channel nowhere"),
    ],
)
async def test_bad_filters_are_named_on_the_page_and_the_last_30_days_shown(
    db: Database, visit: Visitors, query: str, field: str, text: str
) -> None:
    async with await signed_in(visit, db, "manager") as manager:
        await manager.post("/language", {"locale": "en", "next": "/dashboard"})
        reply = await manager.get(f"/dashboard?{query}")

    assert reply.status_code == 422
    assert re.search(rf'id="error-{field}">{re.escape(html.escape(text))}<', reply.text), reply.text
    assert 'id="metric-orders"' in reply.text  # the default range is shown


async def test_a_range_longer_than_the_funnel_draws_leaves_the_funnel_out_and_trends_by_month(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "manager") as manager:
        reply = await manager.get("/dashboard?from=2029-01-01&to=2030-04-30")

    assert reply.status_code == 200
    assert 'id="no-funnel"' in reply.text and 'id="funnel-chart"' not in reply.text  # 485 days > 366
    assert chart(reply.text, "chart-orders-sales")["xAxis"]["data"][:2] == ["2029-01", "2029-02"]


async def test_only_roles_holding_analytics_read_see_the_dashboard_and_its_entry(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "sales") as sales:
        assert (await sales.get("/dashboard")).status_code == 403
        assert (await sales.get("/dashboard/definitions")).status_code == 403
        assert 'href="/dashboard"' not in (await sales.get("/orders")).text
    async with await signed_in(visit, db, "finance") as finance:
        page = await finance.get("/dashboard")
        assert page.status_code == 200
        assert '<a href="/dashboard" class="active">看板</a>' in page.text
        # Finance may not read customers: the funnel is shown, without the link to its page.
        assert 'id="funnel-chart"' in page.text and 'href="/funnel?' not in page.text


async def _names(db: Database) -> set[str]:
    """Every metric the dictionary computes over the store's spring (sla_compliance kinds too)."""
    async with db.transaction() as session:
        (row,) = await metrics.compute(session, date(2030, 3, 1), date(2030, 4, 30), None, None)
    return set(row.metrics)


async def test_the_definitions_page_has_an_anchor_for_every_metric_of_the_dictionary(
    db: Database, visit: Visitors, store: dict[str, str]
) -> None:
    async with await signed_in(visit, db, "operations") as operations:
        names = await _names(db)
        page = (await operations.get("/dashboard/definitions")).text
        await operations.post("/language", {"locale": "en", "next": "/dashboard/definitions"})
        english = (await operations.get("/dashboard/definitions")).text

    assert any(name.startswith(f"{SLA_FAMILY}.") for name in names)
    anchors = set(re.findall(r'<div class="card definition" id="([^"]+)">', page))
    assert {anchor(name) for name in names} <= anchors  # a new metric without a definition fails
    assert anchors == set(DEFINITIONS)  # and no definition of a metric that is gone
    documented = (ROOT / "docs" / "metrics.md").read_text()
    assert all(f"| `{name}" in documented for name in DEFINITIONS)  # the long form has each one
    assert "毛利率" in page and "退款率" in page
    assert "Gross margin" in english and "Sales / orders." in english
    # The policy's rollup age, so a reader knows how fresh a past period's figures are.
    assert "最多 60 分钟前计算" in page and "at most 60 minutes old" in english
