"""The funnel's console page (CRM-5): the chart's option and the table per period, filtered by
channel and period, zh_CN by default and English; bad filters named and the default shown."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from shopflow.core.db import Database
from tests.analytics.test_funnel import admin, dataset  # noqa: F401
from tests.builders.console import Visitors, signed_in, table_row, visitors


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


def chart(html: str) -> dict[str, object]:
    found = re.search(r'id="funnel-chart" data-chart="([^"]*)"', html)
    assert found is not None
    return dict(json.loads(found.group(1).replace("&#34;", '"').replace("&quot;", '"')))


async def test_the_funnel_page_draws_and_tables_each_stage_by_week_and_channel(
    client: httpx.AsyncClient,
    db: Database,
    visit: Visitors,
    admin: dict[str, str],  # noqa: F811
) -> None:
    await dataset(client, admin)

    async with await signed_in(visit, db, "sales") as sales:
        page = (await sales.get("/funnel?from=2030-03-04&to=2030-03-17&period=week")).text
        assert "漏斗" in page and "访客" in page and "复购客户" in page
        week = table_row(page, "period-2030-W10")
        assert all(f">{n}<" in week for n in (150, 15, 2, 1)) and "50.0%" in week
        assert "87.1%" in table_row(page, "stage-visitors")
        series = chart(page)["series"]
        assert [d["label"]["formatter"] for d in series[1]["data"]] == ["210", "27", "3", "3"]  # type: ignore[index]
        widths = [d["value"] for d in series[1]["data"]]  # type: ignore[index]
        assert widths[0] == 210 and widths[0] > widths[1] > widths[2] == widths[3] > 3  # log widths
        web = (await sales.get("/funnel?from=2030-03-04&to=2030-03-17&period=week&channel=web")).text
        assert ">190<" in table_row(web, "stage-visitors")
        await sales.post("/language", {"locale": "en", "next": "/funnel"})
        english = (await sales.get("/funnel?from=2030-03-04&to=2030-03-05&period=day")).text
        assert "Repeaters" in english and 'id="period-2030-03-05"' in english

        bad = await sales.get("/funnel?from=2030-03-05&to=2030-03-01")
        assert bad.status_code == 422 and "must not be before the first day" in bad.text

    async with await signed_in(visit, db, "warehouse") as warehouse:
        assert (await warehouse.get("/funnel")).status_code == 403


async def test_a_day_beyond_the_years_a_time_may_name_is_refused_not_a_500(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "manager") as manager:
        reply = await manager.get("/funnel?from=0001-01-01&to=0001-01-02&channel=nowhere&period=year")

    assert reply.status_code == 422 and "0001-01-01" in reply.text
