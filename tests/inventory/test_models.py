"""Pure inventory rules: allocation across warehouses (INV-3) and reservation states (INV-2)."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopflow.core.errors import InvalidTransition
from shopflow.core.policy import Allocation
from shopflow.inventory.models import (
    RESERVATION_TRANSITIONS,
    Pick,
    Reservation,
    ReservationState,
    StockLevel,
    allocate,
    allocation_reason,
)
from shopflow.inventory.provinces import CAPITALS, UNKNOWN_KM, distance_km, short_name
from tests.builders.transitions import assert_refused, reachable_from, terminal

# Warehouses: id -> priority (lower is served first).
A, B, C = 1, 2, 3
PRIORITY = {A: 1, B: 2, C: 3}
SHIRT, JEANS, SCARF = 101, 102, 103


def level(warehouse: int, sku: int, available: int) -> StockLevel:
    """A stock row; its id encodes (warehouse, sku) so that picks are easy to read."""
    return StockLevel(
        stock_id=warehouse * 1000 + sku,
        sku_id=sku,
        warehouse_id=warehouse,
        priority=PRIORITY[warehouse],
        available=available,
    )


def taken(plan: list[Pick] | None) -> dict[tuple[int, int], int]:
    """(warehouse, sku) -> units, for readable assertions."""
    assert plan is not None
    return {(p.warehouse_id, p.sku_id): p.quantity for p in plan}


@pytest.mark.parametrize("strategy", list(Allocation))
def test_one_warehouse_with_enough_serves_the_line(strategy: Allocation) -> None:
    plan = allocate({SHIRT: 3}, [level(A, SHIRT, 10)], strategy)
    assert plan == [Pick(stock_id=A * 1000 + SHIRT, sku_id=SHIRT, warehouse_id=A, quantity=3)]


def test_priority_takes_from_the_highest_priority_warehouse_first() -> None:
    # Listed out of order on purpose: the plan follows priority, not the order of rows.
    levels = [level(C, SHIRT, 50), level(A, SHIRT, 50), level(B, SHIRT, 50)]
    assert taken(allocate({SHIRT: 5}, levels, Allocation.PRIORITY)) == {(A, SHIRT): 5}


def test_priority_splits_a_line_across_warehouses_when_the_first_is_short() -> None:
    levels = [level(A, SHIRT, 10), level(B, SHIRT, 5), level(C, SHIRT, 100)]
    assert taken(allocate({SHIRT: 12}, levels, Allocation.PRIORITY)) == {(A, SHIRT): 10, (B, SHIRT): 2}


def test_priority_skips_warehouses_with_nothing_available() -> None:
    levels = [level(A, SHIRT, 0), level(B, SHIRT, 4)]
    plan = allocate({SHIRT: 4}, levels, Allocation.PRIORITY)
    assert taken(plan) == {(B, SHIRT): 4}
    assert plan is not None and all(p.quantity > 0 for p in plan)


def test_equal_priorities_are_served_in_warehouse_order() -> None:
    levels = [
        StockLevel(stock_id=9, sku_id=SHIRT, warehouse_id=7, priority=1, available=5),
        StockLevel(stock_id=8, sku_id=SHIRT, warehouse_id=6, priority=1, available=5),
    ]
    assert taken(allocate({SHIRT: 6}, levels, Allocation.PRIORITY)) == {(6, SHIRT): 5, (7, SHIRT): 1}


def test_priority_may_split_an_order_by_sku() -> None:
    levels = [level(A, SHIRT, 10), level(B, JEANS, 10)]
    assert taken(allocate({SHIRT: 1, JEANS: 1}, levels, Allocation.PRIORITY)) == {
        (A, SHIRT): 1,
        (B, JEANS): 1,
    }


def test_whole_order_prefers_one_warehouse_that_can_ship_everything() -> None:
    # A (priority 1) has shirts only; B has everything: ship it all from B in one parcel.
    levels = [level(A, SHIRT, 10), level(A, JEANS, 0), level(B, SHIRT, 10), level(B, JEANS, 10)]
    order = {SHIRT: 2, JEANS: 1}
    assert taken(allocate(order, levels, Allocation.WHOLE_ORDER)) == {(B, SHIRT): 2, (B, JEANS): 1}
    # The priority strategy would have split it.
    assert taken(allocate(order, levels, Allocation.PRIORITY)) == {(A, SHIRT): 2, (B, JEANS): 1}


def test_whole_order_takes_the_highest_priority_warehouse_among_those_that_can() -> None:
    levels = [level(C, SHIRT, 10), level(C, JEANS, 10), level(B, SHIRT, 10), level(B, JEANS, 10)]
    assert taken(allocate({SHIRT: 1, JEANS: 1}, levels, Allocation.WHOLE_ORDER)) == {
        (B, SHIRT): 1,
        (B, JEANS): 1,
    }


def test_whole_order_splits_like_priority_when_no_single_warehouse_can() -> None:
    levels = [level(A, SHIRT, 3), level(B, SHIRT, 3), level(B, JEANS, 1)]
    order = {SHIRT: 5, JEANS: 1}
    assert allocate(order, levels, Allocation.WHOLE_ORDER) == allocate(order, levels, Allocation.PRIORITY)
    assert taken(allocate(order, levels, Allocation.WHOLE_ORDER)) == {
        (A, SHIRT): 3,
        (B, SHIRT): 2,
        (B, JEANS): 1,
    }


# Nearest (INV-3): A in 上海, B in 广东, C in 四川.
PROVINCES = {A: "上海", B: "广东", C: "四川"}


def placed(warehouse: int, sku: int, available: int) -> StockLevel:
    return StockLevel(
        stock_id=warehouse * 1000 + sku,
        sku_id=sku,
        warehouse_id=warehouse,
        priority=PRIORITY[warehouse],
        available=available,
        province=PROVINCES[warehouse],
    )


def test_the_table_holds_34_provincial_divisions_and_reads_full_names() -> None:
    assert len(CAPITALS) == 34
    assert short_name("广东省") == "广东"
    assert short_name("广西壮族自治区") == "广西"
    assert short_name("上海市") == "上海"
    assert short_name("新疆维吾尔自治区") == "新疆"
    assert distance_km("上海", "上海市") == 0
    assert 1100 < distance_km("上海", "广东省") < 1300  # Shanghai to Guangzhou, about 1,200 km
    assert distance_km("上海", "Atlantis") == UNKNOWN_KM


def test_nearest_takes_the_warehouse_nearest_the_destination_whatever_its_priority() -> None:
    levels = [placed(A, SHIRT, 50), placed(B, SHIRT, 50), placed(C, SHIRT, 50)]
    assert taken(allocate({SHIRT: 5}, levels, Allocation.NEAREST, "广西壮族自治区")) == {(B, SHIRT): 5}
    assert taken(allocate({SHIRT: 5}, levels, Allocation.NEAREST, "重庆")) == {(C, SHIRT): 5}
    assert taken(allocate({SHIRT: 5}, levels, Allocation.NEAREST, "浙江省")) == {(A, SHIRT): 5}


def test_nearest_prefers_a_farther_warehouse_that_ships_the_whole_order_to_a_split() -> None:
    levels = [placed(B, SHIRT, 5), placed(B, JEANS, 0), placed(A, SHIRT, 5), placed(A, JEANS, 5)]
    assert taken(allocate({SHIRT: 1, JEANS: 1}, levels, Allocation.NEAREST, "广东")) == {
        (A, SHIRT): 1,
        (A, JEANS): 1,
    }


def test_nearest_splits_from_the_nearest_first_when_no_warehouse_can_ship_everything() -> None:
    levels = [placed(A, SHIRT, 3), placed(B, SHIRT, 4), placed(C, SHIRT, 5)]
    plan = allocate({SHIRT: 9}, levels, Allocation.NEAREST, "广东")
    # 广州: 上海 about 1,210 km, 成都 about 1,240 km.
    assert taken(plan) == {(B, SHIRT): 4, (A, SHIRT): 3, (C, SHIRT): 2}  # none has all 9
    assert plan is not None and allocation_reason(Allocation.NEAREST, plan) == "nearest_split"


def test_an_unknown_destination_falls_back_to_priority_order() -> None:
    levels = [placed(C, SHIRT, 50), placed(B, SHIRT, 50)]
    assert taken(allocate({SHIRT: 5}, levels, Allocation.NEAREST, "")) == {(B, SHIRT): 5}


@pytest.mark.parametrize("strategy", list(Allocation))
def test_the_reason_names_the_strategy_and_a_split(strategy: Allocation) -> None:
    one = [Pick(1, SHIRT, A, 1), Pick(2, JEANS, A, 1)]
    assert allocation_reason(strategy, one) == strategy.value
    assert allocation_reason(strategy, [*one, Pick(3, SCARF, B, 1)]) == f"{strategy.value}_split"


@pytest.mark.parametrize("strategy", list(Allocation))
def test_none_when_the_stock_cannot_cover_the_demand(strategy: Allocation) -> None:
    levels = [level(A, SHIRT, 3), level(B, SHIRT, 2), level(A, JEANS, 50)]
    assert allocate({SHIRT: 6}, levels, strategy) is None
    # One short SKU sinks the whole order: no partial plan.
    assert allocate({JEANS: 1, SHIRT: 6}, levels, strategy) is None
    # A SKU with no stock row anywhere.
    assert allocate({SCARF: 1}, levels, strategy) is None


def test_picks_come_in_stock_row_order_so_rows_are_locked_in_one_order() -> None:
    levels = [level(B, SHIRT, 1), level(A, JEANS, 1), level(A, SHIRT, 1), level(C, SCARF, 1)]
    plan = allocate({SHIRT: 2, JEANS: 1, SCARF: 1}, levels, Allocation.PRIORITY)
    assert plan is not None
    assert [p.stock_id for p in plan] == sorted(p.stock_id for p in plan)


# --- properties --------------------------------------------------------------------------------

SKUS = st.sampled_from([SHIRT, JEANS, SCARF])
WAREHOUSES = st.sampled_from([A, B, C])


@st.composite
def stock_and_demand(draw: st.DrawFn) -> tuple[dict[int, int], list[StockLevel]]:
    rows = draw(
        st.dictionaries(st.tuples(WAREHOUSES, SKUS), st.integers(min_value=0, max_value=20), max_size=9)
    )
    levels = [level(w, s, available) for (w, s), available in rows.items()]
    demand = draw(st.dictionaries(SKUS, st.integers(min_value=1, max_value=40), min_size=1, max_size=3))
    return demand, levels


@settings(max_examples=200)
@given(stock_and_demand(), st.sampled_from(list(Allocation)))
def test_a_plan_covers_the_demand_exactly_and_never_takes_more_than_a_row_has(
    case: tuple[dict[int, int], list[StockLevel]], strategy: Allocation
) -> None:
    demand, levels = case
    rows = {lv.stock_id: lv for lv in levels}
    plan = allocate(demand, levels, strategy)

    supply: dict[int, int] = defaultdict(int)
    for lv in levels:
        supply[lv.sku_id] += lv.available
    coverable = all(supply[sku] >= wanted for sku, wanted in demand.items())
    assert (plan is not None) == coverable

    if plan is None:
        return
    per_sku: dict[int, int] = defaultdict(int)
    per_row: dict[int, int] = defaultdict(int)
    for pick in plan:
        row = rows[pick.stock_id]
        assert (pick.sku_id, pick.warehouse_id) == (row.sku_id, row.warehouse_id)
        assert pick.quantity > 0
        per_sku[pick.sku_id] += pick.quantity
        per_row[pick.stock_id] += pick.quantity
    assert dict(per_sku) == demand
    assert all(per_row[stock_id] <= rows[stock_id].available for stock_id in per_row)


@given(stock_and_demand())
def test_whole_order_uses_one_warehouse_whenever_one_can_ship_everything(
    case: tuple[dict[int, int], list[StockLevel]],
) -> None:
    demand, levels = case
    stock = {(lv.warehouse_id, lv.sku_id): lv.available for lv in levels}
    able = [w for w in (A, B, C) if all(stock.get((w, s), 0) >= q for s, q in demand.items())]
    plan = allocate(demand, levels, Allocation.WHOLE_ORDER)
    if able:
        assert plan is not None
        assert {p.warehouse_id for p in plan} == {min(able, key=PRIORITY.__getitem__)}


# --- reservation states (INV-2) ---------------------------------------------------------------

R = ReservationState
# INV-2: a reservation is released on cancel or converted to a shipment on ship, once.
RESERVATION_EXPECTED: dict[ReservationState, set[ReservationState]] = {
    R.ACTIVE: {R.RELEASED, R.CONSUMED},
    R.RELEASED: set(),
    R.CONSUMED: set(),
}


def test_every_reservation_state_has_a_row_and_every_target_is_a_state() -> None:
    assert set(RESERVATION_TRANSITIONS) == set(ReservationState) == set(RESERVATION_EXPECTED)
    for targets in RESERVATION_TRANSITIONS.values():
        assert targets <= set(ReservationState)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(ReservationState, repeat=2)))
def test_a_reservation_steps_exactly_where_the_table_lists(
    current: ReservationState, target: ReservationState
) -> None:
    allowed = target in RESERVATION_EXPECTED[current]
    assert (target in RESERVATION_TRANSITIONS[current]) is allowed
    reservation = Reservation(state=current, quantity=2)
    if allowed:
        reservation.move_to(target)
        assert reservation.state == target
        return
    assert_refused(lambda: reservation.move_to(target), current, target)
    assert reservation.state == current


def test_every_reservation_state_is_reachable_from_active_which_alone_goes_on() -> None:
    assert reachable_from(RESERVATION_TRANSITIONS, R.ACTIVE) == set(ReservationState)
    assert terminal(RESERVATION_TRANSITIONS) == {R.RELEASED, R.CONSUMED}


@pytest.mark.parametrize("target", [ReservationState.RELEASED, ReservationState.CONSUMED])
def test_an_active_reservation_is_released_or_consumed_once(target: ReservationState) -> None:
    reservation = Reservation(state=ReservationState.ACTIVE, quantity=2)
    reservation.move_to(target)
    assert reservation.state == target
    for again in ReservationState:
        with pytest.raises(InvalidTransition):
            reservation.move_to(again)
    assert reservation.state == target
