"""NTF-1 rules without a database: event filters, back-off, a delivery's states, the notice texts."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.core import policy
from shopflow.core.errors import InvalidTransition
from shopflow.notify.models import (
    CUSTOMER_EVENTS,
    TRANSITIONS,
    Delivery,
    DeliveryState,
    Outcome,
    backoff,
    matches,
)
from shopflow.notify.render import LANGUAGES, Facts, render
from tests.builders.transitions import assert_refused, reachable_from, terminal

AT = datetime(2030, 3, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
PARCELS = [
    {
        "carrier": "SF",
        "carrier_name": "顺丰速运",
        "tracking_no": "SF1234567890",
        "tracking_url": "https://t.example.cn/SF1234567890",
    },
    {"carrier": "中通快递", "tracking_no": "ZT77", "tracking_url": "https://t.example.cn/ZT77?a=1&b=2"},
]


def facts(**overrides: object) -> Facts:
    values: dict[str, object] = {
        "store": "好物小店",
        "customer_name": "张三",
        "order_no": "SF3003010000000042",
        "total": 19800,
        "timezone": "Asia/Shanghai",
        "ship_by": AT + timedelta(hours=48),
    }
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


def pending() -> Delivery:
    return Delivery(state=DeliveryState.PENDING, failures=0, next_attempt_at=AT)


@pytest.mark.parametrize(
    ("patterns", "event", "wanted"),
    [
        (["*"], "payment.refund_requested", True),
        (["order.shipped"], "order.shipped", True),
        (["order.shipped"], "order.paid", False),
        (["order.*"], "order.paid", True),
        (["order.*"], "orders.paid", False),
        (["order.*"], "payment.refund_requested", False),
        (["payment.*", "order.cancelled"], "order.cancelled", True),
    ],
)
def test_a_subscriber_gets_the_events_its_filter_names(patterns: list[str], event: str, wanted: bool) -> None:
    assert matches(patterns, event) is wanted


def test_the_back_off_doubles_from_the_policy_base() -> None:
    assert [backoff(n, 30).total_seconds() for n in range(1, 6)] == [30, 60, 120, 240, 480]


def test_a_failure_below_the_limit_is_retried_after_the_back_off() -> None:
    delivery = pending()
    delivery.record(
        Outcome(ok=False, status_code=503, error="HTTP 503"), AT, max_attempts=3, backoff_seconds=30
    )
    assert (delivery.state, delivery.failures, delivery.last_error) == ("pending", 1, "HTTP 503")
    assert delivery.next_attempt_at == AT + timedelta(seconds=30)
    delivery.record(Outcome(ok=False, error="ConnectError: refused"), AT, max_attempts=3, backoff_seconds=30)
    assert delivery.next_attempt_at == AT + timedelta(seconds=60)


def test_the_nth_failure_is_a_dead_letter_and_only_a_requeue_revives_it() -> None:
    delivery = pending()
    for _ in range(3):
        delivery.record(Outcome(ok=False, status_code=500), AT, max_attempts=3, backoff_seconds=30)
    assert (delivery.state, delivery.failures, delivery.dead_at) == ("dead", 3, AT)
    with pytest.raises(InvalidTransition):
        delivery.record(Outcome(ok=True, status_code=200), AT, max_attempts=3, backoff_seconds=30)

    later = AT + timedelta(hours=1)
    delivery.requeue(later)
    assert (delivery.state, delivery.failures, delivery.next_attempt_at, delivery.dead_at) == (
        "pending",
        0,
        later,
        None,
    )


def test_a_final_failure_is_dead_at_once() -> None:
    delivery = pending()
    delivery.record(Outcome(ok=False, error="the webhook was deleted", final=True), AT, 6, 30)
    assert (delivery.state, delivery.failures) == ("dead", 1)


def test_a_delivered_delivery_is_never_sent_or_requeued_again() -> None:
    delivery = pending()
    delivery.record(Outcome(ok=True, status_code=204), AT, 6, 30)
    assert (delivery.state, delivery.delivered_at) == ("delivered", AT)
    with pytest.raises(InvalidTransition):
        delivery.requeue(AT)
    with pytest.raises(InvalidTransition):
        pending().requeue(AT)  # a pending one is already queued


# --- the TRANSITIONS table of a delivery (NTF-1) ---------------------------------------------

D = DeliveryState
# NTF-1: the worker delivers with retries: a pending delivery is delivered, or dead once its
# attempts run out (or its webhook is gone); a failure below the limit stays pending (no step).
# Only a person sends a dead delivery again; a delivered one is done.
EXPECTED: dict[DeliveryState, set[DeliveryState]] = {
    D.PENDING: {D.DELIVERED, D.DEAD},
    D.DEAD: {D.PENDING},
    D.DELIVERED: set(),
}
# The one way a delivery reaches each state.
ARRIVALS: dict[DeliveryState, Callable[[Delivery], None]] = {
    D.DELIVERED: lambda d: d.record(Outcome(ok=True, status_code=204), AT, 6, 30),
    D.DEAD: lambda d: d.record(Outcome(ok=False, error="the webhook was deleted", final=True), AT, 6, 30),
    D.PENDING: lambda d: d.requeue(AT),
}


def test_every_delivery_state_has_a_row_and_a_way_in() -> None:
    assert set(TRANSITIONS) == set(DeliveryState) == set(EXPECTED) == set(ARRIVALS)
    for targets in TRANSITIONS.values():
        assert targets <= set(DeliveryState)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(DeliveryState, repeat=2)))
def test_a_delivery_steps_exactly_where_the_table_lists_and_a_refused_step_keeps_its_state(
    current: DeliveryState, target: DeliveryState
) -> None:
    allowed = target in EXPECTED[current]
    assert (target in TRANSITIONS[current]) is allowed
    delivery = Delivery(state=current, failures=0, next_attempt_at=AT)
    if allowed:
        ARRIVALS[target](delivery)
        assert delivery.state == target
        return
    assert_refused(lambda: ARRIVALS[target](delivery), current, target)
    assert delivery.state == current


def test_every_delivery_state_is_reachable_from_pending_and_can_end_delivered() -> None:
    assert reachable_from(TRANSITIONS, D.PENDING) == set(DeliveryState)
    assert terminal(TRANSITIONS) == {D.DELIVERED}
    for state in DeliveryState:
        assert D.DELIVERED in reachable_from(TRANSITIONS, state), state


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", sorted(CUSTOMER_EVENTS))
def test_every_customer_event_has_a_notice_in_each_language(language: str, event: str) -> None:
    notice = render(language, event, facts(reason="stock_shortage", parcels=PARCELS))
    for part in (notice.subject, notice.text, notice.html, notice.sms):
        assert "SF3003010000000042" in part
        assert "$" not in part  # every placeholder was filled
    assert "好物小店" in notice.subject and "好物小店" in notice.sms


def test_the_chinese_confirmation_states_the_expected_ship_time_in_the_stores_zone() -> None:
    notice = render("zh_CN", "order.confirmed", facts())
    assert notice.subject == "【好物小店】订单 SF3003010000000042 已确认"
    assert "2030-03-03 09:00" in notice.text and "2030-03-03 09:00" in notice.sms
    assert "¥198.00" in notice.text


def test_the_english_confirmation_says_the_same() -> None:
    notice = render("en", "order.confirmed", facts())
    assert notice.subject == "[好物小店] Order SF3003010000000042 is confirmed"
    assert "Expected to ship by 2030-03-03 09:00" in notice.text


def test_the_shipping_notice_names_each_parcels_carrier_tracking_number_and_link() -> None:
    notice = render("zh_CN", "order.shipped", facts(parcels=PARCELS))
    assert "顺丰速运　运单号：SF1234567890" in notice.text  # the carrier's name, not its code
    for carrier, parcel in zip(("顺丰速运", "中通快递"), PARCELS, strict=True):
        for part in (notice.text, notice.sms):
            assert carrier in part and parcel["tracking_no"] in part and parcel["tracking_url"] in part
    assert '<a href="https://t.example.cn/ZT77?a=1&amp;b=2">' in notice.html


def test_values_are_escaped_in_html_but_kept_in_plain_text() -> None:
    notice = render("zh_CN", "order.delivered", facts(customer_name="<b>李四</b>"))
    assert "&lt;b&gt;李四&lt;/b&gt;" in notice.html and "<b>李四</b>" not in notice.html
    assert notice.text.startswith("<b>李四</b>，您好")


def test_a_cancellation_reason_the_customer_has_no_text_for_is_not_shown_verbatim() -> None:
    known = render("zh_CN", "order.cancelled", facts(reason="unpaid_timeout"))
    assert "订单超时未支付" in known.sms
    staff_note = render("zh_CN", "order.cancelled", facts(reason="buyer is a known fraudster"))
    assert "fraudster" not in staff_note.text and "订单无法继续处理" in staff_note.text


def test_the_notify_policy_is_validated_by_key() -> None:
    overridden = policy.validate({"notify": {"language": "en", "max_attempts": 3, "backoff_seconds": 10}})
    assert (overridden.notify.language, overridden.notify.max_attempts) == ("en", 3)
    with pytest.raises(policy.PolicyError) as raised:
        policy.validate({"notify": {"language": "fr", "max_attempts": 0}})
    assert {e.field for e in raised.value.errors} == {"notify.language", "notify.max_attempts"}
