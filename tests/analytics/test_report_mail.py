"""ANA-4: once a period has ended and the policy's hour has come, the worker emails its report
through the outbox to each of the policy's recipients, exactly once: the XLSX attached, a summary
in the body; a later round sends nothing, and neither do two workers racing (PostgreSQL)."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from shopflow.analytics import tasks
from shopflow.analytics.reports.report import REPORT_EVENT
from shopflow.core import clock, events, policy
from shopflow.core.db import Database
from shopflow.core.policy import Analytics, Policy, PolicyError
from tests.builders.analytics import local
from tests.builders.notify import Mailbox, body_of, deliveries, local_channels, sweep
from tests.builders.rows import audit_rows
from tests.conftest import IS_POSTGRES
from tests.notify.test_alert_mail import staff

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PEOPLE = (
    ("fang", "finance", "fang@shop.example.cn", True, True),
    ("boss", "manager", "Boss@shop.example.cn", True, True),
    ("seller", "sales", "seller@shop.example.cn", True, True),  # not a recipient
)


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Mailbox]:
    with local_channels(monkeypatch, tmp_path / "sms.log") as box:
        yield box


def monthly_reports() -> None:
    """The policy of these tests: the monthly report at 08:00 to finance, the managers and the
    owner's address (given again in capitals: one email); the boss's address, named too, reaches
    them as a manager already."""
    recipients = ("finance", "manager", "owner@example.com", "OWNER@example.com", "boss@shop.example.cn")
    rules = Analytics(report_kinds=frozenset({"monthly"}), report_hour=8, report_recipients=recipients)
    policy.install(Policy(analytics=rules))


async def worker_round(db: Database) -> None:
    """What a worker round does: queue the reports due, relay the outbox, send."""
    while True:
        async with db.transaction() as session:
            if not await tasks.scheduled_reports(session):
                break
    await sweep(db)


async def round_at(db: Database, at: datetime) -> None:
    with clock.use(lambda: at):
        await worker_round(db)


async def test_the_monthly_report_is_emailed_once_to_each_recipient_with_the_xlsx_attached(
    client: httpx.AsyncClient, db: Database, store: dict[str, str], mailbox: Mailbox
) -> None:
    monthly_reports()
    await staff(db, *PEOPLE)

    await round_at(db, local("2030-05-01", 7, 59))  # April has ended, but not yet 08:00
    assert [m["Subject"] for m in mailbox.messages] == []
    await round_at(db, local("2030-05-01", 8))
    await round_at(db, local("2030-05-01", 9))  # a later round: nothing again
    await round_at(db, local("2030-05-20", 9))

    assert sorted(r for (r,) in mailbox.recipients) == [
        "Boss@shop.example.cn",
        "fang@shop.example.cn",
        "owner@example.com",
    ]
    mail = mailbox.messages[0]
    assert mail["Subject"] == "【Shopflow】月报 2030-04"
    html = body_of(mail, "html")
    assert "净销售额" in html and "¥200.00" in html and "¥100.00" in html  # April against March
    assert "<script" not in html
    assert "完整报表" in body_of(mail, "plain")
    [attached] = list(mail.iter_attachments())
    assert attached.get_filename() == "shopflow-monthly-2030-04.xlsx"
    assert attached.get_content_type() == XLSX
    book = load_workbook(io.BytesIO(attached.get_content()))
    assert book.sheetnames == ["概览", "趋势", "品类", "SKU", "流程状态"]
    sent = await deliveries(db, event=REPORT_EVENT)
    assert [d.state for d in sent] == ["delivered"] * 3
    assert len({d.idempotency_id for d in sent}) == 3
    [queued] = await audit_rows(db, "report", "monthly:2030-04")
    assert queued.action == "report.scheduled" and queued.after["first"] == "2030-04-01"


async def test_a_report_nobody_would_receive_waits_for_an_address(db: Database, mailbox: Mailbox) -> None:
    policy.install(Policy(analytics=Analytics(report_kinds=frozenset({"monthly"}))))  # finance, manager
    await staff(db, ("boss", "manager", None, True, True))  # no address yet

    await round_at(db, local("2030-05-01", 9))
    assert await audit_rows(db, "report", "monthly:2030-04") == []
    await staff(db, ("fang", "finance", "fang@shop.example.cn", True, True))
    await round_at(db, local("2030-05-02", 9))

    assert mailbox.recipients == [["fang@shop.example.cn"]]
    assert mailbox.messages[0]["Subject"] == "【Shopflow】月报 2030-04"


async def test_a_report_queued_twice_is_still_one_email_to_each(db: Database, mailbox: Mailbox) -> None:
    """Two workers that both passed the audit's read queue the period twice: the deliveries'
    idempotency ids (the period and the address) keep one email each."""
    monthly_reports()
    await staff(db, *PEOPLE)
    payload = {"kind": "monthly", "period": "2030-04", "first": "2030-04-01", "last": "2030-04-30"}
    async with db.transaction() as session:
        for _ in range(2):
            await events.record(session, REPORT_EVENT, "report:monthly:2030-04", payload)

    await round_at(db, local("2030-05-01", 7))

    assert Counter(r for (r,) in mailbox.recipients) == {
        "Boss@shop.example.cn": 1,
        "fang@shop.example.cn": 1,
        "owner@example.com": 1,
    }


@pytest.mark.skipif(not IS_POSTGRES, reason="several workers need PostgreSQL (SQLite runs one)")
async def test_two_workers_racing_send_each_recipient_the_report_once(
    committed: Database, mailbox: Mailbox
) -> None:
    monthly_reports()
    await staff(committed, *PEOPLE)

    with clock.use(lambda: local("2030-05-01", 9)):  # one clock for both (`clock.use` is global)
        for _ in range(3):  # rounds of two workers at the same time
            await asyncio.gather(worker_round(committed), worker_round(committed))

    assert Counter(r for (r,) in mailbox.recipients) == {
        "Boss@shop.example.cn": 1,
        "fang@shop.example.cn": 1,
        "owner@example.com": 1,
    }
    assert [d.state for d in await deliveries(committed, event=REPORT_EVENT)] == ["delivered"] * 3


def test_the_policy_names_each_recipient_that_is_neither_a_role_a_user_nor_an_address() -> None:
    with pytest.raises(PolicyError) as refused:
        policy.validate(
            {"analytics": {"report_recipients": ["finance", "chef", "a@b", "user:li.na", "x@shop.cn"]}}
        )

    assert [e.field for e in refused.value.errors] == [
        "analytics.report_recipients.1",  # no such role
        "analytics.report_recipients.2",  # no domain
    ]
