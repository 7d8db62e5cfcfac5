"""The metric dictionary (ANA-1, issue 15) on a small hand-built store (`store`: conftest.py), each
expected value worked out in the comments; the API's shapes, period labels, n/a as null and its
422s."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from shopflow.analytics import metrics, service
from shopflow.analytics.models import PeriodKind
from shopflow.catalog.models import Product
from shopflow.catalog.service import category_for
from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.core.errors import Invalid
from shopflow.orders.models import EXCHANGE_CHANNEL, Order, OrderLine
from shopflow.service.models import Ticket
from tests.builders.analytics import local
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import receive
from tests.builders.payments import pay, place_order, start_payment
from tests.builders.refunds import SKU


async def metric_rows(
    client: httpx.AsyncClient, headers: dict[str, str], **query: str
) -> list[dict[str, Any]]:
    reply = await client.get("/api/v1/analytics/metrics", params=query, headers=headers)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["rows"])


def values(row: dict[str, Any]) -> dict[str, Any]:
    return {name: m["value"] for name, m in row["metrics"].items()}


async def test_each_metric_by_month_on_the_hand_built_store(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    march, april = await metric_rows(
        client, store, **{"from": "2030-03-01", "to": "2030-04-30", "period": "month"}
    )

    assert march["period"] == "2030-03"
    assert {k: v for k, v in values(march).items() if not k.startswith("sla_compliance")} == {
        "orders": 2,  # A and B; D was never paid
        "sales": "200.00",  # 100.00 captured each
        "net_sales": "100.00",  # 200.00 − B's 100.00 refund settled on 03-13
        "average_order_value": "100.00",  # 200.00 / 2 (gross)
        "repurchase_rate": "0.00",  # A and B have one counted order each up to 03-31 (local)
        "repurchase_cycle_days": None,  # no second order ends in March
        "refund_rate": "50.00",  # B's of 2
        "complaint_rate": "0.00",
        "complaint_resolution_rate": None,  # no complaint: n/a
        "resolution_24h_rate": None,
        "on_time_shipment_rate": None,  # nothing shipped: no clock decided
        "on_time_delivery_rate": None,
        "gross_margin": "0.00",  # (100.00 net − 2 × 50.00 cost) / 100.00
        "inventory_turnover": None,
        "traffic_conversion": None,  # no traffic counted
        "order_conversion": None,
    }
    assert march["metrics"]["net_sales"] | {"value": None} == {
        "value": None,
        "numerator": "100.00",
        "denominator": None,
    }
    assert values(april) | {"sla_compliance.order.pay": None} == values(april) | {
        "orders": 2,  # A at 00:30 local on 04-01 (16:30 UTC on 03-31) and G
        "sales": "200.00",
        "net_sales": "200.00",
        "average_order_value": "100.00",
        "repurchase_rate": "50.00",  # A (2 orders up to 04-30) of A and G
        # A's gap: 03-10 10:00 → 04-01 00:30 = 21 days 14.5 hours = 21.604 days
        "repurchase_cycle_days": "21.60",
        "refund_rate": "0.00",
        "complaint_rate": "50.00",  # G's of 2
        "complaint_resolution_rate": "100.00",
        "resolution_24h_rate": "100.00",  # resolved 2 hours after it was opened
        "gross_margin": "50.00",  # (200.00 − 100.00) / 200.00
        "sla_compliance.order.pay": None,
    }
    assert april["metrics"]["repurchase_rate"] == {"value": "50.00", "numerator": 1, "denominator": 2}


async def test_all_time_and_the_day_cut_in_the_store_time_zone(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    (everything,) = await metric_rows(client, store)
    days = await metric_rows(client, store, **{"from": "2030-03-31", "to": "2030-04-01", "period": "day"})
    weeks = await metric_rows(client, store, **{"from": "2030-03-25", "to": "2030-04-07", "period": "week"})

    assert everything["period"] == "all"
    assert values(everything) | {} == values(everything) | {
        "orders": 4,
        "sales": "400.00",
        "net_sales": "300.00",
        "average_order_value": "100.00",
        "repurchase_rate": "33.33",  # A of A, B and G
        "refund_rate": "25.00",
        "gross_margin": "33.33",  # (300.00 − 200.00) / 300.00
    }
    # 00:30 local on 04-01 is 03-31 in UTC: the store's day holds it.
    assert [
        (d["period"], d["metrics"]["orders"]["value"], d["metrics"]["average_order_value"]["value"])
        for d in days
    ] == [
        ("2030-03-31", 0, None),
        ("2030-04-01", 1, "100.00"),
    ]
    assert [(w["period"], w["metrics"]["orders"]["value"]) for w in weeks] == [
        ("2030-W13", 0),
        ("2030-W14", 2),
    ]


async def test_a_channel_counts_its_own_orders_and_lines_keep_their_cost(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    (manual,) = await metric_rows(client, store, channel="manual")

    assert values(manual)["orders"] == 0
    assert values(manual)["average_order_value"] is None  # no orders: n/a, never 0
    async with db.transaction() as session:
        lines = (await session.execute(select(OrderLine.unit_cost, OrderLine.cost_backfilled))).all()
    assert set(lines) == {(5000, False)}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2030-03-01"}, "to"),
        ({"to": "2030-03-01"}, "from"),
        ({"from": "2030-03-02", "to": "2030-03-01"}, "to"),
        ({"period": "month"}, "period"),
        ({"period": "year"}, "period"),
        ({"channel": "tmall"}, "channel"),
        ({"from": "2030-02-30", "to": "2030-03-01"}, "from"),
    ],
)
async def test_bad_filters_are_422s_naming_the_field(
    client: httpx.AsyncClient, db: Database, query: dict[str, str], field: str
) -> None:
    reply = await client.get("/api/v1/analytics/metrics", params=query, headers=await bearer(db, "manager"))

    assert reply.status_code == 422, reply.text
    assert field in reply.text


async def test_sales_by_category_are_line_sales_of_counted_orders_largest_first(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    async with db.transaction() as session:
        # SKU-R100's product filed under 家居 / 杯具.
        await session.execute(
            update(Product).values(category_id=await category_for(session, ["家居", "杯具"]))
        )

    everything = await client.get("/api/v1/analytics/categories", headers=store)
    march = await client.get(
        "/api/v1/analytics/categories", params={"from": "2030-03-01", "to": "2030-03-31"}, headers=store
    )
    bad = await client.get("/api/v1/analytics/categories", params={"from": "2030-03-01"}, headers=store)

    # 4 counted orders of one 100.00 line each (D's unpaid order is not counted).
    assert everything.json() == [{"category": "家居 / 杯具", "sales": "400.00", "orders": 4}]
    assert march.json() == [{"category": "家居 / 杯具", "sales": "200.00", "orders": 2}]
    assert bad.status_code == 422
    assert "to" in bad.text


async def test_sales_by_sku_are_line_sales_units_and_orders_of_counted_orders_largest_first(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    await add_product(db, {"SKU-S030": 3000}, name="杯垫")
    await receive(db, "WH-R", {"SKU-S030": 10})
    # A's third order, 2030-03-20: three SKU-S030 at 30.00, 90.00 of line sales.
    with clock.use(lambda: local("2030-03-20", 10)):
        third = await place_order(client, await bearer(db, "admin"), [("SKU-S030", 3, "30.00")])
        await pay(client, await start_payment(client, await bearer(db, "admin"), third["id"]))

    everything = await client.get("/api/v1/analytics/skus", headers=store)
    top = await client.get("/api/v1/analytics/skus", params={"limit": 1}, headers=store)
    april = await client.get(
        "/api/v1/analytics/skus", params={"from": "2030-04-01", "to": "2030-04-30"}, headers=store
    )
    bad = await client.get("/api/v1/analytics/skus", params={"to": "2030-04-30"}, headers=store)
    manual = await client.get("/api/v1/analytics/skus", params={"channel": "manual"}, headers=store)
    nowhere = await client.get("/api/v1/analytics/categories", params={"channel": "nowhere"}, headers=store)

    r100 = {
        "sku": SKU,
        "name": f"商品 {SKU}",
        "sales": "400.00",
        "quantity": 4,
        "orders": 4,
    }  # D's never paid
    s030 = {"sku": "SKU-S030", "name": "商品 SKU-S030", "sales": "90.00", "quantity": 3, "orders": 1}
    assert everything.json() == [r100, s030]
    assert top.json() == [r100]
    assert april.json() == [{**r100, "sales": "200.00", "quantity": 2, "orders": 2}]  # A's and G's
    assert bad.status_code == 422
    assert "from" in bad.text
    assert manual.json() == []  # every order came through the web
    assert nowhere.status_code == 422 and "channel" in nowhere.text


async def test_a_summary_compares_the_range_with_the_one_just_before_and_draws_its_trend(
    db: Database, store: dict[str, str]
) -> None:
    async with db.transaction() as session:
        april = await service.summary(session, date(2030, 4, 1), date(2030, 4, 30), None)
        with pytest.raises(Invalid) as bad:
            await service.summary(session, date(2030, 4, 30), date(2030, 4, 1), "nowhere")

    assert april.before == (date(2030, 3, 1), date(2030, 3, 31))  # a whole month: the month before
    shown = {name: metrics.shown(m) for name, m in april.current.metrics.items()}
    assert (shown["orders"], shown["sales"], shown["refund_rate"]) == (2, "200.00", "0.00")  # A, G
    assert metrics.shown(april.previous.metrics["refund_rate"]) == "50.00"  # B's of A's and B's
    assert april.changes["orders"] == 0  # 2 → 2
    assert april.changes["refund_rate"] == -50  # points: 50.00 % → 0.00 %
    assert april.changes["complaint_resolution_rate"] is None  # n/a in March
    assert april.trend_kind == "day"
    assert [r.period for r in april.trend][:2] == ["2030-04-01", "2030-04-02"]
    assert len(april.trend) == 30
    assert [metrics.shown(r.metrics["orders"]) for r in april.trend[:3]] == [1, 1, 0]
    assert [(c.category, c.sales) for c in april.categories] == [(None, 20000)]
    assert [(s.sku, s.quantity) for s in april.skus] == [(SKU, 2)]
    assert {e.field for e in bad.value.errors} >= {"channel"}


async def test_the_pipeline_counts_each_state_and_names_those_past_their_clock(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    async with db.transaction() as session:
        ticket_id = await session.scalar(select(Ticket.id))
    # Long after April 2030 every paid order's ship clock has passed; D's order is cancelled.
    with clock.use(lambda: local("2030-06-01", 10)):
        reply = await client.get("/api/v1/analytics/pipeline", headers=store)

    assert reply.status_code == 200, reply.text
    orders = {s["state"]: s for s in reply.json()["orders"]}
    assert {state: (s["count"], s["late"]) for state, s in orders.items()} == {
        "paid": (4, 4),  # B's refund left the order paid, its goods never shipped
        "cancelled": (1, 0),
    }
    assert len(orders["paid"]["late_items"]) == 4
    # G's complaint is still `new` (its resolution was written by hand) and both its clocks ran out.
    assert reply.json()["tickets"] == [
        {"state": "new", "count": 1, "late": 1, "late_items": [str(ticket_id)]}
    ]
    assert reply.json()["cases"] == []


async def test_inventory_turnover_is_cost_of_goods_over_the_mean_daily_closing_stock_value(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    # The 50 units of SKU-R100 were received today (2026), before March 2030; nothing shipped,
    # so every day of March closes with 50 × 50.00 = 2500.00 of stock. Asked on 2030-05-01.
    with clock.use(lambda: local("2030-05-01", 10)):
        march, april, may = await metric_rows(
            client, store, **{"from": "2030-03-01", "to": "2030-05-31", "period": "month"}
        )

    # March's cost of goods: 2 lines × 50.00 = 100.00; 100.00 / 2500.00 = 0.04.
    assert march["metrics"]["inventory_turnover"] == {
        "value": "0.04",
        "numerator": "100.00",
        "denominator": "2500.00",
    }
    assert april["metrics"]["inventory_turnover"]["value"] == "0.04"
    # May has one day so far (05-01, its stock as it stands now) and no sales: 0.00.
    assert may["metrics"]["inventory_turnover"]["value"] == "0.00"


async def test_conversions_read_the_traffic_counts_of_the_period_and_channel(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    operations = await bearer(db, "operations")
    for day, channel, visitors, inquiries in [
        ("2030-03-10", "web", 100, 10),
        ("2030-04-02", "manual", 50, 5),
    ]:
        body = {"date": day, "channel": channel, "visitors": visitors, "inquiries": inquiries}
        reply = await client.post("/api/v1/analytics/traffic", json=body, headers=operations)
        assert reply.status_code == 200, reply.text

    march, april = await metric_rows(
        client, store, **{"from": "2030-03-01", "to": "2030-04-30", "period": "month"}
    )
    (everything,) = await metric_rows(client, store)
    (web,) = await metric_rows(client, store, channel="web")

    assert march["metrics"]["traffic_conversion"] == {"value": "10.00", "numerator": 10, "denominator": 100}
    assert march["metrics"]["order_conversion"] == {
        "value": "20.00",
        "numerator": 2,
        "denominator": 10,
    }  # A, B
    assert values(april)["traffic_conversion"] == "10.00"  # 5 / 50
    assert values(april)["order_conversion"] == "40.00"  # A and G of 5 inquiries
    assert values(everything)["traffic_conversion"] == "10.00"  # 15 / 150
    assert values(everything)["order_conversion"] == "20.00"  # A, B, G of 15
    assert values(web)["order_conversion"] == "30.00"  # every order is a web order: 3 buyers of 10


async def test_on_time_rates_and_sla_compliance_read_the_clocks_due_in_the_period(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    # Asked on 2030-05-01: nothing was ever shipped, so every paid order's ship clock ran out.
    with clock.use(lambda: local("2030-05-01", 10)):
        march, april = await metric_rows(
            client, store, **{"from": "2030-03-01", "to": "2030-04-30", "period": "month"}
        )

    # March: A's and B's ship clocks are due in March and missed; no delivery clock started.
    assert march["metrics"]["on_time_shipment_rate"] == {"value": "0.00", "numerator": 0, "denominator": 2}
    assert march["metrics"]["on_time_delivery_rate"] == {"value": None, "numerator": 0, "denominator": 0}
    # The pay clocks: A's and B's met; D's cancelled with its order, left out.
    assert march["metrics"]["sla_compliance.order.pay"]["value"] == "100.00"
    assert march["metrics"]["sla_compliance.order.pay"]["denominator"] == 2
    assert march["metrics"]["sla_compliance.order.ship"]["value"] == "0.00"
    # April: G's complaint was resolved by hand in the data, its clocks still ran out.
    assert values(april)["sla_compliance.ticket.resolution"] == "0.00"
    assert "sla_compliance.ticket.resolution" not in march["metrics"]  # no such clock due in March


async def test_a_replacement_order_never_counts(
    client: httpx.AsyncClient, db: Database, store: dict[str, str]
) -> None:
    # An exchange's replacement (ASV-6) is placed in the exchange channel; G's order (the last
    # placed) made one here.
    async with db.transaction() as session:
        last = await session.scalar(select(func.max(Order.id)))
        await session.execute(update(Order).where(Order.id == last).values(channel=EXCHANGE_CHANNEL))

    (everything,) = await metric_rows(client, store)

    assert values(everything)["orders"] == 3  # A twice and B
    assert values(everything)["sales"] == "300.00"
    assert values(everything)["complaint_rate"] == "0.00"  # G's complaint was about the replacement


async def test_a_short_range_and_a_long_one_count_the_same_customers(
    db: Database, store: dict[str, str]
) -> None:
    """April alone (30 days: on PostgreSQL each buyer's history read by the customer index) and
    April as the second month of two (61 days: the buyers joined as a set) agree."""
    async with db.transaction() as session:
        (alone,) = await metrics.compute(session, date(2030, 4, 1), date(2030, 4, 30), None, None)
        _, second = await metrics.compute(
            session, date(2030, 3, 1), date(2030, 4, 30), None, PeriodKind.MONTH
        )

    assert alone.metrics == second.metrics
    assert metrics.shown(alone.metrics["repurchase_rate"]) == "50.00"  # A (2 orders) of A and G
    assert metrics.shown(alone.metrics["repurchase_cycle_days"]) == "21.60"
