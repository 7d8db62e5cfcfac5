"""The alerts page of the console over HTTP (no browser): acknowledged once, audited, by whom may
(ANA-3)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shopflow.core import alerts
from shopflow.core.alerts import Alert
from shopflow.core.db import Database
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.rows import audit_rows


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def test_alerts_are_acknowledged_once_by_htmx_audited_and_not_by_sales(
    db: Database, visit: Visitors
) -> None:
    async with db.transaction() as session:
        await alerts.raise_alert(
            session, "sla.breach.order.pay", "order:7", "order.pay deadline passed", "sla:test"
        )
        alert_id = int(await session.scalar(select(Alert.id).where(Alert.dedupe_key == "sla:test")) or 0)
    async with await signed_in(visit, db, "sales") as visitor:
        page = await visitor.get("/alerts")
        assert "超时：付款" in page.text and 'href="/orders/7"' in page.text and "确认收到" not in page.text
        refused = await visitor.post(f"/alerts/{alert_id}/acknowledge")
        assert refused.status_code == 403
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/alerts")
        htmx = {"HX-Request": "true", "X-CSRF-Token": visitor.token}
        row = await visitor.client.post(f"/alerts/{alert_id}/acknowledge", headers=htmx)
        assert row.status_code == 200 and row.text.lstrip().startswith(f'<tr id="alert-{alert_id}">')
        assert "已确认" in row.text
        again = await visitor.client.post(f"/alerts/{alert_id}/acknowledge", headers=htmx)
        assert again.status_code == 409
        assert "/alerts?state=acknowledged" in (await visitor.get("/alerts?state=acknowledged")).text
        assert f'id="alert-{alert_id}"' in (await visitor.get("/alerts?state=acknowledged")).text
        assert f'id="alert-{alert_id}"' not in (await visitor.get("/alerts")).text
    trail = await audit_rows(db, "alert", alert_id)
    assert [(row.action, row.actor_name.split("-")[0]) for row in trail] == [
        ("alert.acknowledged", "operations")
    ]


async def test_the_console_refuses_a_bulk_acknowledgement_of_another_role_s_kind_and_a_bare_resolve(
    db: Database, visit: Visitors
) -> None:
    async with db.transaction() as session:
        await alerts.raise_alert(session, "payment_amount_mismatch", "payment:3", "¥1 vs ¥2", "pay:test")
        alert_id = int(await session.scalar(select(Alert.id).where(Alert.dedupe_key == "pay:test")) or 0)
    async with await signed_in(visit, db, "warehouse") as visitor:
        await visitor.get("/alerts?kind=payment_amount_mismatch")
        bulk = await visitor.post("/alerts/acknowledge", {"scope": "selected", "ids": str(alert_id)})
        assert (bulk.status_code, bulk.headers["location"]) == (303, "/alerts")
        assert "您的角色（仓库）无权执行此操作。" in (await visitor.get("/alerts")).text
        bare = await visitor.post(f"/alerts/{alert_id}/resolve", {"note": " ", "state": "open"})
        assert bare.headers["location"] == "/alerts?state=open"
        assert "请写明该告警为何无需再处理。" in (await visitor.get("/alerts")).text
    async with db.transaction() as session:
        assert await session.scalar(select(Alert.state).where(Alert.id == alert_id)) == "open"
    assert await audit_rows(db, "alert", alert_id) == []
