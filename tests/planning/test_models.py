"""The pure rules of planning: the purchase order's TRANSITIONS and the order quantity (INV-4, INV-5)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shopflow.core.errors import InvalidTransition
from shopflow.planning.models import TRANSITIONS, PoStatus, PurchaseOrder, order_quantity

AT = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
P = PoStatus


def po(status: PoStatus) -> PurchaseOrder:
    return PurchaseOrder(status=status, expected_on=date(2030, 3, 8), changed_at=AT)


@pytest.mark.parametrize(("start", "target"), [(s, t) for s in P for t in P])
def test_a_purchase_order_moves_only_as_its_table_says(start: PoStatus, target: PoStatus) -> None:
    order = po(start)
    if target in TRANSITIONS[start]:
        assert order.move_to(target, AT) == start
        assert order.status == target
    else:
        with pytest.raises(InvalidTransition):
            order.move_to(target, AT)
        assert order.status == start


def test_the_lifecycle_runs_draft_to_received_and_ends_there() -> None:
    order = po(P.DRAFT)
    for step in (P.SUBMITTED, P.CONFIRMED, P.PARTIALLY_RECEIVED, P.PARTIALLY_RECEIVED, P.RECEIVED):
        order.move_to(step, AT)
    assert TRANSITIONS[P.RECEIVED] == TRANSITIONS[P.CANCELLED] == frozenset()
    assert P.CANCELLED not in TRANSITIONS[P.PARTIALLY_RECEIVED]  # goods arrived: no cancelling


@pytest.mark.parametrize(
    ("needed", "pack", "moq", "expected"),
    [
        (0, 12, 24, 0),
        (-5, 12, 24, 0),
        (1, 12, 24, 24),  # the minimum order
        (25, 12, 24, 36),  # whole packs
        (36, 12, 24, 36),
        (36.2, 12, 24, 48),
        (5, 10, 15, 20),  # the minimum rounded up to whole packs
        (7, 1, 1, 7),
    ],
)
def test_the_order_quantity_is_whole_packs_and_at_least_the_minimum(
    needed: float, pack: int, moq: int, expected: int
) -> None:
    assert order_quantity(needed, pack, moq) == expected
