"""Risk on the console (RSK-1, RSK-2): the queue (the oldest first, late ones red) in zh and en,
the review page with its reasons and history, approve and reject through its form (a missing
reason refused at its field), the rules with the shadow results, and the blocklist's form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopflow.core import clock
from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.console import Visitors, signed_in, table_row, visitors
from tests.builders.lifecycle import stocked_store
from tests.builders.orders import address, order_body

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _held_orders(visit: Visitors, db: Database) -> list[int]:
    """Two orders held for review (blocked phones), placed an hour apart from START."""
    await stocked_store(db, 20)
    admin = await bearer(db, "admin")
    held = []
    async with visit() as visitor:
        client = visitor.client
        for i, phone in enumerate(("13900139001", "13900139002")):
            with clock.use(lambda i=i: START + timedelta(hours=i)):
                block = {"kind": "phone", "value": phone, "reason": "chargebacks"}
                assert (
                    await client.post("/api/v1/risk/blocklist", json=block, headers=admin)
                ).status_code == 201
                body = order_body(
                    [("SKU-1", 1, "99.00")],
                    customer={"name": "李四", "phone": phone},
                    shipping_address=address(),
                )
                reply = await client.post("/api/v1/orders", json=body, headers=admin)
                assert reply.json()["status"] == "on_hold", reply.text
                held.append(int(reply.json()["id"]))
    return held


async def test_the_queue_lists_the_oldest_first_and_the_late_in_red_in_both_languages(
    db: Database, visit: Visitors
) -> None:
    first, second = await _held_orders(visit, db)
    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        with clock.use(lambda: START + timedelta(hours=2, minutes=30)):
            zh = await visitor.get("/risk")
            assert zh.status_code == 200, zh.text
            assert zh.text.index(f'id="review-{first}"') < zh.text.index(f'id="review-{second}"')
            assert f'<tr id="review-{first}" class="late">' in zh.text  # held at 9:00, due 11:00
            assert "风险审核" in zh.text and "黑名单" in zh.text
            assert "review-" + str(second) + '"' in table_row(zh.text, f"review-{second}")
            await visitor.post("/language", {"locale": "en", "next": "/risk"})
            en = await visitor.get("/risk")
            assert "Risk review" in en.text and "On the blocklist" in en.text and "late" in en.text


async def test_a_review_is_approved_or_rejected_through_its_page_with_a_reason(
    db: Database, visit: Visitors
) -> None:
    first, second = await _held_orders(visit, db)
    async with await signed_in(visit, db, "cs_supervisor") as visitor:
        page = await visitor.get(f"/risk/reviews/{first}")
        assert page.status_code == 200, page.text
        assert "its phone is on the blocklist" in page.text and 'id="customer-history"' in page.text
        assert 'id="similar-orders"' in page.text
        refused = await visitor.post(f"/risk/reviews/{first}/approve", {"reason": ""})
        assert refused.status_code == 422, refused.text
        assert 'id="error-reason"' in refused.text
        approved = await visitor.post(f"/risk/reviews/{first}/approve", {"reason": "called the buyer"})
        assert approved.status_code == 303, approved.text
        rejected = await visitor.post(f"/risk/reviews/{second}/reject", {"reason": "fraud"})
        assert rejected.status_code == 303, rejected.text
        shown = await visitor.get(f"/risk/reviews/{first}")
        assert '<dd id="review-reason">called the buyer</dd>' in shown.text
        assert 'id="decision-form"' not in shown.text
        assert (await visitor.get("/risk")).text.count('id="review-') == 0


async def test_rules_and_blocklist_pages_take_their_forms(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "manager") as visitor:
        rules = await visitor.get("/risk/rules")
        assert rules.status_code == 200, rules.text
        assert 'id="rule-velocity_ip"' in rules.text and 'id="shadow-holds"' in rules.text
        bad = await visitor.post("/risk/rules", {"code": "duplicate", "params": "{nope"})
        assert bad.status_code == 422 and 'id="error-params"' in bad.text
        saved = await visitor.post("/risk/rules", {"code": "duplicate", "mode": "shadow", "weight": "45"})
        assert saved.status_code == 303, saved.text
        assert "s-shadow" in table_row((await visitor.get("/risk/rules")).text, "rule-duplicate")
        added = await visitor.post(
            "/risk/blocklist", {"kind": "ip", "value": "198.51.100.1", "reason": "bots"}
        )
        assert added.status_code == 303, added.text
        listed = await visitor.get("/risk/blocklist")
        assert "198.51.100.1" in listed.text
        wrong = await visitor.post("/risk/blocklist", {"kind": "phone", "value": "12", "reason": "x"})
        assert wrong.status_code == 422 and 'id="error-value"' in wrong.text
