"""The worker's risk sweeps: orders past `reject` cancelled without a person only when the policy
says so (RSK-1), and velocity counters past every window deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from shopflow import worker
from shopflow.core import clock, policy
from shopflow.core.db import Database
from shopflow.core.risk_policy import Risk
from shopflow.risk.models import RiskCounter
from tests.builders.auth import bearer
from tests.builders.lifecycle import stocked_store
from tests.builders.orders import address, order_body

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def _blocked_order(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    block = {"kind": "phone", "value": "13300133000", "reason": "fraud"}
    assert (await client.post("/api/v1/risk/blocklist", json=block, headers=headers)).status_code == 201
    body = order_body(
        [("SKU-1", 1, "99.00")],
        customer={"name": "王五", "phone": "13300133000"},
        shipping_address=address(),
        buyer_ip="192.0.2.9",
    )
    reply = await client.post("/api/v1/orders", json=body, headers=headers)
    assert reply.json()["status"] == "on_hold", reply.text
    return int(reply.json()["id"])


async def _sweep(db: Database, name: str) -> int:
    async with db.transaction() as session:
        return await worker.SWEEPS[name](session)


async def test_an_order_past_reject_waits_for_a_person_unless_the_policy_cancels_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    await stocked_store(db, 10)
    admin = await bearer(db, "admin")
    order_id = await _blocked_order(client, admin)
    assert await _sweep(db, "risk.auto_cancel") == 0
    assert (await client.get(f"/api/v1/orders/{order_id}", headers=admin)).json()["status"] == "on_hold"

    policy.install(policy.Policy(risk=Risk(auto_cancel_rejected=True)))
    assert await _sweep(db, "risk.auto_cancel") == 1
    assert await _sweep(db, "risk.auto_cancel") == 0
    assert (await client.get(f"/api/v1/orders/{order_id}", headers=admin)).json()["status"] == "cancelled"
    review = (await client.get(f"/api/v1/orders/{order_id}/risk", headers=admin)).json()["review"]
    assert (review["state"], review["decision"]) == ("rejected", "reject")


async def test_counters_older_than_a_day_are_deleted(client: httpx.AsyncClient, db: Database) -> None:
    await stocked_store(db, 10)
    admin = await bearer(db, "admin")
    with clock.use(lambda: START):
        await _blocked_order(client, admin)
    async with db.transaction() as session:
        kept = await session.scalar(select(func.count()).select_from(RiskCounter))
    assert kept == 2  # its IP and its duplicate fingerprint, this minute
    with clock.use(lambda: START + timedelta(hours=23)):
        assert await _sweep(db, "risk.counters") == 0
    with clock.use(lambda: START + timedelta(days=1, minutes=2)):
        assert await _sweep(db, "risk.counters") == 2
