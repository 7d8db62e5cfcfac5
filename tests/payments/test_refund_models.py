"""Refund rules without a database (PAY-3): the refund states' TRANSITIONS table, which states hold
a reservation, and what a gateway callback does to a refund."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.payments.models import (
    REFUND_TRANSITIONS,
    RESERVING,
    Refund,
    RefundCallbackResult,
    RefundStatus,
    refund_callback_result,
)
from tests.builders.transitions import assert_refused, reachable_from, terminal

R = RefundStatus
C = RefundCallbackResult
AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)

# Reserved, a refund goes to the gateway (pending) or fails there at once; a success callback that
# beats the gateway's own answer settles it at once. The gateway settles a pending one either way.
# A failed one is retried under its key (requested, reserved again) or settled by a success that
# arrives after the time-out that failed it. Nothing leaves success.
EXPECTED: dict[RefundStatus, set[RefundStatus]] = {
    R.REQUESTED: {R.PENDING, R.FAILED, R.SUCCEEDED},
    R.PENDING: {R.SUCCEEDED, R.FAILED},
    R.FAILED: {R.REQUESTED, R.SUCCEEDED},
    R.SUCCEEDED: set(),
}


def test_every_status_has_a_row_and_only_a_failed_refund_holds_no_reservation() -> None:
    assert set(REFUND_TRANSITIONS) == set(RefundStatus) == set(EXPECTED)
    assert set(RefundStatus) - RESERVING == {R.FAILED}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(RefundStatus, repeat=2)))
def test_a_step_is_allowed_exactly_when_listed_and_a_refused_one_changes_nothing(
    current: RefundStatus, target: RefundStatus
) -> None:
    allowed = target in EXPECTED[current]
    assert (target in REFUND_TRANSITIONS[current]) is allowed
    refund = Refund(status=current, updated_at=AT)
    assert refund.can_move_to(target) is allowed
    if allowed:
        refund.move_to(target, LATER)
        assert (refund.status, refund.updated_at) == (target, LATER)
        return
    assert_refused(lambda: refund.move_to(target, LATER), current, target)
    assert (refund.status, refund.updated_at) == (current, AT)


def test_every_refund_can_still_end_in_success_and_success_is_final() -> None:
    assert reachable_from(REFUND_TRANSITIONS, R.REQUESTED) == set(RefundStatus)
    assert terminal(REFUND_TRANSITIONS) == {R.SUCCEEDED}


def test_a_settled_refund_keeps_its_time_and_a_submitted_one_its_reference() -> None:
    refund = Refund(status=R.REQUESTED, updated_at=AT, failure=None)
    refund.submitted("sbr_1", AT)
    assert (refund.status, refund.provider_reference) == (R.PENDING, "sbr_1")
    refund.fail("gateway: no answer", LATER)
    assert (refund.status, refund.failure) == (R.FAILED, "gateway: no answer")
    refund.succeed(LATER)
    assert (refund.status, refund.failure, refund.settled_at) == (R.SUCCEEDED, None, LATER)


# What a verified callback (outcome, amount) does to a refund of 10.00 in each status.
CALLBACKS = [
    (R.PENDING, "succeeded", 1000, C.APPLIED),
    (R.PENDING, "failed", 1000, C.APPLIED),
    (R.REQUESTED, "succeeded", 1000, C.APPLIED),  # the callback beat the gateway's own answer
    (R.FAILED, "succeeded", 1000, C.APPLIED),  # after a time-out: the money did leave
    (R.FAILED, "failed", 1000, C.IGNORED),
    (R.SUCCEEDED, "succeeded", 1000, C.IGNORED),  # a repeat of the settled outcome
    (R.SUCCEEDED, "failed", 1000, C.REFUSED),  # out of order: the money left, refused and recorded
    (R.PENDING, "succeeded", 999, C.AMOUNT_MISMATCH),
    (R.SUCCEEDED, "failed", 1001, C.AMOUNT_MISMATCH),
]


@pytest.mark.parametrize(("status", "outcome", "amount", "expected"), CALLBACKS)
def test_a_callback_is_applied_ignored_or_refused_by_the_refund_status(
    status: RefundStatus, outcome: str, amount: int, expected: RefundCallbackResult
) -> None:
    assert refund_callback_result(Refund(status=status, amount=1000), outcome, amount) is expected
