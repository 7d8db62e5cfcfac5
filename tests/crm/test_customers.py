"""Customers (CRM-1) through the HTTP API: every order linked to its phone's customer, the
lifetime value to the fen on payment and refund, merging two profiles, lookups by phone with
personal data masked or logged, and bad input named."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shopflow.core.db import Database
from shopflow.core.personal_data import PersonalDataRead
from shopflow.crm.models import Customer
from shopflow.orders.models import Order
from tests.builders.aftersales import case_body, delivered_order, open_case
from tests.builders.auth import bearer
from tests.builders.leads import submit
from tests.builders.orders import address
from tests.builders.payments import gateway, pay, place_order, start_payment
from tests.builders.refunds import SKU, ask_refund, refund_store, settle
from tests.builders.rows import audit_rows

LI = {"name": "李四", "phone": "13911112222", "email": "li@example.cn"}


@pytest.fixture
async def admin(db: Database) -> dict[str, str]:
    """Places orders, pays and refunds them, and acts as the sandbox gateway."""
    await refund_store(db)
    return await bearer(db, "admin")


async def order_of(
    client: httpx.AsyncClient, headers: dict[str, str], customer: dict[str, str] | None = None, units: int = 1
) -> dict[str, Any]:
    """An order of `units` SKU-R100 (100.00 each, free shipping) by `customer` (张三 by default)."""
    overrides: dict[str, Any] = {}
    if customer is not None:
        overrides = {
            "customer": customer,
            "shipping_address": address(name=customer["name"], phone=customer["phone"]),
        }
    return await place_order(client, headers, [(SKU, units, "100.00")], **overrides)


async def paid(client: httpx.AsyncClient, headers: dict[str, str], order: dict[str, Any]) -> int:
    """`order` paid in full; its payment id."""
    payment = await start_payment(client, headers, order["id"])
    await pay(client, payment)
    return int(payment["payment_id"])


async def customer_of(db: Database, order_id: int) -> int:
    async with db.transaction() as session:
        found = await session.scalar(select(Order.customer_id).where(Order.id == order_id))
    assert found is not None
    return int(found)


async def profile(client: httpx.AsyncClient, headers: dict[str, str], customer_id: int) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/customers/{customer_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def customer_count(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(Customer)) or 0)


async def test_every_order_links_to_its_phones_one_customer_created_from_its_first_order(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    first = await order_of(client, admin)
    again = await order_of(client, admin)
    other = await order_of(client, admin, LI)

    zhang = await customer_of(db, first["id"])
    assert await customer_of(db, again["id"]) == zhang
    assert await customer_of(db, other["id"]) != zhang
    assert await customer_count(db) == 2
    shown = await profile(client, admin, zhang)
    assert shown["name"] == "张三" and shown["email"] == "zhang@example.cn" and shown["source"] == "order"
    assert shown["phones"] == [{"phone": "13800138000", "primary": True}]
    assert shown["addresses"][0]["street"] == "世纪大道100号"
    assert shown["tier"] == "none" and shown["tags"] == []
    assert [o["id"] for o in shown["orders"]] == [again["id"], first["id"]]
    assert shown["leads"] == [] and shown["aftersales"] == []
    assert (shown["order_count"], shown["lifetime_value"], shown["last_order_at"]) == (0, "0.00", None)


async def test_the_profile_lists_the_cases_of_the_customers_orders_newest_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    """The after-sales domain, which crm cannot import, hands the profile its cases."""
    staff = await bearer(db, "admin")
    order_id = await delivered_order(db)
    first = await open_case(client, staff, case_body(order_id))
    second = await open_case(client, staff, case_body(order_id, lines=[{"sku": "SKU-2", "quantity": 1}]))
    shown = await profile(client, staff, await customer_of(db, order_id))
    assert [(c["id"], c["case_no"], c["order_id"]) for c in shown["aftersales"]] == [
        (second["id"], second["case_no"], order_id),
        (first["id"], first["case_no"], order_id),
    ]
    assert shown["aftersales"][0]["state"] == "requested"


async def test_lifetime_value_rises_on_payment_and_falls_on_refund_to_the_fen_once_each(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    first = await order_of(client, admin)
    payment_id = await paid(client, admin, first)
    customer_id = await customer_of(db, first["id"])
    shown = await profile(client, admin, customer_id)
    assert (shown["order_count"], shown["lifetime_value"]) == (1, "100.00")
    assert shown["first_order_at"] == shown["last_order_at"] is not None

    second = await order_of(client, admin, units=3)
    await paid(client, admin, second)
    shown = await profile(client, admin, customer_id)
    assert (shown["order_count"], shown["lifetime_value"]) == (2, "400.00")
    assert shown["first_order_at"] < shown["last_order_at"]

    refund = (await ask_refund(client, admin, payment_id, "30.01", "rf-ltv")).json()
    await settle(client, admin, refund["id"], "succeeded", deliveries=2)  # a repeated callback
    failed = (await ask_refund(client, admin, payment_id, "5.00", "rf-ltv-failed")).json()
    await settle(client, admin, failed["id"], "failed")
    shown = await profile(client, admin, customer_id)
    assert (shown["order_count"], shown["lifetime_value"]) == (2, "369.99")
    assert [(v["source"], v["amount"]) for v in shown["value_entries"]] == [
        (f"refund:{refund['id']}", "-30.01"),
        (f"payment:{int(payment_id) + 1}", "300.00"),
        (f"payment:{payment_id}", "100.00"),
    ]


async def test_a_capture_the_order_could_not_take_counts_neither_paid_nor_refunded(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    order = await order_of(client, admin)
    first = await start_payment(client, admin, order["id"])
    second = await start_payment(client, admin, order["id"])
    await pay(client, first)
    await gateway(client, admin, second["payment_id"], "success")  # paid twice: refunded at once
    reply = await client.get(f"/api/v1/payments/{second['payment_id']}/refunds", headers=admin)
    [refund] = reply.json()["items"]
    await settle(client, admin, refund["id"], "succeeded")

    shown = await profile(client, admin, await customer_of(db, order["id"]))
    assert (shown["order_count"], shown["lifetime_value"]) == (1, "100.00")


async def test_merging_keeps_every_order_and_phone_reachable_sums_the_value_and_is_audited(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    zhang_order = await order_of(client, admin)
    zhang_payment = await paid(client, admin, zhang_order)
    li_order = await order_of(client, admin, LI, units=2)
    await paid(client, admin, li_order)
    zhang, li = await customer_of(db, zhang_order["id"]), await customer_of(db, li_order["id"])
    li_lead, _ = await submit(db, "13911112222")  # the leads of a phone follow it into the profile kept

    reply = await client.post(f"/api/v1/customers/{zhang}/merge", json={"other_id": li}, headers=admin)

    assert reply.status_code == 200, reply.text
    merged = reply.json()
    assert (merged["order_count"], merged["lifetime_value"]) == (2, "300.00")
    assert merged["phones"] == [
        {"phone": "13800138000", "primary": True},
        {"phone": "13911112222", "primary": False},
    ]
    assert {o["id"] for o in merged["orders"]} == {zhang_order["id"], li_order["id"]}
    assert [(lead["id"], lead["grade"]) for lead in merged["leads"]] == [(li_lead.id, li_lead.grade)]
    assert await customer_of(db, li_order["id"]) == zhang
    gone = await client.get(f"/api/v1/customers/{li}", headers=admin)
    assert gone.status_code == 404 and gone.json()["code"] == "customer_merged"
    assert gone.headers["location"] == f"/api/v1/customers/{zhang}"
    found = await client.get("/api/v1/customers", params={"phone": "139 1111 2222"}, headers=admin)
    assert [c["id"] for c in found.json()["items"]] == [zhang]
    [kept_row] = await audit_rows(db, "customer", zhang)
    assert kept_row.action == "customer.merged" and kept_row.before == {
        "lifetime_value": 10000,
        "order_count": 1,
    }
    assert kept_row.after is not None and kept_row.after["from"] == li and kept_row.after["orders"] == 1
    assert [r.action for r in await audit_rows(db, "customer", li)] == ["customer.merged_into"]

    # A refund of a payment from before the merge lowers the profile kept.
    refund = (await ask_refund(client, admin, zhang_payment, "100.00", "rf-merged")).json()
    await settle(client, admin, refund["id"], "succeeded")
    assert (await profile(client, admin, zhang))["lifetime_value"] == "200.00"
    # A new order of the merged phone goes to the profile kept.
    later = await order_of(client, admin, LI)
    assert await customer_of(db, later["id"]) == zhang


@pytest.mark.parametrize(
    ("other", "message"),
    [("self", "is this customer"), (999999, "no customer 999999"), ("merged", "was merged into customer")],
)
async def test_a_merge_that_cannot_be_is_a_422_naming_other_id_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str], other: Any, message: str
) -> None:
    zhang = await customer_of(db, (await order_of(client, admin))["id"])
    li = await customer_of(db, (await order_of(client, admin, LI))["id"])
    wang = await customer_of(db, (await order_of(client, admin, {**LI, "phone": "13700001111"}))["id"])
    if other == "merged":
        await client.post(f"/api/v1/customers/{wang}/merge", json={"other_id": li}, headers=admin)
    other_id = {"self": zhang, "merged": li}.get(other, other)

    reply = await client.post(f"/api/v1/customers/{zhang}/merge", json={"other_id": other_id}, headers=admin)

    assert reply.status_code == 422, reply.text
    [error] = reply.json()["errors"]
    assert error["field"] == "other_id" and message in error["message"]
    assert await audit_rows(db, "customer", zhang) == []


async def test_phone_lookup_masks_for_roles_without_personal_data_and_logs_the_unmasked(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    order = await order_of(client, admin)
    await paid(client, admin, order)
    customer_id = await customer_of(db, order["id"])
    operations, sales = await bearer(db, "operations"), await bearer(db, "sales")

    masked = await client.get("/api/v1/customers", params={"phone": "+86 138-0013-8000"}, headers=operations)
    shown = await client.get("/api/v1/customers", params={"phone": "13800138000"}, headers=sales)

    assert masked.status_code == shown.status_code == 200
    assert masked.json() == {
        "items": [
            {
                "id": customer_id,
                "name": "张*",
                "phone": "138****8000",
                "tier": "none",
                "order_count": 1,
                "lifetime_value": "100.00",
                "first_order_at": shown.json()["items"][0]["first_order_at"],
                "last_order_at": shown.json()["items"][0]["last_order_at"],
            }
        ],
        "total": 1,
        "page": 1,
        "page_size": 50,
    }
    assert shown.json()["items"][0]["name"] == "张三" and shown.json()["items"][0]["phone"] == "13800138000"
    async with db.transaction() as session:
        reads = (
            await session.scalars(select(PersonalDataRead).where(PersonalDataRead.subject == "customer"))
        ).all()
    assert [(r.subject_id, r.endpoint) for r in reads] == [(customer_id, "GET /api/v1/customers")]
    detail = await profile(client, operations, customer_id)
    assert (
        detail["phones"] == [{"phone": "138****8000", "primary": True}]
        and detail["email"] == "z***@example.cn"
    )
    nobody = await client.get("/api/v1/customers", params={"phone": "13600000000"}, headers=sales)
    assert nobody.json()["items"] == [] and nobody.json()["total"] == 0
    by_number = await client.get("/api/v1/customers", params={"number": customer_id}, headers=sales)
    assert [c["id"] for c in by_number.json()["items"]] == [customer_id]


@pytest.mark.parametrize("phone", ["12345", "1380013800a", "23800138000"])
async def test_a_malformed_phone_lookup_is_a_422_naming_phone(
    client: httpx.AsyncClient, db: Database, phone: str
) -> None:
    reply = await client.get("/api/v1/customers", params={"phone": phone}, headers=await bearer(db, "sales"))
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["phone"]


async def test_staff_create_a_customer_whose_phones_then_find_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    sales = await bearer(db, "sales")
    body = {
        "name": "王五",
        "phones": ["139 0000 1111", "13900002222"],
        "email": "wang@example.cn",
        "birthday": "1990-05-01",
        "addresses": [{"province": "北京", "city": "北京市", "district": "朝阳区", "street": "建国路1号"}],
        "tags": ["母婴用品"],
    }

    reply = await client.post("/api/v1/customers", json=body, headers=sales)

    assert reply.status_code == 201, reply.text
    created = reply.json()
    assert created["phones"] == [
        {"phone": "13900001111", "primary": True},
        {"phone": "13900002222", "primary": False},
    ]
    assert (created["birthday"], created["tags"], created["source"]) == ("1990-05-01", ["母婴用品"], "api")
    assert [r.action for r in await audit_rows(db, "customer", created["id"])] == ["customer.created"]
    found = await client.get("/api/v1/customers", params={"phone": "13900002222"}, headers=sales)
    assert [c["id"] for c in found.json()["items"]] == [created["id"]]

    again = await client.post("/api/v1/customers", json={**body, "phones": ["13900002222"]}, headers=sales)
    assert again.status_code == 409 and again.json()["code"] == "phone_taken"
    assert [e["field"] for e in again.json()["errors"]] == ["phones.0"]


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"phones": ["13900001111", "1390000"]}, ["phones.1"]),
        ({"phones": []}, ["phones"]),
        ({"name": "  "}, ["name"]),
        ({"birthday": "2999-01-01"}, ["birthday"]),
        ({"phones": ["13900001111", "139-0000-1111"]}, ["phones"]),
        ({"source": "order"}, ["source"]),
    ],
)
async def test_a_bad_customer_is_a_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, change: dict[str, Any], fields: list[str]
) -> None:
    body = {"name": "王五", "phones": ["13900001111"], **change}
    reply = await client.post("/api/v1/customers", json=body, headers=await bearer(db, "sales"))
    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == fields
    assert await customer_count(db) == 0


async def test_an_unknown_customer_is_a_404(client: httpx.AsyncClient, db: Database) -> None:
    reply = await client.get("/api/v1/customers/999999", headers=await bearer(db, "sales"))
    assert reply.status_code == 404 and reply.json()["code"] == "customer_not_found"
