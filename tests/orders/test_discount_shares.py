"""ASV-4: order lines keep their share of order-level discounts, allocated at intake by largest
remainder so the shares add up to the fen (a coupon gives the discount, LOY-4)."""

from __future__ import annotations

import httpx
import pytest

from shopflow.core.db import Database
from shopflow.core.money import largest_remainder
from tests.builders.auth import bearer
from tests.builders.payments import place_order
from tests.builders.store import small_store

# (line values in fen, discount in fen, expected shares). Each line's exact share is
# discount × value / total; its whole fen first, then the fen left over one each to the largest
# remainders, an equal remainder going to the earlier line.
CASES = [
    # 3 equal lines share 10.00: 333.33… each; 999 given, 1 fen left, equal remainders -> first.
    ([500, 500, 500], 1000, [334, 333, 333]),
    # 2 equal lines share 0.01: 0.5 fen each; the one fen goes to the first (tie rule).
    ([100, 100], 1, [1, 0]),
    # 0.03 over 3 equal lines: exact, no remainder.
    ([100, 100, 100], 3, [1, 1, 1]),
    # 10.00 over 99.00 / 45.50 / 12.00 (156.50): 632.58 / 290.73 / 76.68 -> 632 / 290 / 76 (998);
    # remainders 9200, 11500, 10600 (of 15650): the 2 fen left go to line 2, then line 3.
    ([9900, 4550, 1200], 1000, [632, 291, 77]),
    # One line takes the whole discount.
    ([4550], 455, [455]),
    # No discount: every share 0.
    ([9900, 1200], 0, [0, 0]),
    # The discount equals the goods: every line's share is its whole value.
    ([300, 700], 1000, [300, 700]),
    # A free line (value 0) gets no share.
    ([0, 1000], 7, [0, 7]),
    # 1.00 over 1/3 and 2/3: 33.33 / 66.67 -> 33 / 66, the fen left to the larger remainder (line 2).
    ([100, 200], 100, [33, 67]),
]


@pytest.mark.parametrize(("values", "discount", "expected"), CASES)
def test_shares_follow_the_line_values_and_add_up_to_the_fen(
    values: list[int], discount: int, expected: list[int]
) -> None:
    shares = largest_remainder(values, discount)
    assert shares == expected
    assert sum(shares) == discount
    assert all(0 <= share <= value for share, value in zip(shares, values, strict=True))


async def test_intake_stores_each_lines_share_of_an_order_discount(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    ops = await bearer(db, "operations")
    made = await client.post(
        "/api/v1/coupons", json={"code": "TEN", "kind": "fixed", "value": "10.00"}, headers=ops
    )
    assert made.status_code == 201, made.text
    headers = await bearer(db, "sales")

    order = await place_order(
        client,
        headers,
        [("SKU-1", 1, "99.00"), ("SKU-2", 1, "45.50"), ("SKU-3", 1, "12.00")],
        coupons=["TEN"],
    )

    assert (order["totals"]["discount"], order["totals"]["total"]) == ("10.00", "146.50")
    assert [line["discount"] for line in order["lines"]] == ["6.32", "2.91", "0.77"]
    detail = (await client.get(f"/api/v1/orders/{order['id']}", headers=headers)).json()
    assert [line["discount"] for line in detail["lines"]] == ["6.32", "2.91", "0.77"]  # stored
