"""The lead console (zh_CN by default): the board by grade and state with late leads red, my
leads, and the lead page with its reasons, clock, scripts and follow-up form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shopflow import worker
from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.crm.leads import scripts
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.leads import A_LEAD, submit


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    with clock.use(fake):
        yield fake


async def test_the_board_counts_by_grade_and_state_and_shows_late_leads_red(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    late, _ = await submit(db, **A_LEAD)
    now.advance(days=2)
    fresh, _ = await submit(db, phone="13700137000")
    async with db.transaction() as session:
        await worker.sla_breaches(session)

    async with await signed_in(visit, db, "sales") as sales:
        page = (await sales.get("/leads")).text
        mine = (await sales.get("/leads?mine=1")).text

    assert "线索" in page and "新线索" in page
    assert f'<tr id="lead-{late.id}" class="late">' in page
    assert f'<tr id="lead-{fresh.id}">' in page
    assert re.search(r"<th><a href=\"/leads\?grade=A\">A</a></th><td class=\"num\"><a [^>]+>1</a>", page)
    assert "没有符合条件的线索" in mine  # nobody assigned these to the new sales user


async def test_the_lead_page_shows_reasons_clock_and_scripts_and_logs_a_follow_up(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    lead, _ = await submit(db, **A_LEAD)
    async with db.transaction() as session:
        await scripts.seed(session)  # the migration's scripts, in case an earlier test emptied the table

    async with await signed_in(visit, db, "sales") as sales:
        page = (await sales.get(f"/leads/{lead.id}")).text
        assert "asked for a quote of 200 units; budget stated 50,000 yuan" in page
        assert "首次联系" in page
        assert "需求挖掘" in page and "需求挖掘：数量、预算、时间" in page
        logged = await sales.post(
            f"/leads/{lead.id}/follow-ups", {"channel": "wechat", "outcome": "qualified", "next_step": "报价"}
        )
        assert logged.status_code == 303
        after = (await sales.get(f"/leads/{lead.id}")).text
        refused = await sales.post(f"/leads/{lead.id}/grade", {"grade": "A", "reason": ""})

    assert "已确认需求" in after and "微信" in after and "跟进已记录" in after
    assert refused.status_code == 422
    assert 'id="error-reason"' in refused.text
