"""The funnel over HTTP (CRM-5): daily traffic counts posted (upserted, audited, bad input named),
imported from CSV, and the funnel's numbers on a known dataset by period and channel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.orders.models import Order, PaymentTerms
from tests.builders.auth import bearer
from tests.builders.orders import address
from tests.builders.payments import pay, place_order, start_payment
from tests.builders.refunds import SKU, refund_store
from tests.builders.rows import audit_rows
from tests.test_cli import Shop, migrated, shopflow

MONDAY = date(2030, 3, 4)  # ISO week 10 of 2030


def body(day: date, channel: str, visitors: int, inquiries: int) -> dict[str, Any]:
    return {"date": day.isoformat(), "channel": channel, "visitors": visitors, "inquiries": inquiries}


async def post_traffic(
    client: httpx.AsyncClient, headers: dict[str, str], data: dict[str, Any]
) -> httpx.Response:
    return await client.post("/api/v1/analytics/traffic", json=data, headers=headers)


@pytest.fixture
async def admin(db: Database) -> dict[str, str]:
    await refund_store(db)
    return await bearer(db, "admin")


async def test_posting_the_same_day_and_channel_again_replaces_its_counts_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "operations")

    first = await post_traffic(client, headers, body(MONDAY, "web", 100, 10))
    again = await post_traffic(client, headers, body(MONDAY, "web", 120, 12))
    other = await post_traffic(client, headers, body(MONDAY, "manual", 5, 1))

    assert first.status_code == 200, first.text
    assert again.json() | {"updated_at": None} == {
        "date": "2030-03-04",
        "channel": "web",
        "visitors": 120,
        "inquiries": 12,
        "updated_at": None,
    }
    assert other.status_code == 200
    trail = await audit_rows(db, "traffic", "2030-03-04:web")
    assert [(a.action, a.before, a.after) for a in trail] == [
        ("traffic.recorded", None, {"visitors": 100, "inquiries": 10}),
        ("traffic.recorded", {"visitors": 100, "inquiries": 10}, {"visitors": 120, "inquiries": 12}),
    ]
    funnel = await client.get(
        "/api/v1/crm/funnel",
        params={"from": "2030-03-04", "to": "2030-03-04"},
        headers=await bearer(db, "manager"),
    )
    assert funnel.json()["total"]["visitors"] == 125


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"visitors": -1}, "visitors"),
        ({"inquiries": -3}, "inquiries"),
        ({"channel": "tmall"}, "channel"),
        ({"date": "2030-02-30"}, "date"),
        ({"date": "yesterday"}, "date"),
    ],
)
async def test_bad_counts_are_422s_naming_the_field_and_store_nothing(
    client: httpx.AsyncClient, db: Database, change: dict[str, Any], field: str
) -> None:
    headers = await bearer(db, "manager")

    reply = await post_traffic(client, headers, body(MONDAY, "web", 1, 1) | change)

    assert reply.status_code == 422, reply.text
    assert [e["field"] for e in reply.json()["errors"]] == [field]
    assert await audit_rows(db, "traffic", "2030-03-04:web") == []


async def test_a_role_without_the_permission_may_not_post_counts(
    client: httpx.AsyncClient, db: Database
) -> None:
    reply = await post_traffic(client, await bearer(db, "sales"), body(MONDAY, "web", 1, 1))

    assert reply.status_code == 403


async def paid_at(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    phone: str,
    day: date,
    channel: str = "web",
    *,
    paid: bool = True,
) -> None:
    """An order of one SKU-R100 by the customer of `phone` through `channel`, placed and (when
    `paid`) paid at 10:00 of the store day `day` (Asia/Shanghai, UTC+8)."""
    at = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)
    customer = {"name": f"客户{phone[-2:]}", "phone": phone}
    with clock.use(lambda: at):
        order = await place_order(
            client,
            headers,
            [(SKU, 1, "100.00")],
            channel=channel,
            customer=customer,
            shipping_address=address(name=customer["name"], phone=phone),
        )
        if paid:
            await pay(client, await start_payment(client, headers, order["id"]))


A, B, C, D = "13900000001", "13900000002", "13900000003", "13900000004"


async def dataset(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Week 10: web 150 visitors / 15 inquiries, A buys twice, B once, D orders unpaid; week 11:
    manual 20 / 4 and web 40 / 8, B buys again through manual, C (who bought before the range)
    again through web."""
    tuesday, next_monday, next_tuesday = (MONDAY + timedelta(days=n) for n in (1, 7, 8))
    await paid_at(client, admin, C, MONDAY - timedelta(days=3))
    await paid_at(client, admin, A, MONDAY)
    await paid_at(client, admin, B, MONDAY)
    await paid_at(client, admin, D, MONDAY, paid=False)
    await paid_at(client, admin, A, tuesday)
    await paid_at(client, admin, B, next_monday, "manual")
    await paid_at(client, admin, C, next_tuesday)
    for data in (
        body(MONDAY, "web", 100, 10),
        body(tuesday, "web", 50, 5),
        body(next_monday, "manual", 20, 4),
        body(next_tuesday, "web", 40, 8),
        body(MONDAY - timedelta(days=3), "web", 999, 99),  # before the range
    ):
        assert (await post_traffic(client, admin, data)).status_code == 200


async def funnel_of(client: httpx.AsyncClient, headers: dict[str, str], **query: str) -> dict[str, Any]:
    reply = await client.get("/api/v1/crm/funnel", params=query, headers=headers)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def counts(row: dict[str, Any]) -> tuple[str, int, int, int, int]:
    return (row["period"], row["visitors"], row["inquiries"], row["buyers"], row["repeaters"])


async def test_the_funnel_counts_each_stage_per_week_and_over_the_range_with_exact_drop_offs(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    await dataset(client, admin)

    found = await funnel_of(
        client, await bearer(db, "sales"), **{"from": "2030-03-04", "to": "2030-03-17", "period": "week"}
    )

    assert [counts(r) for r in found["periods"]] == [("2030-W10", 150, 15, 2, 1), ("2030-W11", 60, 12, 2, 2)]
    assert counts(found["total"]) == ("total", 210, 27, 3, 3)
    assert found["total"]["drop_offs"] == [
        {"stage": "visitors", "to": "inquiries", "count": 183, "rate": 0.8714},
        {"stage": "inquiries", "to": "buyers", "count": 24, "rate": 0.8889},
        {"stage": "buyers", "to": "repeaters", "count": 0, "rate": 0.0},
    ]
    assert found["periods"][0]["drop_offs"][2] == {
        "stage": "buyers",
        "to": "repeaters",
        "count": 1,
        "rate": 0.5,
    }


async def test_a_channel_counts_its_own_traffic_and_buyers_and_days_without_anyone_have_no_rate(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    await dataset(client, admin)

    web = await funnel_of(
        client, admin, **{"from": "2030-03-04", "to": "2030-03-17", "period": "week", "channel": "web"}
    )
    days = await funnel_of(client, admin, **{"from": "2030-03-04", "to": "2030-03-06", "period": "day"})
    month = await funnel_of(client, admin, **{"from": "2030-03-04", "to": "2030-03-17", "period": "month"})

    assert [counts(r) for r in web["periods"]] == [("2030-W10", 150, 15, 2, 1), ("2030-W11", 40, 8, 1, 1)]
    assert counts(web["total"]) == ("total", 190, 23, 3, 3)
    assert [counts(r) for r in days["periods"]] == [
        ("2030-03-04", 100, 10, 2, 0),
        ("2030-03-05", 50, 5, 1, 1),
        ("2030-03-06", 0, 0, 0, 0),
    ]
    assert [d["rate"] for d in days["periods"][2]["drop_offs"]] == [None, None, None]
    assert [(r["period"], r["first"], r["last"]) for r in month["periods"]] == [
        ("2030-03", "2030-03-04", "2030-03-17")
    ]
    assert counts(month["periods"][0]) == ("2030-03", 210, 27, 3, 3)


async def test_an_order_on_credit_counts_its_buyer_from_its_confirmation_unpaid(
    client: httpx.AsyncClient, db: Database, admin: dict[str, str]
) -> None:
    """ORD-5: D's unpaid order of week 10, were it a net-30 contract's, makes D a buyer of week 10."""
    await dataset(client, admin)
    query = {"from": "2030-03-04", "to": "2030-03-17", "period": "week"}
    before = await funnel_of(client, admin, **query)
    async with db.transaction() as session:
        await session.execute(
            update(Order).where(Order.paid_at.is_(None)).values(payment_terms=PaymentTerms.NET30)
        )

    after = await funnel_of(client, admin, **query)

    assert [counts(r)[3] for r in before["periods"]] == [2, 2]
    assert [counts(r)[3] for r in after["periods"]] == [3, 2]
    assert counts(after["total"])[3:] == (4, 3)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2030-03-05", "to": "2030-03-04"}, "to"),
        ({"from": "2030-01-01", "to": "2031-06-01"}, "to"),
        ({"from": "2030-03-04", "to": "2030-03-05", "channel": "tmall"}, "channel"),
        ({"from": "2030-13-01", "to": "2030-03-05"}, "from"),
        ({"from": "2030-03-04", "to": "2030-03-05", "period": "year"}, "period"),
    ],
)
async def test_bad_funnel_filters_are_422s_naming_them(
    client: httpx.AsyncClient, db: Database, query: dict[str, str], field: str
) -> None:
    reply = await client.get("/api/v1/crm/funnel", params=query, headers=await bearer(db, "manager"))

    assert reply.status_code == 422, reply.text
    assert field in [e["field"] for e in reply.json()["errors"]]


CSV = """date,channel,visitors,inquiries
2030-03-04,web,100,10
2030-03-04,tmall,5,1
2030-03-05,web,-4,2
2030-03-05,manual,30,3
2030-03-04,web,110,11
"""


def test_import_loads_the_good_rows_and_lists_each_bad_one_by_line(shop: Shop, tmp_path: Path) -> None:
    migrated(shop)
    path = tmp_path / "traffic.csv"
    path.write_text(CSV, encoding="utf-8")

    result = shopflow("import", "traffic", str(path))

    assert result.exit_code == 1, result.output
    assert "2 daily counts stored, 2 rows with errors" in result.output
    assert "3 " in result.output and "channel" in result.output
    assert "4 " in result.output and "visitors" in result.output
    assert shop.count("traffic_counts") == 2
    assert shop.count("traffic_counts", "channel = 'web' AND visitors = 110") == 1
    assert shop.count("audit_log", "action = 'traffic.recorded'") == 2


async def test_days_beyond_the_years_a_time_may_name_are_422s(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")

    funnel = await client.get(
        "/api/v1/crm/funnel", params={"from": "0001-01-01", "to": "0001-01-02"}, headers=headers
    )
    traffic = await post_traffic(client, headers, body(date(9999, 12, 31), "web", 1, 1))

    assert funnel.status_code == 422 and [e["field"] for e in funnel.json()["errors"]] == ["from", "to"]
    assert traffic.status_code == 422 and [e["field"] for e in traffic.json()["errors"]] == ["date"]
