"""The service desk's console (zh_CN by default): the inbox with late tickets first, the ticket
page with its conversation, live clocks and reply form, and the supervisor's board."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shopflow import worker
from shopflow.core import clock
from shopflow.core.audit import SYSTEM
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.service import care, service
from shopflow.service.models import TicketEvent
from shopflow.service.schemas import MessageIn
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.tickets import cs_team, open_ticket


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(datetime(2026, 12, 7, 1, 0, tzinfo=UTC))
    with clock.use(fake):
        yield fake


async def test_the_inbox_lists_late_tickets_first_and_the_board_says_why_each_is_there(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    late = await open_ticket(db, subject="迟到的咨询")
    now.advance(minutes=5)
    fresh = await open_ticket(db, subject="新的咨询")
    async with db.transaction() as session:
        await worker.sla_breaches(session)
        await service.escalate_by_hand(session, SYSTEM, fresh.id, "客户要求主管处理")

    async with await signed_in(visit, db, "cs_supervisor") as supervisor:
        inbox = (await supervisor.get("/tickets?view=unassigned")).text
        board = (await supervisor.get("/tickets/board")).text

    assert "工单" in inbox and "未分配" in inbox
    assert inbox.index(f'id="ticket-{late.id}"') < inbox.index(f'id="ticket-{fresh.id}"')
    assert f'<tr id="ticket-{late.id}" class="late">' in inbox
    assert "人工升级: 客户要求主管处理" in board
    assert "超时未处理" in board  # the late ticket escalated by its breach


async def test_the_ticket_page_shows_the_conversation_and_live_clocks_and_takes_a_reply(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    await cs_team(db, "ann")
    ticket = await open_ticket(db, subject="包裹破损", body="收到的杯子碎了")

    async with await signed_in(visit, db, "customer_service") as agent:
        page = (await agent.get(f"/tickets/{ticket.id}")).text
        sent = await agent.post(
            f"/tickets/{ticket.id}/messages", {"body": "非常抱歉，马上补发", "kind": "outbound"}
        )
        after = (await agent.get(f"/tickets/{ticket.id}")).text
        refused = await agent.post(f"/tickets/{ticket.id}/messages", {"body": "", "kind": "internal"})
        resolved = await agent.post(f"/tickets/{ticket.id}/resolve")
        done = (await agent.get(f"/tickets/{ticket.id}")).text

    assert "收到的杯子碎了" in page and "首次响应" in page and "解决时限" in page
    assert 'class="countdown" data-deadline="2026-12-07T01:00:30+00:00"' in page
    assert "/static/tickets.js" in page
    assert sent.status_code == 303
    assert "非常抱歉，马上补发" in after and "处理中" in after and "消息已添加" in after
    assert refused.status_code == 422 and 'id="error-body"' in refused.text
    assert resolved.status_code == 303
    assert "已解决" in done and 'id="reply-form"' not in done


async def test_the_english_console_reads_english(db: Database, visit: Visitors, now: FakeClock) -> None:
    ticket = await open_ticket(db, type="negative_review", channel="review_site")

    async with await signed_in(visit, db, "cs_supervisor") as supervisor:
        supervisor.client.cookies.set("shopflow_lang", "en")
        page = (await supervisor.get(f"/tickets/{ticket.id}")).text

    assert "Negative review answer" in page and "review site" in page


async def test_the_board_shows_the_agents_month_and_the_ticket_page_its_care(
    db: Database, visit: Visitors, now: FakeClock
) -> None:
    await cs_team(db, "ann", "bob")
    await open_ticket(db, assignee="ann")  # never answered
    answered = await open_ticket(db, assignee="bob")
    async with db.transaction() as session:
        await service.add_message(session, SYSTEM, answered.id, MessageIn(body="您好"))
    now.advance(seconds=31)
    async with db.transaction() as session:
        await worker.sla_breaches(session)
        await service.step(session, SYSTEM, answered.id, TicketEvent.RESOLVED)
        await worker.SWEEPS["service.surveys"](session)

    async with await signed_in(visit, db, "cs_supervisor") as supervisor:
        board = (await supervisor.get("/tickets/board?month=2026-12")).text
        page = (await supervisor.get(f"/tickets/{answered.id}")).text
    async with await signed_in(visit, db, "customer_service") as agent:
        agent_board = (await agent.get("/tickets/board")).text
        async with db.transaction() as session:
            [callback] = await care.callbacks(session, ticket_id=answered.id)
        done = await agent.post(f"/tickets/{answered.id}/callbacks/{callback.id}/done")
        after = (await agent.get(f"/tickets/{answered.id}")).text

    assert "客服月度指标" in board and "响应超时率" in board
    agents = board[board.index('id="board-agents"') :]
    ann_row = agents[agents.index("<td>ann</td>") :].split("</tr>")[0]
    assert "100.0%" in ann_row and "超过 5.0%" in ann_row  # ann's one response clock breached
    bob_row = agents[agents.index("<td>bob</td>") :].split("</tr>")[0]
    assert "0.0%" in bob_row and "超过" not in bob_row
    assert 'id="board-agents"' not in agent_board  # agents do not read each other's month
    assert "工单满意度" in page and "尚未回复" in page and "工单解决后" in page
    assert done.status_code == 303 and "回访已标记为完成" in after
