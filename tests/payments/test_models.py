"""Payment rules without a database: the payment states' TRANSITIONS table (PAY-1, PAY-2)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.payments.models import TRANSITIONS, Payment, PaymentStatus
from tests.builders.transitions import assert_refused, reachable_from, terminal

P = PaymentStatus
AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)

# The gateway settles a pending payment either way (PAY-1). A success may still follow a failure:
# the sandbox, like a real gateway, delivers callbacks out of order, and captured money is
# captured. Nothing leaves success, and a repeated callback moves nothing (PAY-2).
EXPECTED: dict[PaymentStatus, set[PaymentStatus]] = {
    P.PENDING: {P.SUCCEEDED, P.FAILED},
    P.FAILED: {P.SUCCEEDED},
    P.SUCCEEDED: set(),
}


def test_every_status_has_a_row_and_every_target_is_a_status() -> None:
    assert set(TRANSITIONS) == set(PaymentStatus) == set(EXPECTED)
    for targets in TRANSITIONS.values():
        assert targets <= set(PaymentStatus)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(PaymentStatus, repeat=2)))
def test_a_step_is_allowed_exactly_when_listed_and_a_refused_one_changes_nothing(
    current: PaymentStatus, target: PaymentStatus
) -> None:
    allowed = target in EXPECTED[current]
    assert (target in TRANSITIONS[current]) is allowed
    payment = Payment(status=current, updated_at=AT)
    assert payment.can_move_to(target) is allowed
    if allowed:
        payment.move_to(target, LATER)
        assert (payment.status, payment.updated_at) == (target, LATER)
        return
    assert_refused(lambda: payment.move_to(target, LATER), current, target)
    assert (payment.status, payment.updated_at) == (current, AT)


def test_every_status_is_reachable_from_pending_and_every_run_can_end_in_success() -> None:
    assert reachable_from(TRANSITIONS, P.PENDING) == set(PaymentStatus)
    assert terminal(TRANSITIONS) == {P.SUCCEEDED}
    for status in PaymentStatus:
        assert P.SUCCEEDED in reachable_from(TRANSITIONS, status), status
