"""Pure rules of counts and transfers: their state tables (INV-6, INV-7), ABC classes and the
count's due SKUs, large variances, and the transfer suggestions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.stockcontrol.models import (
    COUNT_TRANSITIONS,
    TRANSFER_TRANSITIONS,
    AbcClass,
    CountState,
    Depot,
    StockCount,
    Suggestion,
    Transfer,
    TransferState,
    abc_classes,
    due_for_count,
    large_variance,
    region_of,
    suggest_transfers,
)
from tests.builders.transitions import assert_refused, reachable_from, terminal

NOW = datetime(2026, 12, 8, tzinfo=UTC)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(CountState, repeat=2)))
def test_a_count_steps_exactly_where_its_table_lists(current: CountState, target: CountState) -> None:
    count = StockCount(state=current)
    if target in COUNT_TRANSITIONS[current]:
        count.move_to(target)
        assert count.state == target
    else:
        assert_refused(lambda: count.move_to(target), current, target)
        assert count.state == current


@pytest.mark.parametrize(("current", "target"), list(itertools.product(TransferState, repeat=2)))
def test_a_transfer_steps_exactly_where_its_table_lists(
    current: TransferState, target: TransferState
) -> None:
    transfer = Transfer(state=current)
    if target in TRANSFER_TRANSITIONS[current]:
        transfer.move_to(target)
        assert transfer.state == target
    else:
        assert_refused(lambda: transfer.move_to(target), current, target)
        assert transfer.state == current


def test_both_tables_run_one_way_to_their_end() -> None:
    assert reachable_from(COUNT_TRANSITIONS, CountState.OPEN) == set(CountState)
    assert terminal(COUNT_TRANSITIONS) == {CountState.POSTED}
    assert reachable_from(TRANSFER_TRANSITIONS, TransferState.DRAFT) == set(TransferState)
    assert terminal(TRANSFER_TRANSITIONS) == {TransferState.RECEIVED}


def test_abc_classes_follow_the_cumulative_share_of_units_sold() -> None:
    sold = {1: 700, 2: 150, 3: 100, 4: 50}
    classes = abc_classes(sold, [1, 2, 3, 4, 5], 0.8, 0.95)
    assert classes == {1: AbcClass.A, 2: AbcClass.A, 3: AbcClass.B, 4: AbcClass.C, 5: AbcClass.C}
    assert set(abc_classes({}, [1, 2], 0.8, 0.95).values()) == {AbcClass.C}


def test_a_sku_is_due_when_its_class_interval_has_passed_or_it_was_never_counted() -> None:
    classes = {1: AbcClass.A, 2: AbcClass.A, 3: AbcClass.B, 4: AbcClass.C, 5: AbcClass.C}
    last = {1: NOW - timedelta(days=7), 2: NOW - timedelta(days=6), 3: NOW - timedelta(days=29), 4: NOW}
    every = {AbcClass.A: 7, AbcClass.B: 30, AbcClass.C: 90}
    assert due_for_count(classes, last, every, NOW) == [1, 5]


@pytest.mark.parametrize(
    ("variance", "expected", "large"),
    [(10, 1000, False), (11, 50, True), (-11, 50, True), (11, 200, False), (5, 5, False), (0, 0, False)],
)
def test_a_large_variance_is_above_both_the_units_and_the_share(
    variance: int, expected: int, large: bool
) -> None:
    assert large_variance(variance, expected, 10, 0.1) is large


SH, GZ, CD = Depot(1, "SH", "上海", 1), Depot(2, "GZ", "广东", 2), Depot(3, "CD", "四川", 3)


def test_a_province_is_served_by_its_nearest_warehouse() -> None:
    assert region_of("浙江省", [SH, GZ, CD]) == SH.id
    assert region_of("广西壮族自治区", [SH, GZ, CD]) == GZ.id
    assert region_of("重庆市", [SH, GZ, CD]) == CD.id


def test_suggestions_send_the_surplus_to_the_regions_short_of_their_share() -> None:
    sold = {(7, "上海"): 10, (7, "广东"): 30, (7, "四川"): 60}
    stock = {(7, SH.id): 100, (7, GZ.id): 0, (7, CD.id): 0}
    assert suggest_transfers(sold, stock, [SH, GZ, CD]) == [
        Suggestion(7, SH.id, CD.id, 60, 0.6),
        Suggestion(7, SH.id, GZ.id, 30, 0.3),
    ]


def test_no_suggestion_without_sales_stock_or_a_second_warehouse() -> None:
    assert suggest_transfers({}, {(7, SH.id): 5}, [SH, GZ]) == []
    assert suggest_transfers({(7, "广东"): 5}, {}, [SH, GZ]) == []
    assert suggest_transfers({(7, "广东"): 5}, {(7, SH.id): 5}, [SH]) == []
