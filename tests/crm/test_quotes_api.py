"""B2B quotes over HTTP (CRM-6, CAT-2, ORD-5): a deep discount waits for a supervisor's approval,
then the quote is sent, accepted, and becomes a contract (JSON and PDF) and an order on credit
with its stock reserved; bad input is a 422 naming the field; a wrong step a 409."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from shopflow.core import clock
from shopflow.core.alerts import Alert
from shopflow.core.clock import FakeClock
from shopflow.core.db import Database
from shopflow.core.sla.models import SlaClock
from shopflow.orders.models import OrderClock
from tests.builders.auth import bearer
from tests.builders.lifecycle import stocked_store
from tests.builders.quotes import a_customer, quote_body

QUOTES = "/api/v1/quotes"
START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.fixture
def now() -> Iterator[FakeClock]:
    fake = FakeClock(START)
    with clock.use(fake):
        yield fake


async def _quote(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, object]
) -> dict[str, object]:
    created = await client.post(QUOTES, json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_deep_discount_waits_for_approval_then_becomes_a_contract_and_an_order(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 100)
    customer = await a_customer(db)
    sales = await bearer(db, "sales")
    manager = await bearer(db, "manager")
    # 25% off 99.00 is 74.25: below the profit band's floor (79.20) and beyond sales' 5%.
    quote = await _quote(client, sales, quote_body(customer, [("SKU-1", 10, "99.00", "25")]))
    assert (quote["state"], quote["subtotal"], quote["discount"], quote["total"]) == (
        "draft",
        "990.00",
        "247.50",
        "742.50",
    )
    assert quote["lines"][0]["net_unit_price"] == "74.25"

    submitted = (await client.post(f"{QUOTES}/{quote['id']}/submit", headers=sales)).json()
    assert submitted["state"] == "pending_approval"
    assert submitted["reasons"] == [
        "line 1 SKU-1: 74.25 is below the profit band's floor 79.20 (80% of 99.00)",
        "line 1 SKU-1: 25% off list exceeds the sales authority of 5%",
    ]
    async with db.transaction() as session:
        alert = (await session.scalars(select(Alert).where(Alert.kind == "approval.pending"))).one()
        assert (alert.owner, alert.state) == ("manager", "open")
    not_yet = await client.post(f"{QUOTES}/{quote['id']}/send", headers=sales)
    assert not_yet.status_code == 409
    refused = await client.post(f"{QUOTES}/{quote['id']}/approve", json={"note": "ok"}, headers=sales)
    assert refused.status_code == 403

    approved = await client.post(f"{QUOTES}/{quote['id']}/approve", json={"note": "大客户"}, headers=manager)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert approved.json()["decision_note"] == "大客户"
    assert approved.json()["expires_at"].startswith((START + timedelta(days=15)).date().isoformat())
    async with db.transaction() as session:
        assert (await session.get(Alert, alert.id)).state == "resolved"  # type: ignore[union-attr]

    assert (await client.post(f"{QUOTES}/{quote['id']}/send", headers=sales)).json()["state"] == "sent"
    accepted = await client.post(f"{QUOTES}/{quote['id']}/accept", headers=sales)
    assert accepted.status_code == 200, accepted.text
    contract = accepted.json()
    assert contract["contract_no"] == "HT202612070001"
    assert (contract["total"], contract["payment_terms"]) == ("742.50", "net30")

    read = await client.get(f"/api/v1/contracts/{contract['id']}", headers=sales)
    assert read.json()["lines"][0]["net_unit_price"] == "74.25"
    pdf = await client.get(f"/api/v1/contracts/{contract['id']}.pdf", headers=sales)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert b"HT202612070001" in pdf.content

    order = (await client.get(f"/api/v1/orders/{contract['order_id']}", headers=manager)).json()
    assert (order["status"], order["channel_order_no"], order["payment_terms"]) == (
        "confirmed",
        "HT202612070001",
        "net30",
    )
    assert order["payment_due_at"].startswith((START + timedelta(days=30)).date().isoformat())
    assert [(r["quantity"], r["state"]) for r in order["reservations"]] == [(10, "active")]
    assert order["lines"][0]["unit_price"] == "74.25"
    async with db.transaction() as session:
        kinds = (
            await session.scalars(select(SlaClock.kind).where(SlaClock.subject == f"order:{order['id']}"))
        ).all()
    assert list(kinds) == [OrderClock.SHIP]  # no unpaid-cancel clock (ORD-5)
    again = await client.post(f"{QUOTES}/{quote['id']}/accept", headers=sales)
    assert again.status_code == 409


async def test_nobody_approves_their_own_request_or_beyond_their_authority(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 100)
    customer = await a_customer(db)
    manager = await bearer(db, "manager")
    other_manager = await bearer(db, "manager")
    admin = await bearer(db, "admin")
    quote = await _quote(client, manager, quote_body(customer, [("SKU-1", 2, "99.00", "40")]))
    await client.post(f"{QUOTES}/{quote['id']}/submit", headers=manager)

    own = await client.post(f"{QUOTES}/{quote['id']}/approve", json={"note": ""}, headers=manager)
    beyond = await client.post(f"{QUOTES}/{quote['id']}/approve", json={"note": ""}, headers=other_manager)
    done = await client.post(f"{QUOTES}/{quote['id']}/reject", json={"note": "太低"}, headers=admin)

    assert (own.status_code, own.json()["code"]) == (403, "own_request")
    assert (beyond.status_code, beyond.json()["code"]) == (403, "beyond_authority")
    assert (done.json()["state"], done.json()["decision_note"]) == ("rejected", "太低")


async def test_a_quote_within_authority_and_floor_is_approved_at_once(
    client: httpx.AsyncClient, db: Database, now: FakeClock
) -> None:
    await stocked_store(db, 100)
    customer = await a_customer(db)
    sales = await bearer(db, "sales")
    quote = await _quote(client, sales, quote_body(customer, [("SKU-1", 3, "99.00", "5")], terms="prepaid"))

    submitted = (await client.post(f"{QUOTES}/{quote['id']}/submit", headers=sales)).json()

    assert (submitted["state"], submitted["reasons"], submitted["approval_id"]) == ("approved", [], None)
    listed = (await client.get(QUOTES, params={"state": "approved"}, headers=sales)).json()
    assert [q["id"] for q in listed["items"]] == [quote["id"]]


@pytest.mark.parametrize(
    ("line", "change", "field"),
    [
        (("NOPE", 1, "99.00", "0"), {}, "lines[0].sku"),
        (("SKU-1", 0, "99.00", "0"), {}, "lines[0].quantity"),
        (("SKU-1", 1, "99.00", "100.5"), {}, "lines[0].discount_percent"),
        (("SKU-1", 1, "99.00", "-1"), {}, "lines[0].discount_percent"),
        (("SKU-1", 1, "99.00", "0"), {"payment_terms": "net90"}, "payment_terms"),
        (("SKU-1", 1, "99.00", "0"), {"customer_id": 999999}, "customer_id"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    db: Database,
    line: tuple[str, int, str, str],
    change: dict[str, object],
    field: str,
) -> None:
    await stocked_store(db, 10)
    customer = await a_customer(db)
    sales = await bearer(db, "sales")
    answer = await client.post(QUOTES, json={**quote_body(customer, [line]), **change}, headers=sales)
    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]
