"""RSK-3 (issue 17 item 5): a customer's data exported in full (JSON and a ZIP of CSVs, logged as a
read) and erased on request: no plaintext and no blind index of the phone left anywhere, the
books' totals and the audit log's rows unchanged, the customer no longer found by phone."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import httpx
import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import func, select, text

from shopflow.core import crypto
from shopflow.core.audit import AuditEntry
from shopflow.core.crypto import ERASED, OWNED, SECRET_BYTES
from shopflow.core.db import Database
from shopflow.core.personal_data import PersonalDataRead
from shopflow.crm.models import Customer
from shopflow.orders.models import Order
from shopflow.payments.models import PaymentReceipt
from shopflow.schema import metadata
from tests.builders.aftersales import case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.leads import submit
from tests.builders.orders import order_body
from tests.builders.store import small_store
from tests.builders.tickets import ticket_body

PHONE, NAME = "13800138000", "张三"  # the order builder's buyer


async def _person(client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    """A buyer with two orders (one delivered, with an after-sales case), a ticket and a lead."""
    delivered = await delivered_order(db)
    agent, sales = await bearer(db, "customer_service"), await bearer(db, "sales")
    second = await client.post("/api/v1/orders", json=order_body([("SKU-2", 1, "45.50")]), headers=sales)
    assert second.status_code == 201, second.text
    case = await open_case(client, agent, case_body(delivered))
    found = await client.get("/api/v1/customers", params={"phone": PHONE}, headers=agent)
    [customer] = found.json()["items"]
    ticket = await client.post(
        "/api/v1/tickets", json=ticket_body(customer_id=customer["id"], phone=PHONE), headers=agent
    )
    assert ticket.status_code == 201, ticket.text
    lead, _ = await submit(db, PHONE)
    block = {"kind": "phone", "value": PHONE, "reason": "chargebacks"}
    blocked = await client.post("/api/v1/risk/blocklist", json=block, headers=await bearer(db, "admin"))
    assert blocked.status_code == 201, blocked.text
    return {
        "customer": customer["id"],
        "orders": sorted([delivered, second.json()["id"]]),
        "case": case["id"],
        "ticket": ticket.json()["id"],
        "lead": lead.id,
    }


async def _books(db: Database) -> tuple[int, int, int]:
    async with db.transaction() as session:
        return (
            int(await session.scalar(select(func.sum(Order.total))) or 0),
            int(await session.scalar(select(func.sum(PaymentReceipt.amount))) or 0),
            int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0),
        )


async def _reads(db: Database, customer_id: int) -> int:
    """How many reads of the customer's personal data are logged."""
    async with db.transaction() as session:
        stmt = select(func.count()).where(
            PersonalDataRead.subject == "customer", PersonalDataRead.subject_id == customer_id
        )
        return int(await session.scalar(stmt) or 0)


async def _traces(db: Database, needles: list[str]) -> list[str]:
    """Every table and column where one of `needles` is found, sealed columns decrypted."""
    found = []
    async with db.transaction() as session:
        for table in metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    found += [f"{table.name}.{column}" for needle in needles if needle in text]
    return sorted(set(found))


async def test_an_export_holds_every_record_of_the_person_decrypted_and_is_logged(
    client: httpx.AsyncClient, db: Database
) -> None:
    person = await _person(client, db)
    manager = await bearer(db, "manager")
    reads_before = await _reads(db, person["customer"])

    reply = await client.get(f"/api/v1/customers/{person['customer']}/export", headers=manager)

    assert reply.status_code == 200, reply.text
    records = reply.json()["records"]
    assert [o["id"] for o in records["orders"]] == person["orders"]
    assert {o["contact"]["customer"]["phone"] for o in records["orders"]} == {PHONE}
    assert [c["id"] for c in records["cases"]] == [person["case"]]
    assert [t["id"] for t in records["tickets"]] == [person["ticket"]]
    assert [m["content"]["body"] for m in records["ticket_messages"]] == ["我的包裹到哪了？"]
    assert [lead["id"] for lead in records["leads"]] == [person["lead"]]
    assert records["customers"][0]["personal"]["name"] == NAME
    assert [p["phone"] for p in records["phones"]] == [PHONE]
    assert len(records["order_lines"]) == 3 and len(records["payments"]) == 1
    assert "phone_hash" not in reply.text  # blind indexes say nothing to a person
    assert await _reads(db, person["customer"]) == reads_before + 1

    zipped = await client.get(
        f"/api/v1/customers/{person['customer']}/export", params={"format": "zip"}, headers=manager
    )

    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert {"customers.csv", "orders.csv", "cases.csv", "tickets.csv", "leads.csv"} <= set(archive.namelist())
    orders = list(csv.DictReader(io.StringIO(archive.read("orders.csv").decode("utf-8-sig"))))
    assert [int(o["id"]) for o in orders] == person["orders"]
    assert all(PHONE in o["contact"] for o in orders)


async def test_only_roles_that_see_personal_data_export_and_only_a_manager_erases_with_a_reason(
    client: httpx.AsyncClient, db: Database
) -> None:
    person = await _person(client, db)
    url = f"/api/v1/customers/{person['customer']}"
    warehouse, agent = await bearer(db, "warehouse"), await bearer(db, "customer_service")
    manager = await bearer(db, "manager")

    assert (await client.get(f"{url}/export", headers=warehouse)).status_code == 403
    assert (await client.get(f"{url}/export", params={"format": "pdf"}, headers=agent)).status_code == 422
    assert (await client.post(f"{url}/erase", json={"reason": "asked"}, headers=agent)).status_code == 403
    no_reason = await client.post(f"{url}/erase", json={"reason": ""}, headers=manager)
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    assert (await client.get("/api/v1/customers/999999/export", headers=manager)).status_code == 404
    assert await _traces(db, [PHONE]) != []  # nothing was erased


async def test_erasure_leaves_no_trace_of_the_phone_keeps_the_books_and_is_audited_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    person = await _person(client, db)
    manager = await bearer(db, "manager")
    hashed = crypto.vault().lookup_hash(PHONE)
    assert await _traces(db, [PHONE, hashed, NAME])  # before: in the records, decrypted
    books = await _books(db)

    reply = await client.post(
        f"/api/v1/customers/{person['customer']}/erase",
        json={"reason": "客户来电要求删除 #123"},
        headers=manager,
    )

    assert reply.status_code == 200, reply.text
    assert (reply.json()["records"]["orders"], reply.json()["records"]["phone_blocks"]) == (2, 1)
    assert await _traces(db, [PHONE, hashed, NAME]) == []
    total, paid, audited = await _books(db)
    assert (total, paid) == books[:2] and audited == books[2] + 1
    async with db.transaction() as session:
        [row] = await session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.erased"))
    assert (row.entity_id, row.after["reason"]) == (str(person["customer"]), "客户来电要求删除 #123")
    found = await client.get("/api/v1/customers", params={"phone": PHONE}, headers=manager)
    assert found.json()["items"] == []
    again = await client.post(
        f"/api/v1/customers/{person['customer']}/erase", json={"reason": "again"}, headers=manager
    )
    assert again.status_code == 409
    # The same phone buying again is a new customer.
    sales = await bearer(db, "sales")
    await client.post("/api/v1/orders", json=order_body([("SKU-2", 1, "45.50")]), headers=sales)
    renewed = (await client.get("/api/v1/customers", params={"phone": PHONE}, headers=manager)).json()
    assert [c["id"] for c in renewed["items"]] != [person["customer"]] and len(renewed["items"]) == 1


async def _stored(db: Database, sql: str, row_id: int) -> bytes:
    """A sealed value as the database holds it (what a backup or a dead row would keep)."""
    async with db.transaction() as session:
        return bytes((await session.execute(text(sql), {"id": row_id})).scalar_one())


async def test_erasure_shreds_the_key_so_a_copy_taken_before_opens_to_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    """RSK-3 by crypto-shredding: the profile, its orders' contact, its tickets' contact and
    messages are sealed with the customer's own key; a copy of them kept from before the
    erasure (a backup, a dead row) can no longer be opened once the erasure destroyed the
    secret that key comes from."""
    person = await _person(client, db)
    order_sql = "SELECT contact FROM orders WHERE id = :id"
    profile_sql = "SELECT personal FROM customers WHERE id = :id"
    copies = [await _stored(db, order_sql, i) for i in person["orders"]]
    copies.append(await _stored(db, profile_sql, person["customer"]))
    copies.append(await _stored(db, "SELECT contact FROM tickets WHERE id = :id", person["ticket"]))
    message_sql = "SELECT content FROM ticket_messages WHERE ticket_id = :id ORDER BY id LIMIT 1"
    copies.append(await _stored(db, message_sql, person["ticket"]))
    async with db.transaction() as session:
        secret = await session.scalar(select(Customer.secret).where(Customer.id == person["customer"]))
    assert secret is not None and len(secret) == SECRET_BYTES
    vault = crypto.vault()
    assert all(copy.startswith(OWNED) for copy in copies)
    assert vault.open_for(secret, copies[0])["customer"]["name"] == NAME
    with pytest.raises(InvalidToken):  # the secret key alone does not open them
        vault.open(copies[0][len(OWNED) :])

    manager = await bearer(db, "manager")
    reply = await client.post(
        f"/api/v1/customers/{person['customer']}/erase", json={"reason": "要求删除"}, headers=manager
    )

    assert reply.status_code == 200, reply.text
    async with db.transaction() as session:
        kept = await session.scalar(select(Customer.secret).where(Customer.id == person["customer"]))
    assert kept is None
    assert [vault.open_for(kept, copy) for copy in copies] == [ERASED] * len(copies)


async def test_a_merged_profiles_orders_are_sealed_again_with_the_kept_customers_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    sales, manager = await bearer(db, "sales"), await bearer(db, "manager")
    await delivered_order(db)
    other_phone = "13911112222"
    body = order_body([("SKU-2", 1, "45.50")], customer={"name": "李四", "phone": other_phone})
    moved = await client.post("/api/v1/orders", json=body, headers=sales)
    assert moved.status_code == 201, moved.text
    found = {
        phone: (await client.get("/api/v1/customers", params={"phone": phone}, headers=manager)).json()
        for phone in (PHONE, other_phone)
    }
    kept, other = found[PHONE]["items"][0]["id"], found[other_phone]["items"][0]["id"]

    merged = await client.post(f"/api/v1/customers/{kept}/merge", json={"other_id": other}, headers=sales)

    assert merged.status_code == 200, merged.text
    stored = await _stored(db, "SELECT contact FROM orders WHERE id = :id", moved.json()["id"])
    async with db.transaction() as session:
        secret = await session.scalar(select(Customer.secret).where(Customer.id == kept))
    assert crypto.vault().open_for(secret, stored)["customer"]["name"] == "李四"
    shown = await client.get(f"/api/v1/orders/{moved.json()['id']}", headers=manager)
    assert shown.status_code == 200 and shown.json()["customer"]["name"] == "李四", shown.text


async def test_each_tickets_messages_open_with_their_own_customers_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Two customers' tickets: each message is read with its own ticket's customer's secret."""
    await small_store(db)
    agent = await bearer(db, "customer_service")
    ids = []
    for phone, body in (("13800138000", "第一位顾客"), ("13911112222", "第二位顾客")):
        sales = await bearer(db, "sales")
        placed = await client.post(
            "/api/v1/orders",
            json=order_body([("SKU-2", 1, "45.50")], customer={"name": body, "phone": phone}),
            headers=sales,
        )
        assert placed.status_code == 201, placed.text
        found = await client.get("/api/v1/customers", params={"phone": phone}, headers=agent)
        [customer] = found.json()["items"]
        made = await client.post(
            "/api/v1/tickets",
            json=ticket_body(customer_id=customer["id"], phone=phone, body=body),
            headers=agent,
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])

    for ticket_id, body in zip(ids, ("第一位顾客", "第二位顾客"), strict=True):
        shown = await client.get(f"/api/v1/tickets/{ticket_id}", headers=agent)
        assert shown.status_code == 200, shown.text
        assert body in shown.text
