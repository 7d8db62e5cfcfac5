"""Fulfillment rules without a database: carrier choice, freight cost, tracking order, the
scorecard arithmetic, reconciliation outcomes, carriers' files (FUL-1..8)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shopflow.core.errors import Invalid, InvalidTransition
from shopflow.core.privacy import mask_phone
from shopflow.fulfillment.files import parse_bill, parse_tracking
from shopflow.fulfillment.freight import BilledRow, ShippedFacts, reconcile
from shopflow.fulfillment.models.carriers import (
    CarrierFigures,
    CarrierRule,
    Parcel,
    choose_carrier,
    freight_cost,
    scorecard,
    tracking_link,
)
from shopflow.fulfillment.models.freight import BillOutcome
from shopflow.fulfillment.models.picking import (
    TASK_TRANSITIONS,
    WAVE_TRANSITIONS,
    PickTask,
    TaskStatus,
    Wave,
    WaveStatus,
    all_packed,
    picks_by_warehouse,
)
from shopflow.fulfillment.models.shipments import (
    CASE_TRANSITIONS,
    SHIPMENT_TRANSITIONS,
    CaseState,
    Shipment,
    ShipmentException,
    ShipmentStatus,
    TrackingStatus,
    shipment_status_for,
)
from tests.builders.transitions import assert_refused, reachable_from, terminal

T0 = datetime(2030, 1, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def rule(rule_id: int, carrier_id: int, priority: int, **conditions: object) -> CarrierRule:
    return CarrierRule(id=rule_id, carrier_id=carrier_id, priority=priority, **conditions)


RULES = [
    rule(1, 3, 100),  # default
    rule(2, 1, 10, province="广东"),
    rule(3, 2, 20, min_weight_g=5000),
    rule(4, 2, 30, min_order_value=100000, max_order_value=500000),
]


@pytest.mark.parametrize(
    ("parcel", "carrier"),
    [
        (Parcel("广东", 9000, 10), 1),  # province rule first, although heavy
        (Parcel("上海", 5000, 10), 2),  # min weight is inclusive
        (Parcel("上海", 4999, 10), 3),
        (Parcel("上海", 100, 100000), 2),  # order value range includes its minimum
        (Parcel("上海", 100, 500000), 3),  # ... and excludes its maximum
    ],
)
def test_the_first_matching_rule_by_priority_names_the_carrier(parcel: Parcel, carrier: int) -> None:
    assert choose_carrier(RULES, {1, 2, 3}, parcel) == carrier


def test_a_rule_of_an_inactive_carrier_is_passed_over_and_no_match_is_none() -> None:
    assert choose_carrier(RULES, {2, 3}, Parcel("广东", 100, 10)) == 3
    assert choose_carrier(RULES[1:], {1, 2}, Parcel("上海", 100, 10)) is None


def test_equal_priorities_are_read_oldest_rule_first() -> None:
    assert choose_carrier([rule(9, 2, 5), rule(8, 1, 5)], {1, 2}, Parcel("上海", 1, 1)) == 1


@pytest.mark.parametrize(("grams", "fen"), [(1, 1200), (1000, 1200), (1001, 1400), (5400, 2200)])
def test_freight_is_the_first_kilogram_then_each_started_kilogram(grams: int, fen: int) -> None:
    assert freight_cost(grams, 1200, 200) == fen


def test_a_tracking_link_quotes_the_waybill() -> None:
    assert (
        tracking_link("https://t.example/?no={tracking_no}", "SF 1/2") == "https://t.example/?no=SF%201%2F2"
    )


def test_an_order_is_packed_when_every_parcel_is_packed_or_further() -> None:
    assert all_packed(["packed", "checked", "shipped"])
    assert not all_packed(["packed", "picking"])


def test_reservations_become_one_task_per_order_and_warehouse() -> None:
    held = [(1, 10, 100, 3), (1, 10, 100, 2), (1, 20, 100, 1), (2, 10, 101, 4)]
    assert picks_by_warehouse(held) == {10: {1: {100: 5}, 2: {101: 4}}, 20: {1: {100: 1}}}


def test_a_task_steps_only_along_its_transitions() -> None:
    task = PickTask(status="picking", qc_failures=0)
    with pytest.raises(InvalidTransition):
        task.move_to(TaskStatus.SHIPPED, T0)
    task.pack(800, ["纸箱"], T0)
    task.fail_check("错件", T0)
    assert (task.status, task.qc_failures, task.qc_note) == ("picking", 1, "错件")


def shipment() -> Shipment:
    return Shipment(status="shipped", last_event=None, last_event_at=None, delivered_at=None)


def test_events_move_a_parcel_in_their_own_time_order() -> None:
    parcel = shipment()
    assert parcel.track(TrackingStatus.AT_HUB, T0 + timedelta(hours=5)) == "shipped"
    assert (
        parcel.track(TrackingStatus.DELIVERED, T0 + timedelta(hours=1)) is None
    )  # older: kept, moves nothing
    assert (parcel.status, parcel.last_event) == ("in_transit", "at_hub")
    parcel.track(TrackingStatus.DAMAGED, T0 + timedelta(hours=6))
    parcel.track(TrackingStatus.DELIVERED, T0 + timedelta(hours=9))
    assert (parcel.status, parcel.delivered_at) == ("delivered", T0 + timedelta(hours=9))
    assert parcel.track(TrackingStatus.IN_TRANSIT, T0 + timedelta(hours=10)) is None  # delivered stays
    assert parcel.status == "delivered"


def test_scorecard_rates_and_average_cost() -> None:
    card = scorecard(
        CarrierFigures(parcels=4, due=3, on_time=2, with_exception=1, damaged=1, cost_total=5001)
    )
    assert (card.on_time_rate, card.exception_rate, card.damage_rate, card.average_cost) == (
        0.6667,
        0.25,
        0.25,
        1250,
    )
    empty = scorecard(CarrierFigures(0, 0, 0, 0, 0, 0))
    assert (empty.on_time_rate, empty.exception_rate, empty.average_cost) == (None, None, None)


def test_reconciliation_has_four_outcomes_and_a_second_charge_is_an_over_charge() -> None:
    shipped = {
        "A": ShippedFacts(1, expected=1200, billed=False, in_period=True),
        "B": ShippedFacts(2, expected=1200, billed=False, in_period=True),
        "C": ShippedFacts(3, expected=900, billed=False, in_period=True),
        "D": ShippedFacts(4, expected=900, billed=True, in_period=True),  # an earlier bill had it
        "E": ShippedFacts(5, expected=900, billed=False, in_period=False),  # named, from another period
    }
    rows = [
        BilledRow(2, "A", 1200),
        BilledRow(3, "B", 1300),
        BilledRow(4, "X", 500),
        BilledRow(5, "A", 1200),
        BilledRow(6, "D", 900),
        BilledRow(7, "E", 800),
    ]

    lines = [(ln.row, ln.waybill, ln.outcome) for ln in reconcile(rows, shipped)]

    assert lines == [
        (2, "A", BillOutcome.MATCHED),
        (3, "B", BillOutcome.OVER_CHARGED),
        (4, "X", BillOutcome.UNKNOWN_WAYBILL),
        (5, "A", BillOutcome.OVER_CHARGED),
        (6, "D", BillOutcome.OVER_CHARGED),
        (7, "E", BillOutcome.MATCHED),
        (None, "C", BillOutcome.MISSING_BILL),
    ]


def test_a_tracking_file_reports_each_bad_row_by_line_and_keeps_the_rest() -> None:
    content = (
        "\ufeffwaybill,status,time,location\n"
        "SF1,picked_up,2030-01-01T08:00:00+08:00,上海\n"
        "SF1,运输中,2030-01-01 12:00,杭州\n"
        ",in_transit,2030-01-01 12:00,\n"
        "SF2,teleported,2030-01-01 12:00,\n"
        "SF3,delivered,yesterday,\n"
        "\n"
        "SF4,Delivered,2030-01-02T10:00:00Z,\n"
    )

    rows, errors = parse_tracking(content, SHANGHAI)

    assert [(r.row, r.waybill, r.status, r.occurred_at.astimezone(UTC).hour) for r in rows] == [
        (2, "SF1", TrackingStatus.PICKED_UP, 0),
        (3, "SF1", TrackingStatus.IN_TRANSIT, 4),  # a time without zone is the store's
        (8, "SF4", TrackingStatus.DELIVERED, 10),
    ]
    assert rows[0].location == "上海"
    assert [(e.row, e.reason) for e in errors] == [
        (4, "the waybill is missing"),
        (5, "unknown status 'teleported'"),
        (6, "bad time 'yesterday': use ISO 8601"),
    ]


def test_a_file_without_the_needed_columns_is_refused_whole() -> None:
    with pytest.raises(Invalid, match="missing: time"):
        parse_tracking("waybill,status\nSF1,delivered\n", SHANGHAI)


def test_a_bill_row_with_a_bad_amount_is_reported() -> None:
    rows, errors = parse_bill("waybill,amount\nSF1,12.50\nSF2,12.505\nSF3,abc\n")
    assert rows == [BilledRow(2, "SF1", 1250)]
    assert [(e.row, e.waybill) for e in errors] == [(3, "SF2"), (4, "SF3")]


def test_a_packing_slip_masks_the_phone() -> None:
    assert mask_phone("13800138000") == "138****8000"


# --- the TRANSITIONS tables: waves, pick tasks, shipments, exception cases --------------------

W, T, SS, C = WaveStatus, TaskStatus, ShipmentStatus, CaseState
# FUL-1: a wave is open while its tasks are worked and done once every one has shipped.
WAVE_EXPECTED: dict[WaveStatus, set[WaveStatus]] = {W.OPEN: {W.DONE}, W.DONE: set()}
# FUL-2: picked, packed (weight and materials), checked, shipped; a failed check goes back to picking.
TASK_EXPECTED: dict[TaskStatus, set[TaskStatus]] = {
    T.PICKING: {T.PACKED},
    T.PACKED: {T.CHECKED, T.PICKING},
    T.CHECKED: {T.SHIPPED},
    T.SHIPPED: set(),
}
# FUL-5, FUL-6: the carrier's events move a parcel in transit, into an exception and out of it;
# delivered and returned to sender end it. Every parcel starts shipped and never comes back to it.
SHIPMENT_EXPECTED: dict[ShipmentStatus, set[ShipmentStatus]] = {
    SS.SHIPPED: {SS.IN_TRANSIT, SS.EXCEPTION, SS.DELIVERED, SS.RETURNED},
    SS.IN_TRANSIT: {SS.EXCEPTION, SS.DELIVERED, SS.RETURNED},
    SS.EXCEPTION: {SS.IN_TRANSIT, SS.DELIVERED, SS.RETURNED},
    SS.DELIVERED: set(),
    SS.RETURNED: set(),
}
# FUL-6: a case is open until the customer has been contacted with a solution.
CASE_EXPECTED: dict[CaseState, set[CaseState]] = {C.OPEN: {C.CLOSED}, C.CLOSED: set()}

Table = Mapping[Any, frozenset[Any]]
Expected = Mapping[Any, set[Any]]
TABLES: list[tuple[str, Table, Expected, StrEnum]] = [
    ("wave", WAVE_TRANSITIONS, WAVE_EXPECTED, W.OPEN),
    ("pick_task", TASK_TRANSITIONS, TASK_EXPECTED, T.PICKING),
    ("shipment", SHIPMENT_TRANSITIONS, SHIPMENT_EXPECTED, SS.SHIPPED),
    ("exception_case", CASE_TRANSITIONS, CASE_EXPECTED, C.OPEN),
]
BY_TABLE = [pytest.param(table, expected, start, id=name) for name, table, expected, start in TABLES]


@pytest.mark.parametrize(("table", "expected", "start"), BY_TABLE)
def test_every_state_has_a_row_and_every_target_is_a_state(
    table: Table, expected: Expected, start: StrEnum
) -> None:
    states = set(type(start))
    assert set(table) == states == set(expected)
    for targets in table.values():
        assert targets <= states


@pytest.mark.parametrize(
    ("table", "expected", "current", "target"),
    [
        pytest.param(table, expected, current, target, id=f"{name}:{current}->{target}")
        for name, table, expected, start in TABLES
        for current, target in itertools.product(type(start), repeat=2)
    ],
)
def test_each_table_lists_a_step_exactly_when_expected(
    table: Table, expected: Expected, current: StrEnum, target: StrEnum
) -> None:
    assert (target in table[current]) is (target in expected[current])


@pytest.mark.parametrize(("table", "expected", "start"), BY_TABLE)
def test_every_state_is_reachable_from_the_first_and_every_run_can_end(
    table: Table, expected: Expected, start: StrEnum
) -> None:
    assert reachable_from(table, start) == set(type(start))
    ends = terminal(table)
    assert ends == {state for state, targets in expected.items() if not targets}
    for state in table:
        assert reachable_from(table, state) & ends, state


@pytest.mark.parametrize(("current", "target"), list(itertools.product(WaveStatus, repeat=2)))
def test_a_wave_moves_only_along_its_table(current: WaveStatus, target: WaveStatus) -> None:
    wave = Wave(status=current, done_at=None)
    if target in WAVE_EXPECTED[current]:
        assert wave.move_to(target, T0) is current
        assert (wave.status, wave.done_at) == (target, T0 if target is W.DONE else None)
        return
    assert_refused(lambda: wave.move_to(target, T0), current, target)
    assert (wave.status, wave.done_at) == (current, None)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(TaskStatus, repeat=2)))
def test_a_pick_task_moves_only_along_its_table(current: TaskStatus, target: TaskStatus) -> None:
    task = PickTask(status=current, updated_at=T0)
    later = T0 + timedelta(minutes=5)
    if target in TASK_EXPECTED[current]:
        assert task.move_to(target, later) is current
        assert (task.status, task.updated_at) == (target, later)
        return
    assert_refused(lambda: task.move_to(target, later), current, target)
    assert (task.status, task.updated_at) == (current, T0)


@pytest.mark.parametrize("current", list(ShipmentStatus))
def test_every_carrier_event_moves_a_parcel_only_along_its_table(current: ShipmentStatus) -> None:
    """An unfinished parcel takes every event (none asks for a refused step); a finished one
    takes none."""
    for event in TrackingStatus:
        parcel = Shipment(status=current, last_event=None, last_event_at=None, delivered_at=None)
        target = shipment_status_for(event)
        left = parcel.track(event, T0)
        if target in SHIPMENT_EXPECTED[current]:
            assert (left, parcel.status) == (current, target), event
        else:
            assert target is current or not SHIPMENT_EXPECTED[current], event
            assert (left, parcel.status) == (None, current), event


@pytest.mark.parametrize("current", list(CaseState))
def test_an_exception_case_closes_only_along_its_table(current: CaseState) -> None:
    case = ShipmentException(state=current, solution=None, closed_at=None, closed_by=None)
    if C.CLOSED in CASE_EXPECTED[current]:
        assert case.close("补发", T0, 7) is current
        assert (case.state, case.solution, case.closed_at, case.closed_by) == (C.CLOSED, "补发", T0, 7)
        return
    assert_refused(lambda: case.close("补发", T0, 7), current, C.CLOSED)
    assert (case.state, case.solution, case.closed_at, case.closed_by) == (current, None, None, None)
