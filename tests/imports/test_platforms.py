"""`shopflow import orders`: Shopify's and WooCommerce's real-layout exports and Shopflow's own CSV
layout load as history with the order count, totals and lines the files hold (worked out here
with the csv module); re-importing changes nothing; bad rows are reported by line while the good
ones load; a wrong path or format is one clear line."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from tests.imports.conftest import Store, shared, summary

EXPORTS = ("platform_exports",)
SHOPIFY = "shopify_orders_export_devstore_redacted.csv"
WOO = "woocommerce_orders_synthetic.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _first_rows(rows: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    """Each order's first row (its order-level fields), by order number."""
    firsts: dict[str, dict[str, str]] = {}
    for row in rows:
        firsts.setdefault(row[key], row)
    return firsts


def _money(total: Decimal) -> str:
    return str(total.quantize(Decimal("0.01")))


def test_a_shopify_export_loads_every_order_with_its_lines_totals_and_payments(store: Store) -> None:
    path = shared(*EXPORTS, SHOPIFY)
    rows = _rows(path)
    orders = _first_rows(rows, "Name")
    totals = sum(Decimal(o["Total"]) for o in orders.values())
    paid = [o for o in orders.values() if o["Financial Status"] == "paid"]

    result = store.ok("import", "orders", "--format", "shopify", str(path))

    assert summary(result.output) == {"loaded": 51, "already present": 0, "rows rejected": 0}
    assert len(orders) == 51
    assert store.one("SELECT count(*) FROM orders WHERE channel = 'shopify'") == len(orders)
    assert store.one("SELECT count(*) FROM order_lines") == len(rows)
    assert Decimal(store.one("SELECT sum(total) FROM orders")) / 100 == totals
    assert store.rows("SELECT DISTINCT currency FROM orders") == [("INR",)]
    metrics = store.all_time()
    assert metrics["orders"] == len(paid)
    assert metrics["sales"] == _money(sum(Decimal(o["Total"]) for o in paid))
    # Its channel is no channel of the policy, but its orders are stored: a filter may name it.
    assert store.all_time("shopify") == metrics
    assert store.get("/api/v1/analytics/categories?channel=shopify&limit=3")
    # Customers by email (the phones are redacted): as many as the distinct emails; an order
    # without one has no customer.
    emails = {o["Email"] for o in orders.values() if o["Email"]}
    assert store.one("SELECT count(*) FROM customers") == len(emails)
    assert store.one("SELECT count(*) FROM orders WHERE customer_id IS NULL") == sum(
        1 for o in orders.values() if not o["Email"]
    )


def test_a_woocommerce_export_loads_and_a_second_import_changes_nothing(store: Store) -> None:
    path = shared(*EXPORTS, WOO)
    rows = _rows(path)
    orders = _first_rows(rows, "order_number")
    paid = [o for o in orders.values() if o["paid_date"]]

    store.ok("import", "orders", "--format", "woocommerce", str(path))
    before = store.counts()
    again = store.ok("import", "orders", "--format", "woocommerce", str(path))

    assert before["orders"] == len(orders) == 50
    assert before["order_lines"] == len(rows) == 101
    assert Decimal(store.one("SELECT sum(total) FROM orders")) / 100 == sum(
        Decimal(o["order_total"]) for o in orders.values()
    )
    # Each line keeps its total exactly (unit price × quantity − its discount).
    assert Decimal(store.one("SELECT sum(line_total) FROM order_lines")) / 100 == sum(
        Decimal(r["item_total"]) for r in rows
    )
    assert store.counts() == before
    assert summary(again.output) == {"loaded": 0, "already present": 50, "rows rejected": 0}
    metrics = store.all_time()
    assert metrics["orders"] == len(paid)
    assert metrics["sales"] == _money(sum(Decimal(o["order_total"]) for o in paid))
    assert store.one("SELECT count(*) FROM audit_log WHERE action = 'order.imported'") == len(orders)


def test_history_is_no_live_work(store: Store) -> None:
    """Imported orders reserve no stock, start no clock, queue no notification, are not in the
    live pipeline, and the worker's sweeps leave them alone."""
    store.ok("import", "orders", "--format", "woocommerce", str(shared(*EXPORTS, WOO)))
    store.ok("worker", "--once")

    for table in (
        "reservations",
        "stock_ledger",
        "sla_clocks",
        "outbox",
        "surveys",
        "callback_tasks",
        "refunds",
    ):
        assert store.one(f"SELECT count(*) FROM {table}") == 0, table
    pipeline = store.get("/api/v1/analytics/pipeline")
    assert pipeline["orders"] == []
    assert store.one("SELECT count(*) FROM orders WHERE imported_at IS NULL") == 0


def test_bad_rows_are_reported_by_line_while_the_good_rows_load(store: Store, tmp_path: Path) -> None:
    rows = _rows(shared(*EXPORTS, WOO))
    header = list(rows[0])
    bad = {
        3: ("quantity", "two"),  # the second row of order 10001
        10: ("item_total", "12.345"),  # the third of 10004
        19: ("status", "lost"),  # the first of 10009: order-level fields are read there
        30: ("order_date", "yesterday"),  # the first of 10016
    }
    copy = tmp_path / "woo.csv"
    with copy.open("w", encoding="utf-8", newline="") as handle:
        out = csv.DictWriter(handle, header)
        out.writeheader()
        for number, row in enumerate(rows, start=2):
            if number in bad:
                column, value = bad[number]
                row = {**row, column: value}
            out.writerow(row)
    spoiled = {rows[n - 2]["order_number"] for n in bad}
    errors = tmp_path / "errors.csv"

    result = store.shopflow("import", "orders", "--format", "woocommerce", str(copy), "--errors", str(errors))

    assert result.exit_code == 1, result.output
    assert store.one("SELECT count(*) FROM orders") == 50 - len(spoiled)
    reported = _rows(errors)
    assert {int(r["line"]) for r in reported} == set(bad)
    assert len(reported) == len(bad)
    assert all(r["reason"].startswith("order ") for r in reported)


def test_shopflows_own_layout_files_products_under_categories(store: Store, tmp_path: Path) -> None:
    """docs/imports.md's layout: two dated orders and one without a date (counted in all time
    only), a customer found again by phone, categories two levels deep."""
    path = tmp_path / "history.csv"
    path.write_text(
        "order_no,placed_at,status,currency,customer_key,customer_name,customer_phone,customer_email,"
        "shipping,paid_amount,paid_at,payment_method,sku,product,category,quantity,unit_price,unit_cost\n"
        "A-1,2026-03-01 10:00,completed,CNY,,Ann,13800138000,,10.00,210.00,2026-03-01 10:05,alipay,"
        "TEA-1,Green tea,Drinks / Tea,2,100.00,40.00\n"
        "A-2,2026-03-05T09:00:00+08:00,completed,CNY,,Ann,138 0013 8000,,0,50.00,,wechat,"
        "CUP-1,Cup,Kitchen,1,50.00,20.00\n"
        "A-3,,completed,,K-9,Bo,,bo@example,0,30.00,,card,TEA-1,Green tea,Drinks / Tea,1,30.00,\n",
        encoding="utf-8",
    )

    store.ok("import", "orders", "--format", "csv", str(path))

    # Sales: 210.00 + 50.00 + 30.00; three orders, two of them Ann's (one phone, however written).
    metrics = store.all_time()
    assert (metrics["orders"], metrics["sales"], metrics["average_order_value"]) == (3, "290.00", "96.67")
    assert metrics["repurchase_rate"] == "50.00"  # Ann and Bo bought; Ann twice
    march = store.get("/api/v1/analytics/metrics?from=2026-03-01&to=2026-03-31")["rows"][0]["metrics"]
    assert march["orders"]["value"] == 2  # A-3 has no date: all time only
    categories = store.get("/api/v1/analytics/categories?limit=10")
    assert categories == [
        {"category": "Drinks / Tea", "sales": "230.00", "orders": 2},
        {"category": "Kitchen", "sales": "50.00", "orders": 1},
    ]
    assert store.rows("SELECT import_flags FROM orders WHERE channel_order_no = 'A-3'")[0][0] is not None


def test_a_wrong_path_or_format_is_one_clear_error(store: Store, tmp_path: Path) -> None:
    missing = store.shopflow("import", "orders", "--format", "shopify", str(tmp_path / "none.csv"))
    unknown = store.shopflow("import", "orders", "--format", "magento", str(tmp_path))
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    wrong = store.shopflow("import", "orders", "--format", "shopify", str(other))

    assert missing.exit_code == 1 and "is not a file" in missing.output
    assert missing.exception is None or isinstance(missing.exception, SystemExit)
    assert unknown.exit_code == 2 and "magento" in unknown.output
    assert wrong.exit_code == 1 and "no column Name" in wrong.output
