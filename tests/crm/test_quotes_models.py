"""The pure rules of quotes (CRM-6, CAT-2): the approval-needed rule (band floor, authority, both,
neither), prices after discount and totals to the fen, the TRANSITIONS table, contract numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shopflow.core.errors import InvalidTransition
from shopflow.crm.quotes.models import (
    TRANSITIONS,
    Priced,
    Quote,
    QuoteState,
    approval_needed,
    contract_no,
    net_unit_price,
    totals,
)

Q = QuoteState
AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def line(unit_price: int, discount_bp: int = 0, list_price: int = 10000, floor: float = 80.0) -> Priced:
    return Priced("SKU-1", 2, unit_price, discount_bp, list_price, "profit", floor)


@pytest.mark.parametrize(
    ("lines", "authority", "reasons", "percent"),
    [
        # neither: 4% off list, above the 80% floor, within 5%
        ([line(10000, 400)], 5.0, [], 4.0),
        # authority only: 15% off is above the 60% floor of a traffic-band line, beyond 5%
        (
            [line(10000, 1500, floor=60.0)],
            5.0,
            ["line 1 SKU-1: 15% off list exceeds the sales authority of 5%"],
            15.0,
        ),
        # floor only: a manager's 25% is within 30%, but 75.00 is below 80.00
        (
            [line(10000, 2500)],
            30.0,
            ["line 1 SKU-1: 75.00 is below the profit band's floor 80.00 (80% of 100.00)"],
            25.0,
        ),
        # both, on the second line only; the price quoted below list counts as a discount
        (
            [line(10000), line(7000)],
            5.0,
            [
                "line 2 SKU-1: 70.00 is below the profit band's floor 80.00 (80% of 100.00)",
                "line 2 SKU-1: 30% off list exceeds the sales authority of 5%",
            ],
            30.0,
        ),
        # a price above list is no discount at all
        ([line(12000, 1000)], 0.0, [], 0.0),
    ],
)
def test_approval_is_needed_below_the_band_floor_or_beyond_the_role_authority(
    lines: list[Priced], authority: float, reasons: list[str], percent: float
) -> None:
    needed = approval_needed(lines, "sales", authority)
    assert list(needed.reasons) == reasons
    assert needed.discount_percent == percent


def test_prices_after_discount_round_half_up_to_the_fen_and_totals_add_up() -> None:
    assert net_unit_price(9900, 2500) == 7425
    assert net_unit_price(999, 1250) == 874  # 874.125
    assert net_unit_price(1001, 5000) == 501  # 500.5 rounds up
    priced = [line(9900, 2500), line(999, 1250)]
    sums = totals(priced)
    assert (sums.subtotal, sums.total) == (2 * 9900 + 2 * 999, 2 * 7425 + 2 * 874)
    assert sums.discount == sums.subtotal - sums.total


def test_the_floor_is_rounded_up_to_the_fen() -> None:
    assert line(0, list_price=9999, floor=80.0).floor == 8000  # 7999.2 -> 8000


def test_only_an_approved_quote_is_sent_and_answers_end_it() -> None:
    quote = Quote(state=Q.DRAFT)
    with pytest.raises(InvalidTransition):
        quote.move_to(Q.SENT, AT)
    quote.move_to(Q.PENDING_APPROVAL, AT)
    quote.move_to(Q.APPROVED, AT)
    quote.move_to(Q.SENT, AT)
    quote.move_to(Q.ACCEPTED, AT)
    assert (quote.submitted_at, quote.approved_at, quote.sent_at, quote.answered_at) == (AT, AT, AT, AT)
    assert all(TRANSITIONS[end] == frozenset() for end in (Q.ACCEPTED, Q.REJECTED, Q.EXPIRED))
    assert {s for s, targets in TRANSITIONS.items() if Q.SENT in targets} == {Q.APPROVED}


def test_contract_numbers_run_per_day() -> None:
    assert contract_no(date(2026, 12, 7), 1) == "HT202612070001"
    assert contract_no(date(2026, 12, 31), 42) == "HT202612310042"
