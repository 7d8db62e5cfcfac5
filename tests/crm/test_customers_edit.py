"""Editing a customer's profile over HTTP (CRM-1): personal fields sealed and replaced, phones
added and removed with one primary, a phone another customer has a 409 naming it, bad input a
422 naming the field with nothing written, every change audited with masked values."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shopflow.core.db import Database
from shopflow.crm.models import Customer
from tests.builders.auth import bearer
from tests.builders.rows import audit_rows

WANG = {
    "name": "王五",
    "phones": ["13900001111", "13900002222"],
    "email": "wang@example.cn",
    "birthday": "1990-05-01",
    "addresses": [{"province": "北京", "city": "北京市", "district": "朝阳区", "street": "建国路1号"}],
    "tags": ["母婴用品"],
}


async def created(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    reply = await client.post("/api/v1/customers", json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def patch(
    client: httpx.AsyncClient, headers: dict[str, str], customer_id: int, body: dict[str, Any]
) -> httpx.Response:
    return await client.patch(f"/api/v1/customers/{customer_id}", json=body, headers=headers)


async def test_staff_edit_the_profile_and_phones_sealed_and_audited_masked(
    client: httpx.AsyncClient, db: Database
) -> None:
    sales = await bearer(db, "sales")
    wang = await created(client, sales, WANG)

    reply = await patch(
        client,
        sales,
        wang["id"],
        {
            "name": "王五六",
            "email": None,
            "tags": ["办公设备", "办公设备", "VIP"],
            "add_phones": ["139 0000 3333"],
            "remove_phones": ["13900001111"],
            "primary_phone": "13900003333",
        },
    )

    assert reply.status_code == 200, reply.text
    edited = reply.json()
    assert (edited["name"], edited["email"], edited["birthday"]) == ("王五六", None, "1990-05-01")
    assert edited["tags"] == ["办公设备", "VIP"]
    assert edited["phones"] == [
        {"phone": "13900003333", "primary": True},
        {"phone": "13900002222", "primary": False},
    ]
    found = await client.get("/api/v1/customers", params={"phone": "13900003333"}, headers=sales)
    assert [c["id"] for c in found.json()["items"]] == [wang["id"]]
    gone = await client.get("/api/v1/customers", params={"phone": "13900001111"}, headers=sales)
    assert gone.json()["items"] == []
    async with db.transaction() as session:
        stored = await session.get(Customer, wang["id"])
        assert stored is not None and stored.personal["name"] == "王五六"
    trail = await audit_rows(db, "customer", wang["id"])
    assert [r.action for r in trail] == ["customer.created", "customer.updated"]
    assert trail[1].before == {
        "name": "王*",
        "email": "w***@example.cn",
        "phones": ["139****1111", "139****2222"],
        "tags": ["母婴用品"],
    }
    assert trail[1].after == {
        "name": "王**",
        "email": None,
        "phones": ["139****3333", "139****2222"],
        "tags": ["办公设备", "VIP"],
    }
    assert "13900003333" not in str(trail[1].after) and "王五六" not in str(trail[1].after)


async def test_removing_the_primary_makes_the_oldest_left_primary_and_a_birthday_is_audited_as_set(
    client: httpx.AsyncClient, db: Database
) -> None:
    sales = await bearer(db, "sales")
    wang = await created(client, sales, WANG)

    reply = await patch(
        client, sales, wang["id"], {"remove_phones": ["13900001111"], "birthday": "1991-02-03"}
    )

    assert reply.status_code == 200, reply.text
    assert reply.json()["phones"] == [{"phone": "13900002222", "primary": True}]
    update = (await audit_rows(db, "customer", wang["id"]))[-1]
    assert update.before == {"birthday": "****-**-**", "phones": ["139****1111", "139****2222"]}
    assert update.after == {"birthday": "****-**-**", "phones": ["139****2222"]}


async def test_a_phone_another_customer_has_is_a_409_naming_it_and_nothing_changes(
    client: httpx.AsyncClient, db: Database
) -> None:
    sales = await bearer(db, "sales")
    wang = await created(client, sales, WANG)
    li = await created(client, sales, {"name": "李四", "phones": ["13911112222"]})

    reply = await patch(
        client, sales, li["id"], {"name": "李四四", "add_phones": ["13800000000", "13900002222"]}
    )

    assert reply.status_code == 409, reply.text
    assert reply.json()["code"] == "phone_taken"
    assert reply.json()["errors"] == [
        {"field": "add_phones.1", "message": f"belongs to customer {wang['id']}"}
    ]
    again = await client.get(f"/api/v1/customers/{li['id']}", headers=sales)
    assert again.json()["name"] == "李四"
    assert [p["phone"] for p in again.json()["phones"]] == ["13911112222"]
    assert [r.action for r in await audit_rows(db, "customer", li["id"])] == ["customer.created"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": " "}, ["name"]),
        ({"birthday": "2999-01-01"}, ["birthday"]),
        ({"add_phones": ["1390000"]}, ["add_phones.0"]),
        ({"remove_phones": ["13800000000"]}, ["remove_phones.0"]),
        ({"remove_phones": ["13900001111", "13900002222"]}, ["remove_phones"]),
        ({"primary_phone": "13800000000"}, ["primary_phone"]),
        ({"primary_phone": "13900001111", "remove_phones": ["13900001111"]}, ["primary_phone"]),
        ({"tags": ["x" * 41]}, ["tags[0]"]),
    ],
)
async def test_a_bad_change_is_a_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, body: dict[str, Any], fields: list[str]
) -> None:
    sales = await bearer(db, "sales")
    wang = await created(client, sales, WANG)

    reply = await patch(client, sales, wang["id"], body)

    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == fields
    assert [r.action for r in await audit_rows(db, "customer", wang["id"])] == ["customer.created"]


async def test_an_unknown_or_merged_customer_is_a_404(client: httpx.AsyncClient, db: Database) -> None:
    sales = await bearer(db, "sales")
    wang = await created(client, sales, WANG)
    li = await created(client, sales, {"name": "李四", "phones": ["13911112222"]})
    merged = await client.post(
        f"/api/v1/customers/{wang['id']}/merge", json={"other_id": li["id"]}, headers=sales
    )
    assert merged.status_code == 200, merged.text

    unknown = await patch(client, sales, 999999, {"name": "x"})
    gone = await patch(client, sales, li["id"], {"name": "x"})

    assert (unknown.status_code, unknown.json()["code"]) == (404, "customer_not_found")
    assert (gone.status_code, gone.json()["code"]) == (404, "customer_merged")
