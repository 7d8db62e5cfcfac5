"""After-sales cases over HTTP (ASV-1..6, AUD-1): the full return, an exchange, authority,
refusals; stock and its ledger after inspection (INV-1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.aftersales.models import Case
from shopflow.core import clock
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from tests.builders.aftersales import CASES, act, case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.inventory import all_stock, ledger_sums
from tests.builders.lifecycle import clocks
from tests.builders.refunds import settle
from tests.builders.rows import audit_rows, late_crowd, outbox


async def on_hand(client: httpx.AsyncClient, headers: dict[str, str], sku: str) -> dict[str, int]:
    reply = await client.get(f"/api/v1/inventory/{sku}", headers=headers)
    assert reply.status_code == 200, reply.text
    return {w["warehouse"]: w["on_hand"] for w in reply.json()["warehouses"]}


async def standing(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/orders/{order_id}/aftersales", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def order_view(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> tuple[str, str]:
    """The order's `aftersales` and `refunded` as GET /orders/{id} shows them (and by number, the same)."""
    reply = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    by_id = reply.json()
    by_number = (await client.get(f"/api/v1/orders/by-number/{by_id['order_no']}", headers=headers)).json()
    assert (by_number["aftersales"], by_number["refunded"]) == (by_id["aftersales"], by_id["refunded"])
    return by_id["aftersales"], by_id["refunded"]


async def case_count(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Case)) or 0)


async def test_a_return_goes_from_request_to_refund_with_stock_and_ledger_right(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)  # SKU-1 x1 at 99.00, SKU-2 x2 at 45.50: 190.00
    agent, warehouse = await bearer(db, "customer_service"), await bearer(db, "warehouse")
    before = {sku: await on_hand(client, agent, sku) for sku in ("SKU-1", "SKU-2")}
    body = case_body(
        order_id, reason="quality", lines=[{"sku": "SKU-1", "quantity": 1}, {"sku": "SKU-2", "quantity": 1}]
    )

    case = await open_case(client, agent, body)

    assert (case["state"], case["eligibility"]["rule"]) == ("requested", "quality_return")
    assert case["eligibility"]["sentence"].startswith("15-day quality return ends ")
    # 99.00 + 45.50 of goods; not the whole order (one SKU-2 stays), so no shipping back; the
    # store bears the return postage of a quality fault (10.00).
    assert case["refund"] == {
        "items": "144.50",
        "discount_share": "0.00",
        "shipping": "0.00",
        "return_shipping": "10.00",
        "total": "154.50",
    }
    assert (await standing(client, agent, order_id))["aftersales"] == "in_progress"
    assert await order_view(client, agent, order_id) == ("in_progress", "0.00")
    case_id = case["id"]
    assert (await act(client, agent, case_id, "approve"))["state"] == "approved"
    shipped = await act(client, agent, case_id, "return-shipment", {"carrier": "SF", "tracking_no": "SF1001"})
    assert shipped["state"] == "awaiting_return"
    assert shipped["return_shipment"]["tracking_no"] == "SF1001"
    assert (await act(client, warehouse, case_id, "receive"))["state"] == "received"
    inspection = {
        "lines": [
            {"sku": "SKU-1", "quantity": 1, "result": "restock", "warehouse": "WH-B"},
            {"sku": "SKU-2", "quantity": 1, "result": "write_off", "note": "cracked casing"},
        ]
    }
    inspected = await act(client, warehouse, case_id, "inspect", inspection)
    assert inspected["state"] == "inspected"
    assert [(line["sku"], line["restocked"], line["written_off"]) for line in inspected["lines"]] == [
        ("SKU-1", 1, 0),
        ("SKU-2", 0, 1),
    ]
    assert (await act(client, agent, case_id, "refund"))["state"] == "refunding"
    [requested] = [
        e for e in await outbox(db, f"order:{order_id}") if e.event == "aftersales.refund_requested"
    ]
    assert requested.payload["amount"] == "154.50"
    assert requested.payload["idempotency_key"] == f"case:{case['case_no']}:refund"
    # The money goes back through the payment's refund ledger; the gateway's signed callback
    # settles the refund, which settles the case.
    admin = await bearer(db, "admin")
    ledger = await client.get(f"/api/v1/payments/{requested.payload['payment_id']}/refunds", headers=admin)
    [refund] = ledger.json()["items"]
    assert (refund["amount"], refund["status"]) == ("154.50", "pending")
    assert (await act(client, agent, case_id, "refund", status=409))["code"] == "invalid_transition"
    [settled] = await settle(client, admin, refund["id"], "succeeded")
    assert settled["status_code"] == 200, settled

    final = (await client.get(f"{CASES}/{case_id}", headers=agent)).json()
    assert (final["state"], final["refunded"]) == ("refunded", "154.50")
    assert await standing(client, agent, order_id) == {
        "order_id": order_id,
        "aftersales": "partially_refunded",
        "refunded": "154.50",
    }
    assert await order_view(client, agent, order_id) == ("partially_refunded", "154.50")
    # SKU-1 back into WH-B's stock; SKU-2 came back and was written off: WH-A unchanged.
    after = {sku: await on_hand(client, agent, sku) for sku in ("SKU-1", "SKU-2")}
    assert after["SKU-1"] == {**before["SKU-1"], "WH-B": before["SKU-1"]["WH-B"] + 1}
    assert after["SKU-2"] == before["SKU-2"]
    ledger = (await client.get("/api/v1/inventory/SKU-2/ledger", headers=agent)).json()["items"]
    assert [(e["kind"], e["quantity"]) for e in ledger[-2:]] == [("return", 1), ("write_off", -1)]
    async with db.transaction() as session:
        sums, rows = await ledger_sums(session), await all_stock(session)
    assert all(sums.get((row.sku_id, row.warehouse_id), 0) == row.on_hand for row in rows)
    trail = [
        (row.action, row.before, row.after and row.after.get("state"))
        for row in await audit_rows(db, "case", case_id)
    ]
    assert [action for action, _, _ in trail] == [
        "case.requested",
        "case.approved",
        "case.awaiting_return",
        "case.received",
        "case.inspected",
        "case.refunding",
        "case.refund_requested",
        "case.refunded",
    ]
    assert trail[1][1] == {"state": "requested"}


async def test_an_ineligible_request_is_422_naming_the_rule_and_nothing_is_stored(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)
    agent = await bearer(db, "customer_service")

    reply = await client.post(CASES, json=case_body(order_id, opened=True), headers=agent)

    assert reply.status_code == 422
    assert reply.headers["content-type"] == "application/problem+json"
    assert (reply.json()["code"], reply.json()["detail"]) == (
        "not_eligible",
        "opened goods are not eligible for the 7-day no-reason return",
    )
    assert await case_count(db) == 0


async def test_a_second_case_cannot_take_back_more_than_was_delivered(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)
    agent = await bearer(db, "customer_service")
    two = [{"sku": "SKU-2", "quantity": 2}]
    first = await open_case(client, agent, case_body(order_id, lines=[{"sku": "SKU-2", "quantity": 1}]))

    reply = await client.post(CASES, json=case_body(order_id, lines=two), headers=agent)

    assert reply.status_code == 422
    assert reply.json()["errors"] == [
        {"field": "lines[0].quantity", "message": "SKU-2: 1 of 2 can still be returned (1 in other cases)"}
    ]
    await act(client, agent, first["id"], "cancel")  # a cancelled case gives its units back
    assert (await open_case(client, agent, case_body(order_id, lines=two)))["state"] == "requested"


async def test_unknown_lines_and_missing_amounts_are_field_errors(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)
    agent = await bearer(db, "customer_service")
    body = case_body(order_id, lines=[{"sku": "SKU-9", "quantity": 1}])

    unknown = await client.post(CASES, json=body, headers=agent)
    no_amount = await client.post(
        CASES, json=case_body(order_id, type="compensation", lines=[]), headers=agent
    )

    assert unknown.status_code == no_amount.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "lines[0].sku"
    assert no_amount.json()["errors"] == [
        {"field": "amount", "message": "a compensation needs an amount above 0"}
    ]
    assert await case_count(db) == 0


async def test_a_step_the_table_does_not_allow_is_409(client: httpx.AsyncClient, db: Database) -> None:
    order_id = await delivered_order(db)
    agent, warehouse = await bearer(db, "customer_service"), await bearer(db, "warehouse")
    case = await open_case(client, agent, case_body(order_id))

    refused = await act(client, warehouse, case["id"], "receive", status=409)
    await act(client, agent, case["id"], "reject", {"reason": "photos show use"})
    again = await act(client, agent, case["id"], "approve", status=409)

    assert refused["code"] == again["code"] == "invalid_transition"
    assert again["detail"] == "case cannot go from 'rejected' to 'approved'"
    rejected = (await client.get(f"{CASES}/{case['id']}", headers=agent)).json()
    assert (rejected["state"], rejected["reject_reason"]) == ("rejected", "photos show use")


@pytest.mark.parametrize(
    ("role", "action"), [("warehouse", "approve"), ("sales", "inspect"), ("finance", "refund")]
)
async def test_each_step_needs_its_permission(
    client: httpx.AsyncClient, db: Database, role: str, action: str
) -> None:
    order_id = await delivered_order(db)
    case = await open_case(client, await bearer(db, "customer_service"), case_body(order_id))

    reply = await client.post(
        f"{CASES}/{case['id']}/{action}", json={"lines": []}, headers=await bearer(db, role)
    )

    assert reply.status_code == 403


async def test_a_600_yuan_compensation_is_refused_to_an_agent_and_approved_by_a_supervisor(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db, [("SKU-1", 7, "99.00")])  # 693.00 captured: room for 600.00
    agent, supervisor = await bearer(db, "customer_service"), await bearer(db, "cs_supervisor")
    body = case_body(order_id, type="compensation", reason="other", lines=[], amount="600.00")
    case = await open_case(client, agent, body)
    assert case["refund"]["total"] == "600.00"

    refused = await act(client, agent, case["id"], "approve", status=403)
    assert refused["code"] == "over_compensation_limit"
    assert "500.00" in refused["detail"]
    assert (await client.get(f"{CASES}/{case['id']}", headers=agent)).json()["state"] == "requested"

    approved = await act(client, supervisor, case["id"], "approve")
    assert approved["state"] == "approved"
    assert (await act(client, agent, case["id"], "refund"))["state"] == "refunding"


async def test_an_agent_approves_a_compensation_up_to_the_limit(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)
    agent = await bearer(db, "customer_service")
    case = await open_case(
        client, agent, case_body(order_id, type="compensation", reason="other", lines=[], amount="500.00")
    )

    assert (await act(client, agent, case["id"], "approve"))["state"] == "approved"


async def test_an_order_whose_whole_capture_went_back_shows_refunded(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)  # 190.00 captured
    agent, admin = await bearer(db, "customer_service"), await bearer(db, "admin")
    assert await order_view(client, agent, order_id) == ("none", "0.00")
    body = case_body(
        order_id,
        type="refund_only",
        reason="quality",
        lines=[{"sku": "SKU-1", "quantity": 1}, {"sku": "SKU-2", "quantity": 2}],
    )
    case = await open_case(client, agent, body)
    await act(client, agent, case["id"], "approve")
    await act(client, agent, case["id"], "refund")
    assert await order_view(client, agent, order_id) == ("in_progress", "0.00")  # pending is not refunded
    [requested] = [
        e for e in await outbox(db, f"order:{order_id}") if e.event == "aftersales.refund_requested"
    ]

    await settle(client, admin, requested.payload["refund_id"], "succeeded")

    assert await order_view(client, agent, order_id) == ("refunded", "190.00")


@pytest.fixture
def still() -> Iterator[FakeClock]:
    """A clock that stands still, so deadlines are exact."""
    fake = FakeClock(datetime.now(UTC))
    with clock.use(fake):
        yield fake


async def test_a_quality_exchange_ships_a_free_replacement_at_once_and_closes_when_the_return_arrives(
    client: httpx.AsyncClient, db: Database, still: FakeClock
) -> None:
    order_id = await delivered_order(db)
    agent, warehouse = await bearer(db, "customer_service"), await bearer(db, "warehouse")
    case = await open_case(client, agent, case_body(order_id, type="exchange", reason="quality"))
    await act(client, agent, case["id"], "approve")

    exchanged = await act(client, agent, case["id"], "exchange")

    assert exchanged["state"] == "exchanged"
    replacement = (
        await client.get(f"/api/v1/orders/{exchanged['replacement_order_id']}", headers=agent)
    ).json()
    assert (replacement["channel"], replacement["status"], replacement["totals"]["total"]) == (
        "exchange",
        "paid",
        "0.00",
    )
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in replacement["lines"]] == [
        ("SKU-1", 1, "0.00")
    ]
    ship = (await clocks(db, replacement["id"]))["order.ship"]
    assert (ship.state, ship.deadline - ship.started_at) == (
        "running",
        timedelta(hours=24),
    )
    assert (await standing(client, agent, order_id))["aftersales"] == "in_progress"  # the return is still due

    # The goods come back later: their shipment, their arrival and their inspection keep the
    # case `exchanged` and open until every unit is restocked or written off.
    before = await on_hand(client, agent, "SKU-1")
    shipped = await act(
        client, agent, case["id"], "return-shipment", {"carrier": "SF", "tracking_no": "SF2002"}
    )
    assert (shipped["state"], shipped["return_shipment"]["tracking_no"]) == ("exchanged", "SF2002")
    received = await act(client, warehouse, case["id"], "receive")
    assert (received["state"], received["return_shipment"]["received_at"] is not None) == ("exchanged", True)
    assert (await act(client, warehouse, case["id"], "receive", status=409))["code"] == "invalid_transition"
    assert (await act(client, agent, case["id"], "close", status=409))["code"] == "invalid_transition"
    assert (await standing(client, agent, order_id))["aftersales"] == "in_progress"

    inspection = {"lines": [{"sku": "SKU-1", "quantity": 1, "result": "restock", "warehouse": "WH-B"}]}
    closed = await act(client, warehouse, case["id"], "inspect", inspection)

    assert closed["state"] == "closed"
    assert [(line["sku"], line["restocked"], line["written_off"]) for line in closed["lines"]] == [
        ("SKU-1", 1, 0)
    ]
    assert await on_hand(client, agent, "SKU-1") == {**before, "WH-B": before["WH-B"] + 1}
    async with db.transaction() as session:
        sums, rows = await ledger_sums(session), await all_stock(session)
    assert all(sums.get((row.sku_id, row.warehouse_id), 0) == row.on_hand for row in rows)
    actions = [row.action for row in await audit_rows(db, "case", case["id"])]
    assert actions[-4:] == ["case.return_shipped", "case.received", "case.inspected", "case.closed"]
    assert await standing(client, agent, order_id) == {
        "order_id": order_id,
        "aftersales": "returned",
        "refunded": "0.00",
    }
    assert await order_view(client, agent, order_id) == ("returned", "0.00")


async def test_a_quality_replacements_return_written_off_keeps_the_ledger_equal_to_stock(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)
    agent, warehouse = await bearer(db, "customer_service"), await bearer(db, "warehouse")
    body = case_body(order_id, type="exchange", reason="quality", lines=[{"sku": "SKU-2", "quantity": 2}])
    case = await open_case(client, agent, body)
    await act(client, agent, case["id"], "approve")
    await act(client, agent, case["id"], "exchange")
    before = await on_hand(client, agent, "SKU-2")
    inspection = {
        "lines": [
            {"sku": "SKU-2", "quantity": 1, "result": "restock", "warehouse": "WH-A"},
            {"sku": "SKU-2", "quantity": 1, "result": "write_off", "warehouse": "WH-A", "note": "cracked"},
        ]
    }
    refused = await act(client, warehouse, case["id"], "inspect", inspection, status=409)
    assert refused["code"] == "invalid_transition"  # nothing has come back yet
    await act(client, warehouse, case["id"], "receive")  # arrived without a recorded shipment

    closed = await act(client, warehouse, case["id"], "inspect", inspection)

    assert (closed["state"], closed["lines"][0]["restocked"], closed["lines"][0]["written_off"]) == (
        "closed",
        1,
        1,
    )
    assert await on_hand(client, agent, "SKU-2") == {**before, "WH-A": before["WH-A"] + 1}
    ledger = (await client.get("/api/v1/inventory/SKU-2/ledger", headers=agent)).json()["items"]
    assert [(e["kind"], e["quantity"]) for e in ledger[-3:]] == [
        ("return", 1),
        ("return", 1),
        ("write_off", -1),
    ]
    async with db.transaction() as session:
        sums, rows = await ledger_sums(session), await all_stock(session)
    assert all(sums.get((row.sku_id, row.warehouse_id), 0) == row.on_hand for row in rows)


async def test_a_no_reason_exchange_waits_for_inspection(client: httpx.AsyncClient, db: Database) -> None:
    order_id = await delivered_order(db)
    agent = await bearer(db, "customer_service")
    case = await open_case(client, agent, case_body(order_id, type="exchange"))
    await act(client, agent, case["id"], "approve")

    assert (await act(client, agent, case["id"], "exchange", status=409))["code"] == "invalid_transition"


async def test_cases_are_listed_by_state_type_and_order(client: httpx.AsyncClient, db: Database) -> None:
    order_id = await delivered_order(db)
    agent = await bearer(db, "customer_service")
    first = await open_case(client, agent, case_body(order_id))
    second = await open_case(
        client,
        agent,
        case_body(order_id, type="refund_only", reason="quality", lines=[{"sku": "SKU-2", "quantity": 1}]),
    )
    await act(client, agent, second["id"], "approve")

    requested = (await client.get(CASES, params={"state": "requested"}, headers=agent)).json()
    refund_only = (
        await client.get(CASES, params={"type": "refund_only", "order_id": order_id}, headers=agent)
    ).json()
    bad = await client.get(CASES, params={"state": "lost"}, headers=agent)

    assert [c["id"] for c in requested["items"]] == [first["id"]]
    assert (refund_only["total"], refund_only["items"][0]["state"]) == (1, "approved")
    assert bad.status_code == 422


async def test_the_late_filter_finds_a_late_case_behind_any_number_of_other_late_clocks(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)
    agent = await bearer(db, "customer_service")
    case = await open_case(client, agent, case_body(order_id))
    await late_crowd(db, 10_001, clock.now())  # longer overdue than it will be, of other subjects
    later = clock.now() + timedelta(days=60)  # its review is long late

    with clock.use(lambda: later):
        late = (await client.get(CASES, params={"late": True}, headers=agent)).json()

    assert ([c["id"] for c in late["items"]], late["total"]) == ([case["id"]], 1)


async def test_an_inspection_into_an_unknown_warehouse_or_of_other_quantities_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    order_id = await delivered_order(db)
    agent, warehouse = await bearer(db, "customer_service"), await bearer(db, "warehouse")
    case = await open_case(client, agent, case_body(order_id, reason="quality"))
    await act(client, agent, case["id"], "approve")
    await act(client, agent, case["id"], "return-shipment", {"carrier": "SF", "tracking_no": "SF1"})
    await act(client, warehouse, case["id"], "receive")
    before = await on_hand(client, agent, "SKU-1")

    unknown = await act(
        client,
        warehouse,
        case["id"],
        "inspect",
        {"lines": [{"sku": "SKU-1", "quantity": 1, "result": "restock", "warehouse": "WH-Z"}]},
        status=422,
    )
    too_few = await act(
        client,
        warehouse,
        case["id"],
        "inspect",
        {"lines": [{"sku": "SKU-2", "quantity": 1, "result": "restock"}]},
        status=422,
    )

    assert unknown["errors"] == [{"field": "lines[0].warehouse", "message": "unknown warehouse 'WH-Z'"}]
    assert [e["field"] for e in too_few["errors"]] == ["lines[0].sku", "lines"]
    assert (await client.get(f"{CASES}/{case['id']}", headers=agent)).json()["state"] == "received"
    assert await on_hand(client, agent, "SKU-1") == before


@pytest.mark.parametrize(
    ("case_type", "step", "settled"),
    [("repair", "repair", "repaired"), ("exchange", "exchange", "exchanged")],
)
async def test_goods_inspected_are_repaired_or_exchanged_and_the_case_closes(
    client: httpx.AsyncClient, db: Database, case_type: str, step: str, settled: str
) -> None:
    order_id = await delivered_order(db)
    agent, warehouse = await bearer(db, "customer_service"), await bearer(db, "warehouse")
    case = await open_case(client, agent, case_body(order_id, type=case_type, reason="no_reason"))
    assert case["refund"]["total"] == "0.00"  # nothing is paid back for a repair or an exchange
    await act(client, agent, case["id"], "approve")
    await act(client, agent, case["id"], "return-shipment", {"carrier": "YTO", "tracking_no": "YT9"})
    await act(client, warehouse, case["id"], "receive")
    await act(
        client,
        warehouse,
        case["id"],
        "inspect",
        {"lines": [{"sku": "SKU-1", "quantity": 1, "result": "restock"}]},
    )
    assert (await act(client, agent, case["id"], "refund", status=409))["code"] == "invalid_transition"

    assert (await act(client, agent, case["id"], step))["state"] == settled
    closed = await act(client, agent, case["id"], "close")

    assert closed["state"] == "closed"
    assert await standing(client, agent, order_id) == {
        "order_id": order_id,
        "aftersales": "returned",
        "refunded": "0.00",
    }
