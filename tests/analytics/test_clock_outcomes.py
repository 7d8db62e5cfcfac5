"""Clocks tell the truth (SLA-1, SLA-3): a cancelled order's clocks are cancelled, neither met nor
breached, and compliance rates leave them out; the API, the console and the alerts say so."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from tests.analytics import test_api
from tests.builders.auth import bearer
from tests.builders.console import Visitors, signed_in, visitors
from tests.builders.lifecycle import pay, place, ship, sweep
from tests.builders.rows import alerts_for
from tests.builders.store import small_store

START = test_api.START
now = test_api.now  # the fake clock at START, as test_api has it


async def cancel(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> None:
    reply = await client.post(
        f"/api/v1/orders/{order_id}/cancel", json={"reason": "customer"}, headers=headers
    )
    assert reply.status_code == 200, reply.text


async def clock_states(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/sla?subject=order:{order_id}", headers=headers)
    return {c["kind"]: (c["state"], c["seconds_left"]) for c in reply.json()["clocks"]}


async def test_a_cancelled_order_s_clocks_are_cancelled_and_left_out_of_compliance(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await small_store(db)
    operations = await bearer(db, "operations")
    on_time, cancelled_paid, cancelled_unpaid, late, late_then_cancelled = [await place(db) for _ in range(5)]
    for order_id in (on_time, cancelled_paid, late, late_then_cancelled):
        await pay(db, order_id)
    now.advance(hours=1)
    await ship(db, on_time)
    await cancel(client, operations, cancelled_paid)
    await cancel(client, operations, cancelled_unpaid)
    now.advance(hours=48)
    await sweep(db)  # the ship clocks of `late` and `late_then_cancelled` breach
    await cancel(client, operations, late_then_cancelled)

    assert await clock_states(client, operations, cancelled_paid) == {
        "order.pay": ("met", None),
        "order.ship": ("cancelled", None),
    }
    assert await clock_states(client, operations, cancelled_unpaid) == {"order.pay": ("cancelled", None)}
    # A breach stays a breach when its order ends; its alert's cause has ended with the order.
    assert (await clock_states(client, operations, late_then_cancelled))["order.ship"] == ("breached", None)
    [ended] = await alerts_for(db, f"order:{late_then_cancelled}")
    assert (ended.state, ended.resolution_note) == ("resolved", "its subject ended early")
    [still_late] = await alerts_for(db, f"order:{late}")
    assert still_late.state == "open"

    period = {"from": START.isoformat(), "to": (START + timedelta(days=7)).isoformat()}
    reply = await client.get("/api/v1/sla/compliance", params=period, headers=await bearer(db, "sales"))

    assert reply.status_code == 200, reply.text
    assert reply.json() == [
        # The shipped order's delivery clock runs and is not due: undecided, no rate yet.
        {"kind": "order.deliver", "met": 0, "breached": 0, "cancelled": 0, "rate": None},
        {"kind": "order.pay", "met": 4, "breached": 0, "cancelled": 1, "rate": 1.0},
        # on time 1, late 2: the cancelled shipment is neither on time nor late.
        {"kind": "order.ship", "met": 1, "breached": 2, "cancelled": 1, "rate": 0.3333},
    ]


async def test_a_step_after_the_deadline_is_late_even_before_the_sweep_marks_it(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db)
    await pay(db, order_id)
    now.advance(hours=49)
    await ship(db, order_id)  # no sweep ran in between
    period = {"from": START.isoformat(), "to": (START + timedelta(days=7)).isoformat()}

    reply = await client.get("/api/v1/sla/compliance", params=period, headers=await bearer(db, "sales"))

    assert {c["kind"]: (c["met"], c["breached"]) for c in reply.json()}["order.ship"] == (0, 1)


async def test_the_console_shows_a_cancelled_clock_as_cancelled(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await small_store(db)
    order_id = await place(db)
    await cancel(client, await bearer(db, "operations"), order_id)
    visit: Visitors = visitors(db)

    async with await signed_in(visit, db, "operations") as visitor:
        page = await visitor.get(f"/orders/{order_id}")

    assert page.status_code == 200
    [row] = re.findall(r"<tr><td>付款</td>.*?</tr>", page.text)
    assert '<span class="clock cancelled">已取消</span>' in row
