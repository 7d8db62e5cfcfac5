"""Stacking and pricing of coupons (LOY-4, issue 16 item 3), pure: the best combination for the
buyer chosen deterministically, its explanation, and the discount shared by the lines to the fen."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopflow.loyalty.models import CouponKind, Goods, Offer, choose, offer_error, price

AT = datetime(2026, 12, 7, 12, tzinfo=UTC)
TEA = Goods("TEA-1", frozenset({10, 1}), 3000)  # filed under 茶 (10), a child of 食品 (1)
CUP = Goods("CUP-1", frozenset({20, 2}), 5000)
POT = Goods("POT-1", frozenset({20, 2}), 12000)
BASKET = [TEA, CUP, POT]  # 200.00


def offer(
    code: str,
    value: int,
    *,
    kind: CouponKind = CouponKind.FIXED,
    group: str | None = None,
    combines: tuple[str, ...] = (),
    coupon_id: int | None = None,
    **fields: object,
) -> Offer:
    base = Offer(
        coupon_id=coupon_id if coupon_id is not None else abs(hash(code)) % 10**6,
        code_id=1,
        code=code,
        kind=kind,
        value=value,
        min_spend=0,
        limit_total=None,
        limit_per_customer=None,
        starts_at=None,
        ends_at=None,
        skus=frozenset(),
        categories=frozenset(),
        group=group,
        combines_with=frozenset(combines),
        used=0,
        code_max_uses=None,
        code_used=0,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


S10 = offer("S10", 1000, group="store", combines=("platform", "shipping"))
S25 = offer("S25", 2500, group="store", combines=("platform",))
P15 = offer("P15", 1500, kind=CouponKind.PERCENT, group="platform", combines=("store",))
P8 = offer("P8", 800, group="platform", combines=("store", "shipping"))
SH6 = offer("SH6", 600, group="shipping", combines=("store", "platform"))
LONE = offer("LONE", 4000)  # no group: combines with nothing
SHY = offer("SHY", 700, group="shy", combines=())  # a group, but combines with none
HALF = offer("HALF", 5000, kind=CouponKind.PERCENT, group="store", combines=("platform",))
SAME_A = offer("SAME-A", 500, group="x", combines=("y",), coupon_id=7)
SAME_B = offer("SAME-B", 500, group="x", combines=("y",), coupon_id=7)  # another code of coupon 7
Y3 = offer("Y3", 300, group="y", combines=("x",))
POTS = offer("POTS", 3000, group="platform", combines=("store",), skus=frozenset({"POT-1"}))


@pytest.mark.parametrize(
    ("offers", "applied", "total", "explanation"),
    [
        # 1. One coupon alone.
        ([S10], ["S10"], 1000, "applied S10 (−10.00): 10.00 off in all"),
        # 2. Two of one group: the larger applies.
        ([S10, S25], ["S25"], 2500, "S10 not applied: only one coupon of the group 'store' applies (S25)"),
        # 3. Groups that name each other stack.
        ([S10, P8], ["P8", "S10"], 1800, "applied P8 (−8.00), S10 (−10.00): 18.00 off in all"),
        # 4. Three groups, each naming the other two, all stack.
        ([S10, P8, SH6], ["P8", "S10", "SH6"], 2400, "24.00 off in all"),
        # 5. S25 does not name shipping: S25+P8 (33.00) beats S10+P8+SH6 (24.00).
        (
            [S10, S25, P8, SH6],
            ["P8", "S25"],
            3300,
            "S10 not applied: only one coupon of the group 'store' applies (S25)",
        ),
        # 6. Percent after fixed, in code order: P15 takes 15% of 200.00, S25 then 25.00.
        ([S25, P15], ["P15", "S25"], 5500, "applied P15 (−30.00), S25 (−25.00)"),
        # 7. A coupon without a group stands alone: the lone 40.00 beats 18.00 together.
        ([LONE, S10, P8], ["LONE"], 4000, "P8 not applied: LONE combines with no other coupon"),
        # 8. ... and loses when the others take more together.
        (
            [offer("LONE", 1000), S10, P8],
            ["P8", "S10"],
            1800,
            "LONE not applied: LONE combines with no other coupon",
        ),
        # 9. A group that combines with none: its coupon alone or not at all.
        ([SHY, S10], ["S10"], 1000, "SHY not applied: does not combine with S10 (group 'store')"),
        # 10. Two codes of one coupon never both apply.
        ([SAME_A, SAME_B, Y3], ["SAME-A", "Y3"], 800, "SAME-B not applied: it is the same coupon as SAME-A"),
        # 11. Equal savings: fewer coupons win.
        (
            [
                offer("AA", 1000),
                offer("BB", 500, group="b", combines=("c",)),
                offer("CC", 500, group="c", combines=("b",)),
            ],
            ["AA"],
            1000,
            "applied AA (−10.00)",
        ),
        # 12. Equal savings and size: the codes first in alphabetical order win.
        (
            [offer("ZED", 1000, group="g"), offer("ALF", 1000, group="g")],
            ["ALF"],
            1000,
            "ZED not applied: only one coupon of the group 'g' applies (ALF)",
        ),
        # 13. Fifty percent and a platform coupon: 100.00 + 8.00.
        ([HALF, P8], ["HALF", "P8"], 10800, "108.00 off in all"),
        # 14. A SKU coupon counts only its SKU's value.
        ([POTS, S10], ["POTS", "S10"], 4000, "applied POTS (−30.00), S10 (−10.00)"),
    ],
)
def test_the_best_combination_is_chosen_and_explained(
    offers: list[Offer], applied: list[str], total: int, explanation: str
) -> None:
    choice = choose(offers, BASKET)

    assert [p.offer.code for p in choice.applied] == applied
    assert choice.discount == total
    assert explanation in choice.explanation()
    assert sum(choice.line_discounts) == total
    assert all(0 <= d <= g.value for d, g in zip(choice.line_discounts, BASKET, strict=True))
    assert choose(list(reversed(offers)), BASKET) == choice  # the order named changes nothing


def test_a_discount_is_shared_by_largest_remainder_and_never_exceeds_a_line() -> None:
    equal = [Goods(f"S{i}", frozenset(), 1000) for i in range(3)]
    assert choose([offer("TEN", 1000)], equal).line_discounts == (334, 333, 333)
    # Two coupons over one line worth less than both: the second takes what is left.
    small = [Goods("S", frozenset(), 1200)]
    both = choose(
        [offer("A10", 1000, group="a", combines=("b",)), offer("B10", 1000, group="b", combines=("a",))],
        small,
    )
    assert [p.discount for p in both.applied] == [1000, 200]
    assert both.line_discounts == (1200,)


@pytest.mark.parametrize(
    ("coupon", "reason"),
    [
        (offer("OLD", 100, ends_at=AT), "has expired"),
        (offer("SOON", 100, starts_at=datetime(2026, 12, 8, tzinfo=UTC)), "is not valid yet"),
        (offer("MIN", 100, min_spend=25000), "minimum spend 250.00 not met (200.00)"),
        (offer("FOOD", 100, categories=frozenset({3})), "is not for this SKU"),
        (offer("FULL", 100, limit_total=5, used=5), "limit reached (5 uses)"),
        (offer("CODE", 100, code_max_uses=1, code_used=1), "limit reached (the code is used)"),
        (offer("MINE", 100, limit_per_customer=2), "limit reached (2 per customer)"),
    ],
)
def test_each_reason_a_coupon_does_not_apply_is_named(coupon: Offer, reason: str) -> None:
    assert reason in (offer_error(coupon, BASKET, AT, allowance_used=2) or "")


def test_a_category_coupon_covers_the_lines_under_its_category_or_a_child() -> None:
    food = offer("FOOD", 1000, categories=frozenset({1}))  # 食品: TEA is under its child 茶
    assert offer_error(food, BASKET, AT, 0) is None
    assert price([food], BASKET)[0].shares == (1000, 0, 0)


@given(
    values=st.lists(st.integers(min_value=1, max_value=10**7), min_size=1, max_size=8),
    coupons=st.lists(
        st.tuples(st.sampled_from(list(CouponKind)), st.integers(min_value=1, max_value=10**6)),
        min_size=1,
        max_size=4,
    ),
)
def test_the_lines_discounts_add_up_to_the_fen_and_stay_within_each_line(
    values: list[int], coupons: list[tuple[CouponKind, int]]
) -> None:
    goods = [Goods(f"S{i}", frozenset(), v) for i, v in enumerate(values)]
    groups = [f"g{i}" for i in range(len(coupons))]
    offers = [
        offer(
            f"C{i}",
            min(value, 10_000) if kind == CouponKind.PERCENT else value,
            kind=kind,
            group=groups[i],
            combines=tuple(groups),
        )
        for i, (kind, value) in enumerate(coupons)
    ]
    choice = choose(offers, goods)

    assert sum(choice.line_discounts) == choice.discount <= sum(values)
    assert all(0 <= d <= v for d, v in zip(choice.line_discounts, values, strict=True))
    assert all(sum(p.shares) == p.discount for p in choice.applied)
