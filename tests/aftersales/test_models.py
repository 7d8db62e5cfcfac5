"""After-sales rules without a database: the TRANSITIONS table row by row, the type rules on top
of it, eligibility (ASV-1, ASV-2), the itemised refund (ASV-4), the order's standing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.aftersales.models import (
    TRANSITIONS,
    Case,
    CaseState,
    CaseType,
    LineAsk,
    Reason,
    RefundLine,
    eligibility,
    order_standing,
    refund,
    refund_parts,
    return_window,
)
from shopflow.core import policy
from shopflow.core.policy import Aftersales
from shopflow.orders.models import aftersales_closes
from tests.builders.transitions import assert_refused, reachable_from, terminal

C = CaseState
T = CaseType
R = Reason
AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)

EXPECTED: dict[CaseState, set[CaseState]] = {
    C.REQUESTED: {C.APPROVED, C.REJECTED, C.CANCELLED},
    C.APPROVED: {C.AWAITING_RETURN, C.REFUNDING, C.EXCHANGED, C.CANCELLED},
    C.AWAITING_RETURN: {C.RECEIVED},
    C.RECEIVED: {C.INSPECTED},
    C.INSPECTED: {C.REFUNDING, C.EXCHANGED, C.REPAIRED},
    C.REFUNDING: {C.REFUNDED},
    C.REFUNDED: {C.CLOSED},
    C.EXCHANGED: {C.CLOSED},
    C.REPAIRED: {C.CLOSED},
    C.CLOSED: set(),
    C.REJECTED: set(),
    C.CANCELLED: set(),
}


def case(state: CaseState, case_type: CaseType = T.RETURN_REFUND, reason: Reason = R.QUALITY) -> Case:
    return Case(state=state, type=case_type, reason=reason, updated_at=AT, received_at=AT, inspected_at=AT)


# The type a step needs, where TRANSITIONS alone does not decide it (see the type table below).
STEP_TYPE = {
    (C.APPROVED, C.REFUNDING): T.REFUND_ONLY,
    (C.APPROVED, C.EXCHANGED): T.EXCHANGE,
    (C.INSPECTED, C.EXCHANGED): T.EXCHANGE,
    (C.INSPECTED, C.REPAIRED): T.REPAIR,
}


def test_every_state_has_a_row_and_every_target_is_a_state() -> None:
    assert set(TRANSITIONS) == set(CaseState) == set(EXPECTED)
    for targets in TRANSITIONS.values():
        assert targets <= set(CaseState)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(CaseState, repeat=2)))
def test_a_step_is_allowed_exactly_when_listed_and_a_refused_one_changes_nothing(
    current: CaseState, target: CaseState
) -> None:
    allowed = target in EXPECTED[current]
    assert (target in TRANSITIONS[current]) is allowed
    found = case(current, STEP_TYPE.get((current, target), T.RETURN_REFUND))
    assert found.can_move_to(target) is allowed
    if allowed:
        assert found.move_to(target, LATER) is current
        assert (found.state, found.updated_at) == (target, LATER)
        return
    assert_refused(lambda: found.move_to(target, LATER), current, target)
    assert (found.state, found.updated_at) == (current, AT)


def test_every_state_is_reachable_from_requested_and_every_run_ends() -> None:
    assert reachable_from(TRANSITIONS, C.REQUESTED) == set(CaseState)
    assert terminal(TRANSITIONS) == {C.CLOSED, C.REJECTED, C.CANCELLED}
    for state in CaseState:
        assert reachable_from(TRANSITIONS, state) & terminal(TRANSITIONS), state


# (type, reason, from, to, allowed): the case's type narrows what TRANSITIONS allows.
TYPE_STEPS = [
    (T.REFUND_ONLY, R.QUALITY, C.APPROVED, C.REFUNDING, True),  # money back at once
    (T.COMPENSATION, R.OTHER, C.APPROVED, C.REFUNDING, True),
    (T.RETURN_REFUND, R.QUALITY, C.APPROVED, C.REFUNDING, False),  # a return refunds after inspection
    (T.RETURN_REFUND, R.QUALITY, C.INSPECTED, C.REFUNDING, True),
    (T.REFUND_ONLY, R.QUALITY, C.APPROVED, C.AWAITING_RETURN, False),  # nothing comes back
    (T.RETURN_REFUND, R.NO_REASON, C.APPROVED, C.AWAITING_RETURN, True),
    (T.EXCHANGE, R.QUALITY, C.APPROVED, C.REFUNDING, False),  # an exchange pays nothing
    (T.EXCHANGE, R.QUALITY, C.APPROVED, C.EXCHANGED, True),  # a quality replacement ships at once
    (T.EXCHANGE, R.NO_REASON, C.APPROVED, C.EXCHANGED, False),  # … not a no-reason one
    (T.EXCHANGE, R.NO_REASON, C.INSPECTED, C.EXCHANGED, True),
    (T.RETURN_REFUND, R.QUALITY, C.INSPECTED, C.EXCHANGED, False),
    (T.REPAIR, R.QUALITY, C.INSPECTED, C.REPAIRED, True),
    (T.EXCHANGE, R.QUALITY, C.INSPECTED, C.REPAIRED, False),
]


@pytest.mark.parametrize(("case_type", "reason", "current", "target", "allowed"), TYPE_STEPS)
def test_the_case_type_decides_the_steps_transitions_leave_open(
    case_type: CaseType, reason: Reason, current: CaseState, target: CaseState, allowed: bool
) -> None:
    found = case(current, case_type, reason)
    assert found.can_move_to(target) is allowed
    if not allowed:
        assert_refused(lambda: found.move_to(target, LATER), current, target)


def test_a_replacement_shipped_before_the_return_keeps_the_case_open_until_the_goods_are_inspected() -> None:
    early = Case(state=C.EXCHANGED, type=T.EXCHANGE, reason=R.QUALITY, updated_at=AT)
    # (shipped back, received, inspected, open, may close) at each step of the return
    assert (early.can_ship_back, early.can_receive, early.can_inspect, early.is_open) == (
        True,
        True,
        False,
        True,
    )
    assert not early.can_move_to(C.CLOSED)
    early.received_at = LATER
    assert (early.can_ship_back, early.can_receive, early.can_inspect, early.is_open) == (
        False,
        False,
        True,
        True,
    )
    assert not early.can_move_to(C.CLOSED)  # received is not enough: the goods are inspected first
    early.inspected_at = LATER
    assert (early.can_ship_back, early.can_receive, early.can_inspect, early.is_open) == (
        False,
        False,
        False,
        False,
    )
    assert early.can_move_to(C.CLOSED)


def test_an_exchange_after_inspection_has_no_return_pending() -> None:
    late = case(C.EXCHANGED, T.EXCHANGE, R.NO_REASON)
    assert (late.return_pending, late.can_receive, late.can_inspect, late.is_open) == (
        False,
        False,
        False,
        False,
    )


# --- eligibility (ASV-1, ASV-2) ----------------------------------------------------------------
# Delivered 2026-11-13 10:00 in Shanghai (02:00 UTC): delivery day is day 0. The 7-day no-reason
# window's last day is 11-20 (ends 11-21 00:00 local); the 15-day quality window's is 11-28.
DELIVERED = datetime(2026, 11, 13, 2, 0, tzinfo=UTC)


def local(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """`day` days after delivery's date at hour:minute in Shanghai (UTC+8), as UTC."""
    return datetime(2026, 11, 13, hour, minute, tzinfo=UTC) + timedelta(days=day, hours=-8)


ONE = [LineAsk("SKU-1", 1, 1, 0)]
NO_REASON_ENDS = "7-day no-reason return ends 2026-11-20 23:59"
NO_REASON_ENDED = "7-day no-reason return ended 2026-11-20 23:59"
QUALITY_ENDS = "15-day quality return ends 2026-11-28 23:59"
QUALITY_ENDED = "15-day quality return ended 2026-11-28 23:59"
OTHER_ENDS = "15-day return for another reason (an agent approves it) ends 2026-11-28 23:59"

# (delivered, reason, opened, lines, now) -> (eligible, rule, sentence)
ELIGIBILITY = [
    # 1. no reason on day 6: inside 7 days
    (DELIVERED, R.NO_REASON, False, ONE, local(6), True, "no_reason_return", NO_REASON_ENDS),
    # 2. no reason on day 8: the window ended with day 7
    (DELIVERED, R.NO_REASON, False, ONE, local(8), False, "no_reason_return", NO_REASON_ENDED),
    # 3. day 7 at 23:59 local: the last minute still counts
    (DELIVERED, R.NO_REASON, False, ONE, local(7, 23, 59), True, "no_reason_return", NO_REASON_ENDS),
    # 4. day 8 at 00:00 local: over
    (DELIVERED, R.NO_REASON, False, ONE, local(8, 0, 0), False, "no_reason_return", NO_REASON_ENDED),
    # 5. opened goods never go back without a reason, even on day 1
    (
        DELIVERED,
        R.NO_REASON,
        True,
        ONE,
        local(1),
        False,
        "opened_goods",
        "opened goods are not eligible for the 7-day no-reason return",
    ),
    # 6. quality on day 14, opened: inside 15 days, opened goods are fine
    (DELIVERED, R.QUALITY, True, ONE, local(14), True, "quality_return", QUALITY_ENDS),
    # 7. quality on day 16: over
    (DELIVERED, R.QUALITY, False, ONE, local(16), False, "quality_return", QUALITY_ENDED),
    # 8. a wrong item on day 10 uses the quality window
    (DELIVERED, R.WRONG_ITEM, False, ONE, local(10), True, "quality_return", QUALITY_ENDS),
    # 9. damaged in transit on day 16: the quality window, over
    (DELIVERED, R.DAMAGED_IN_TRANSIT, False, ONE, local(16), False, "quality_return", QUALITY_ENDED),
    # 10. another reason on day 10: within the quality window, with an agent's approval
    (DELIVERED, R.OTHER, False, ONE, local(10), True, "other_with_approval", OTHER_ENDS),
    # 11. another reason on day 16: over
    (
        DELIVERED,
        R.OTHER,
        False,
        ONE,
        local(16),
        False,
        "other_with_approval",
        "15-day return for another reason (an agent approves it) ended 2026-11-28 23:59",
    ),
    # 12. not delivered: nothing to return yet
    (None, R.QUALITY, False, ONE, local(1), False, "not_delivered", "the order is not delivered yet"),
    # 13. partial quantity: 1 of 2 delivered, nothing in other cases
    (
        DELIVERED,
        R.QUALITY,
        False,
        [LineAsk("SKU-2", 1, 2, 0)],
        local(3),
        True,
        "quality_return",
        QUALITY_ENDS,
    ),
    # 14. a second case on the same line asks 2 where another case holds 1 of 2: 1 is left
    (
        DELIVERED,
        R.QUALITY,
        False,
        [LineAsk("SKU-2", 2, 2, 1)],
        local(3),
        False,
        "quantity",
        "SKU-2: 1 of 2 can still be returned (1 in other cases)",
    ),
    # 15. … asking for the 1 left is fine
    (
        DELIVERED,
        R.QUALITY,
        False,
        [LineAsk("SKU-2", 1, 2, 1)],
        local(3),
        True,
        "quality_return",
        QUALITY_ENDS,
    ),
    # 16. more than delivered: 3 of 2
    (
        DELIVERED,
        R.NO_REASON,
        False,
        [LineAsk("SKU-2", 3, 2, 0)],
        local(3),
        False,
        "quantity",
        "SKU-2: 2 of 2 can still be returned (0 in other cases)",
    ),
    # 17. every unit already in other cases
    (
        DELIVERED,
        R.QUALITY,
        False,
        [LineAsk("SKU-1", 1, 1, 1)],
        local(3),
        False,
        "quantity",
        "SKU-1: 0 of 1 can still be returned (1 in other cases)",
    ),
    # 18. delivered 2026-11-13 17:00 UTC = 11-14 01:00 in Shanghai: day 0 is the store's 11-14,
    # so the no-reason window runs to 11-21 23:59 and 11-21 noon is still inside
    (
        datetime(2026, 11, 13, 17, 0, tzinfo=UTC),
        R.NO_REASON,
        False,
        ONE,
        local(8),
        True,
        "no_reason_return",
        "7-day no-reason return ends 2026-11-21 23:59",
    ),
]


@pytest.mark.parametrize(
    ("delivered", "reason", "opened", "lines", "now", "eligible", "rule", "sentence"), ELIGIBILITY
)
def test_eligibility_names_the_rule_and_its_deadline_in_the_stores_zone(
    delivered: datetime | None,
    reason: Reason,
    opened: bool,
    lines: list[LineAsk],
    now: datetime,
    eligible: bool,
    rule: str,
    sentence: str,
) -> None:
    found = eligibility(delivered, reason, opened, lines, now, Aftersales())
    assert (found.eligible, found.rule, found.sentence) == (eligible, rule, sentence)
    assert found.needs_approval is (eligible and reason is R.OTHER)


def test_the_windows_come_from_policy() -> None:
    # 19. a store with a 10-day no-reason window: day 8 is inside, to 11-23 23:59
    rules = Aftersales(no_reason_return_days=10)
    found = eligibility(DELIVERED, R.NO_REASON, False, ONE, local(8), rules)
    assert (found.eligible, found.sentence) == (True, "10-day no-reason return ends 2026-11-23 23:59")


def test_a_quantity_error_names_the_line_field() -> None:
    found = eligibility(
        DELIVERED, R.QUALITY, False, [*ONE, LineAsk("SKU-2", 3, 2, 0)], local(1), Aftersales()
    )
    assert [(e.field, e.message) for e in found.errors] == [
        ("lines[1].quantity", "SKU-2: 2 of 2 can still be returned (0 in other cases)")
    ]


def test_the_order_closes_when_the_longest_window_ends() -> None:
    # ORD-7 and ASV-1 share the window: the order closes at 11-29 00:00 Shanghai, the first
    # instant no return is allowed any more.
    rules = Aftersales()
    closes = aftersales_closes(DELIVERED, rules)
    assert closes == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    assert closes == return_window(DELIVERED, R.QUALITY, rules).ends
    assert not eligibility(DELIVERED, R.QUALITY, False, ONE, closes, rules).eligible
    assert eligibility(DELIVERED, R.QUALITY, False, ONE, closes - timedelta(seconds=1), rules).eligible


# --- the itemised refund (ASV-4) ----------------------------------------------------------------


def line(price: int, quantity: int, ordered: int = 0, discount: int = 0, before: int = 0) -> RefundLine:
    return RefundLine(price, quantity, ordered or quantity, discount, before)


# (type, reason, lines, whole order, order shipping, amount)
#   -> (items, discount share, shipping, return shipping, total)
REFUNDS = [
    # 1. one unit of 99.00, no reason, part of the order: the items only; the customer posts it back
    (T.RETURN_REFUND, R.NO_REASON, [line(9900, 1, 3)], False, 0, None, (9900, 0, 0, 0, 9900)),
    # 2. the same for a quality fault: the store refunds the return postage (10.00)
    (T.RETURN_REFUND, R.QUALITY, [line(9900, 1, 3)], False, 0, None, (9900, 0, 0, 1000, 10900)),
    # 3. wrong item: the store's postage too
    (T.RETURN_REFUND, R.WRONG_ITEM, [line(9900, 1, 3)], False, 0, None, (9900, 0, 0, 1000, 10900)),
    # 4. damaged in transit: the store's postage too
    (T.RETURN_REFUND, R.DAMAGED_IN_TRANSIT, [line(4550, 2)], False, 0, None, (9100, 0, 0, 1000, 10100)),
    # 5. another reason: the customer's postage
    (T.RETURN_REFUND, R.OTHER, [line(4550, 2)], False, 0, None, (9100, 0, 0, 0, 9100)),
    # 6. the whole order back (2 x 12.00 under the 99.00 threshold paid 10.00 shipping): shipping back
    (T.RETURN_REFUND, R.NO_REASON, [line(1200, 2)], True, 1000, None, (2400, 0, 1000, 0, 3400)),
    # 7. a line of 3 with 1.00 of order discount, 1 returned: floor(100 x 1/3) = 33 fen
    (T.RETURN_REFUND, R.NO_REASON, [line(1200, 1, 3, 100)], False, 0, None, (1200, 33, 0, 0, 1167)),
    # 8. … the other 2 later: 100 - 33 = 67 fen, so the line's shares add to the fen (33 + 67 = 100)
    (T.RETURN_REFUND, R.NO_REASON, [line(1200, 2, 3, 100, 1)], False, 0, None, (2400, 67, 0, 0, 2333)),
    # 9. two lines, each with its own share: 99.00 - 5.00, and 2 x 45.50 - (2 of 3 units of 3.00) 2.00
    (
        T.RETURN_REFUND,
        R.NO_REASON,
        [line(9900, 1, 1, 500), line(4550, 2, 3, 300)],
        False,
        0,
        None,
        (19000, 700, 0, 0, 18300),
    ),
    # 10. refund only for a quality fault: nothing travels back, no postage
    (T.REFUND_ONLY, R.QUALITY, [line(9900, 1)], False, 0, None, (9900, 0, 0, 0, 9900)),
    # 11. an exchange pays nothing back
    (T.EXCHANGE, R.QUALITY, [line(9900, 1)], False, 0, None, (0, 0, 0, 0, 0)),
    # 12. nor does a repair
    (T.REPAIR, R.QUALITY, [line(9900, 1)], False, 0, None, (0, 0, 0, 0, 0)),
    # 13. a compensation is its amount
    (T.COMPENSATION, R.OTHER, [], False, 0, 60000, (60000, 0, 0, 0, 60000)),
]


@pytest.mark.parametrize(("case_type", "reason", "lines", "whole", "shipping", "amount", "expected"), REFUNDS)
def test_the_refund_is_itemised(
    case_type: CaseType,
    reason: Reason,
    lines: list[RefundLine],
    whole: bool,
    shipping: int,
    amount: int | None,
    expected: tuple[int, int, int, int, int],
) -> None:
    found = refund(case_type, reason, lines, whole, shipping, amount, policy.current().aftersales)
    assert (found.items, found.discount_share, found.shipping, found.return_shipping, found.total) == expected


# --- the order's standing -------------------------------------------------------------------------


def settled(state: CaseState, refunded: int = 0, received: bool = True) -> Case:
    return Case(state=state, type=T.RETURN_REFUND, refunded=refunded, received_at=AT if received else None)


def exchanged(inspected: bool) -> Case:
    return Case(
        state=C.EXCHANGED, type=T.EXCHANGE, refunded=0, received_at=AT, inspected_at=AT if inspected else None
    )


@pytest.mark.parametrize(
    ("cases", "refunded", "standing"),
    [
        ([], 0, "none"),
        ([settled(C.REQUESTED)], 0, "in_progress"),
        ([settled(C.REFUNDED, 9900), settled(C.INSPECTED)], 9900, "in_progress"),  # open wins
        ([settled(C.REFUNDED, 9900)], 9900, "partially_refunded"),
        ([settled(C.CLOSED, 9900), settled(C.REFUNDED, 9100)], 19000, "refunded"),  # all back
        ([], 19000, "refunded"),  # no case: the money went back when the order was cancelled
        ([exchanged(inspected=True)], 0, "returned"),
        ([exchanged(inspected=False)], 0, "in_progress"),  # a quality replacement's goods not inspected yet
        ([settled(C.REJECTED, received=False), settled(C.CANCELLED, received=False)], 0, "none"),
    ],
)
def test_the_order_shows_its_after_sales_standing(cases: list[Case], refunded: int, standing: str) -> None:
    assert order_standing(cases, 19000, refunded) == standing


# --- a refund across several captured payments (PAY-3) -------------------------------------------


@pytest.mark.parametrize(
    ("rests", "total", "parts"),
    [
        ([(1, 19000)], 15450, [(1, 15450)]),  # one payment holds it
        ([(1, 10000), (2, 9000)], 15000, [(1, 10000), (2, 5000)]),  # the largest first, all of it
        ([(1, 9000), (2, 10000)], 15000, [(2, 10000), (1, 5000)]),  # … whichever came first
        ([(1, 5000), (2, 5000)], 3000, [(2, 3000)]),  # equal rests: the latest payment
        ([(1, 10000), (2, 9000)], 19000, [(1, 10000), (2, 9000)]),  # exactly what they hold
        ([(1, 10000), (2, 9000)], 19001, []),  # one fen more than they hold: nothing
        ([(1, 0), (2, 3000)], 3000, [(2, 3000)]),  # a payment refunded in full takes no part
        ([], 100, []),
    ],
)
def test_a_refund_is_split_across_payments_never_over_any(
    rests: list[tuple[int, int]], total: int, parts: list[tuple[int, int]]
) -> None:
    found = refund_parts(rests, total)
    assert found == parts
    held = dict(rests)
    assert all(0 < amount <= held[payment] for payment, amount in found)
