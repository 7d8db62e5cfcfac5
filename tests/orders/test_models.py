"""Order rules without a database: the ORD-3 table, holds, intake checks (ORD-2), totals (FUL-3)."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shopflow.core.errors import FieldError, InvalidTransition
from shopflow.core.policy import Orders
from shopflow.orders.models import (
    HOLDABLE,
    TRANSITIONS,
    HoldReason,
    LineRequest,
    Order,
    OrderStatus,
    PaymentTerms,
    SkuFacts,
    checked,
    intake_errors,
    is_email,
    mobile,
    new_order_row,
    order_of_subject,
    order_subject,
    totals,
)
from tests.builders.transitions import assert_refused

S = OrderStatus
AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MAIN_LINE = [
    S.PENDING,
    S.CONFIRMED,
    S.PAID,
    S.PICKING,
    S.PACKED,
    S.SHIPPED,
    S.DELIVERED,
    S.COMPLETED,
    S.CLOSED,
]


def order_in(
    status: OrderStatus, held_from: OrderStatus | None = None, paid_at: datetime | None = None
) -> Order:
    return Order(status=status, held_from=held_from, paid_at=paid_at, updated_at=AT - timedelta(hours=1))


def reachable_from(start: OrderStatus) -> set[OrderStatus]:
    seen, queue = {start}, deque([start])
    while queue:
        for target in TRANSITIONS[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


# --- the TRANSITIONS table (ORD-3) ----------------------------------------------------------


def test_every_status_has_a_row_and_every_target_is_a_status() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    for targets in TRANSITIONS.values():
        assert targets <= set(OrderStatus)


def test_no_status_moves_to_itself() -> None:
    assert [s for s, targets in TRANSITIONS.items() if s in targets] == []


def test_every_status_is_reachable_from_pending() -> None:
    assert reachable_from(S.PENDING) == set(OrderStatus)


def test_closed_and_cancelled_are_terminal_and_every_other_status_can_reach_one() -> None:
    assert TRANSITIONS[S.CLOSED] == frozenset() and TRANSITIONS[S.CANCELLED] == frozenset()
    for status in set(OrderStatus) - {S.CLOSED, S.CANCELLED}:
        assert reachable_from(status) & {S.CLOSED, S.CANCELLED}, status


def test_the_main_line_is_allowed_step_by_step() -> None:
    for current, target in itertools.pairwise(MAIN_LINE):
        assert checked(current, target) is target


def test_no_main_line_step_can_be_skipped_or_reversed() -> None:
    for i, current in enumerate(MAIN_LINE):
        for j, target in enumerate(MAIN_LINE):
            allowed = (
                j == i + 1
                or (current is S.PACKED and target is S.PICKING)  # FUL-2 QC failure
                or (current is S.CONFIRMED and target is S.PICKING)  # ORD-5: on credit only, below
            )
            assert (target in TRANSITIONS[current]) is allowed, (current, target)


def test_an_order_on_credit_counts_from_its_confirmation_a_prepaid_one_from_its_payment() -> None:
    paid = AT + timedelta(hours=1)
    assert Order(payment_terms=PaymentTerms.NET30, confirmed_at=AT, paid_at=None).counted_at == AT
    assert Order(payment_terms=None, confirmed_at=AT, paid_at=None).counted_at is None
    assert Order(payment_terms=PaymentTerms.PREPAID, confirmed_at=AT, paid_at=paid).counted_at == paid


@pytest.mark.parametrize(
    ("terms", "pickable"),
    [(None, False), (PaymentTerms.PREPAID, False), (PaymentTerms.NET30, True), (PaymentTerms.NET60, True)],
)
def test_only_an_order_on_credit_is_picked_unpaid(terms: PaymentTerms | None, pickable: bool) -> None:
    order = Order(status=S.CONFIRMED, payment_terms=terms, updated_at=AT)
    assert order.can_move_to(S.PICKING) is pickable
    if not pickable:
        with pytest.raises(InvalidTransition):
            order.start_picking(AT)


def test_cancel_only_before_picking() -> None:
    cancellable = {s for s, targets in TRANSITIONS.items() if S.CANCELLED in targets}
    assert cancellable == {S.PENDING, S.CONFIRMED, S.PAID, S.ON_HOLD}


@pytest.mark.parametrize("current", list(OrderStatus))
def test_a_refused_step_raises_409_naming_both_states(current: OrderStatus) -> None:
    for target in set(OrderStatus) - TRANSITIONS[current]:
        with pytest.raises(InvalidTransition) as refused:
            checked(current, target)
        assert refused.value.status == 409
        assert (refused.value.current, refused.value.target) == (current, target)


# --- model methods --------------------------------------------------------------------------


def test_move_to_changes_status_and_time_and_returns_the_status_left() -> None:
    order = order_in(S.CONFIRMED)
    assert order.move_to(S.PAID, AT) is S.CONFIRMED
    assert (order.status, order.updated_at) == (S.PAID, AT)


def test_a_refused_move_changes_nothing() -> None:
    order = order_in(S.PICKING)
    before = order.updated_at
    with pytest.raises(InvalidTransition):
        order.move_to(S.CANCELLED, AT)
    assert (order.status, order.updated_at) == (S.PICKING, before)


@pytest.mark.parametrize("start", sorted(HOLDABLE))
@pytest.mark.parametrize("reason", list(HoldReason))
def test_a_hold_returns_to_the_state_it_left(start: OrderStatus, reason: HoldReason) -> None:
    order = order_in(start)

    assert order.hold(reason, AT) is start
    assert (order.status, order.held_from, order.hold_reason) == (S.ON_HOLD, start, reason)

    later = AT + timedelta(minutes=5)
    assert order.release(later) is S.ON_HOLD
    assert (order.status, order.held_from, order.hold_reason, order.updated_at) == (start, None, None, later)


@pytest.mark.parametrize("status", sorted(set(OrderStatus) - HOLDABLE))
def test_only_pending_confirmed_and_paid_orders_can_be_held(status: OrderStatus) -> None:
    order = order_in(status)
    with pytest.raises(InvalidTransition):
        order.hold(HoldReason.MANUAL, AT)
    assert (order.status, order.held_from, order.hold_reason) == (status, None, None)


@pytest.mark.parametrize("status", sorted(set(OrderStatus) - {S.ON_HOLD}))
def test_release_of_an_order_that_is_not_held_is_refused(status: OrderStatus) -> None:
    order = order_in(status)
    with pytest.raises(InvalidTransition):
        order.release(AT)
    assert order.status == status


@pytest.mark.parametrize("held_from", sorted(HOLDABLE))
def test_a_held_order_leaves_only_by_release_or_cancel(held_from: OrderStatus) -> None:
    """No step may skip the release: not even back to where it was (that would keep the hold
    reason), and never onward (a payment keeps the hold: `Order.pay`)."""
    for target in set(OrderStatus) - {S.CANCELLED}:
        order = order_in(S.ON_HOLD, held_from)
        assert not order.can_move_to(target)
        with pytest.raises(InvalidTransition):
            order.move_to(target, AT)
        assert (order.status, order.held_from) == (S.ON_HOLD, held_from)
    assert order_in(S.ON_HOLD, held_from).move_to(S.CANCELLED, AT) is S.ON_HOLD


@pytest.mark.parametrize("current", sorted(set(OrderStatus) - {S.ON_HOLD}))
def test_outside_a_hold_the_order_follows_the_table(current: OrderStatus) -> None:
    order = order_in(current)
    on_credit_only = {S.PICKING} if current is S.CONFIRMED else set()  # ORD-5
    assert {t for t in OrderStatus if order.can_move_to(t)} == TRANSITIONS[current] - on_credit_only


# Each step's method: the status it starts from, the status it reaches, the time it stamps.
STEPS = [
    (Order.confirm, S.PENDING, S.CONFIRMED, "confirmed_at"),
    (Order.pay, S.CONFIRMED, S.PAID, "paid_at"),
    (Order.start_picking, S.PAID, S.PICKING, None),
    (Order.pack, S.PICKING, S.PACKED, None),
    (Order.start_picking, S.PACKED, S.PICKING, None),  # FUL-2: back after a failed check
    (Order.ship, S.PACKED, S.SHIPPED, "shipped_at"),
    (Order.deliver, S.SHIPPED, S.DELIVERED, "delivered_at"),
    (Order.complete, S.DELIVERED, S.COMPLETED, "completed_at"),
    (Order.close, S.COMPLETED, S.CLOSED, "closed_at"),
]
STAMPS = ["confirmed_at", "paid_at", "shipped_at", "delivered_at", "completed_at", "closed_at"]


@pytest.mark.parametrize(("step", "start", "target", "stamp"), STEPS)
def test_each_step_sets_its_status_time_and_stamp_and_returns_the_status_left(
    step: Callable[[Order, datetime], OrderStatus], start: OrderStatus, target: OrderStatus, stamp: str | None
) -> None:
    order = order_in(start)
    assert step(order, AT) is start
    assert (order.status, order.updated_at) == (target, AT)
    assert {name: getattr(order, name) for name in STAMPS} == {
        name: AT if name == stamp else None for name in STAMPS
    }


@pytest.mark.parametrize(("step", "start", "target", "stamp"), STEPS)
def test_a_step_from_anywhere_the_table_refuses_changes_nothing(
    step: Callable[[Order, datetime], OrderStatus], start: OrderStatus, target: OrderStatus, stamp: str | None
) -> None:
    for current in set(OrderStatus) - {start}:
        # An order held from `paid` is paid: it takes no second payment (`Order.pay`).
        order = (
            order_in(current, S.PAID, AT - timedelta(days=1)) if current is S.ON_HOLD else order_in(current)
        )
        if order.can_move_to(target):
            continue
        before = order.updated_at
        stamps = {name: getattr(order, name) for name in STAMPS}
        with pytest.raises(InvalidTransition):
            step(order, AT)
        assert (order.status, order.updated_at) == (current, before)
        assert {name: getattr(order, name) for name in STAMPS} == stamps


# --- a payment during a hold (ORD-3) ----------------------------------------------------------


@pytest.mark.parametrize("current", sorted(set(OrderStatus) - {S.ON_HOLD}))
def test_outside_a_hold_only_a_confirmed_order_takes_a_payment(current: OrderStatus) -> None:
    assert order_in(current).can_take_payment() is (current is S.CONFIRMED)


@pytest.mark.parametrize("held_from", [S.PENDING, S.CONFIRMED])
@pytest.mark.parametrize("reason", list(HoldReason))
def test_a_payment_during_a_hold_is_kept_the_order_stays_held_and_its_release_makes_it_paid(
    held_from: OrderStatus, reason: HoldReason
) -> None:
    order = order_in(held_from)
    confirmed = AT - timedelta(hours=1) if held_from is S.CONFIRMED else None
    order.confirmed_at = confirmed
    order.hold(reason, AT)
    assert order.can_take_payment() and not order.paid_on_hold

    assert order.pay(AT) is S.ON_HOLD
    assert (order.status, order.held_from, order.hold_reason, order.paid_at) == (
        S.ON_HOLD,
        held_from,
        reason,
        AT,
    )
    assert order.paid_on_hold and not order.can_take_payment()
    assert_refused(lambda: order.pay(AT), S.ON_HOLD, S.PAID)  # money captured twice is not a payment

    later = AT + timedelta(hours=2)
    assert order.release(later) is S.ON_HOLD
    assert S.PAID in TRANSITIONS[S.ON_HOLD]  # the step the release takes is the table's
    assert (order.status, order.held_from, order.hold_reason, order.paid_at) == (S.PAID, None, None, AT)
    # Held at intake (never confirmed), it is confirmed by the release that makes it paid.
    assert order.confirmed_at == (later if held_from is S.PENDING else confirmed)


def test_an_order_held_after_payment_takes_no_second_one_and_is_released_paid() -> None:
    order = order_in(S.PAID, paid_at=AT)
    order.hold(HoldReason.RISK_REVIEW, AT)
    assert order.paid_on_hold and not order.can_take_payment()
    assert_refused(lambda: order.pay(AT), S.ON_HOLD, S.PAID)
    order.release(AT)
    assert (order.status, order.paid_at) == (S.PAID, AT)


# --- a new order's row (ORD-4) ----------------------------------------------------------------

INTAKE = {"channel": "web", "total": 9900}


def test_a_new_order_is_stored_confirmed_at_intake() -> None:
    assert new_order_row(INTAKE, AT) == {
        **INTAKE,
        "status": S.CONFIRMED,
        "created_at": AT,
        "updated_at": AT,
        "confirmed_at": AT,
    }


def test_a_new_order_short_of_stock_is_stored_held_from_pending_and_never_confirmed() -> None:
    held = new_order_row(INTAKE, AT, held_for=HoldReason.STOCK_SHORTAGE)
    assert held == {
        **INTAKE,
        "status": S.ON_HOLD,
        "held_from": S.PENDING,
        "hold_reason": HoldReason.STOCK_SHORTAGE,
        "created_at": AT,
        "updated_at": AT,
        "confirmed_at": None,
    }
    order = Order(**held)
    order.release(AT)  # the hold ends back in pending, as any hold of a pending order does
    assert order.status == S.PENDING


def test_an_orders_subject_names_it_and_gives_it_back() -> None:
    assert order_subject(42) == "order:42"
    assert order_of_subject(order_subject(42)) == 42


# --- intake rules (ORD-2) -------------------------------------------------------------------

SKUS = {
    "SKU-1": SkuFacts(id=1, name="杯子", price=9900, sellable=True),
    "SKU-2": SkuFacts(id=2, name="旧款", price=4550, sellable=False),
}
CUSTOMER = {"name": "张三", "phone": "13800138000"}
ADDRESS = {
    "name": "张三",
    "phone": "13800138000",
    "province": "上海",
    "city": "上海市",
    "district": "浦东新区",
    "street": "世纪大道100号",
    "postcode": "200120",
}
ONE_LINE = [LineRequest("SKU-1", 1, 9900)]


RULES = Orders()


def fields(errors: list[FieldError]) -> list[str]:
    return [e.field for e in errors]


def check(
    customer: dict[str, str] = CUSTOMER,
    address: dict[str, str] = ADDRESS,
    lines: list[LineRequest] = ONE_LINE,
    skus: dict[str, SkuFacts] = SKUS,
    *,
    channel: str = "web",
    rules: Orders = RULES,
) -> list[FieldError]:
    return intake_errors(channel, customer, address, lines, skus, rules)


def test_a_valid_order_has_no_errors() -> None:
    assert check() == []


def test_only_an_after_sales_exchange_places_orders_of_the_exchange_channel() -> None:
    # An order placed on the exchange channel from outside would be paid and counted as a sale.
    [refused] = check(channel="exchange")
    assert (refused.field, refused.message) == (
        "channel",
        "only an after-sales exchange places orders of the exchange channel",
    )
    free = [LineRequest("SKU-1", 1, 0)]
    assert intake_errors("exchange", CUSTOMER, ADDRESS, free, SKUS, RULES, replacement=True) == []
    assert fields(intake_errors("web", CUSTOMER, ADDRESS, free, SKUS, RULES, replacement=True)) == ["channel"]


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("13800138000", True),
        ("19912345678", True),
        ("1380013800", False),
        ("138001380001", False),
        ("23800138000", False),
        ("1380013800x", False),
        (" 13800138000", False),
        ("13800138000\n", False),
        ("１３８００１３８０００", False),
        ("", False),
    ],
)
def test_customer_phone_must_be_a_mainland_mobile(phone: str, ok: bool) -> None:
    errors = check({**CUSTOMER, "phone": phone})
    assert fields(errors) == ([] if ok else ["customer.phone"])


@pytest.mark.parametrize(
    ("postcode", "ok"),
    [("200120", True), ("20012", False), ("2001200", False), ("20012a", False), ("２００１２０", False)],
)
def test_postcode_must_be_six_digits(postcode: str, ok: bool) -> None:
    errors = check(address={**ADDRESS, "postcode": postcode})
    assert fields(errors) == ([] if ok else ["shipping_address.postcode"])


@pytest.mark.parametrize("part", ["name", "phone", "province", "city", "district", "street", "postcode"])
@pytest.mark.parametrize("blank", ["", "   "])
def test_every_address_part_is_required(part: str, blank: str) -> None:
    errors = check(address={**ADDRESS, part: blank})
    assert fields(errors) == [f"shipping_address.{part}"]


def test_a_missing_address_names_every_part_and_the_customer_name_is_required() -> None:
    errors = check({"phone": "13800138000"}, {})
    assert fields(errors) == ["customer.name"] + [
        f"shipping_address.{p}"
        for p in ("name", "phone", "province", "city", "district", "street", "postcode")
    ]


def test_line_errors_name_the_line_and_the_field() -> None:
    lines = [
        LineRequest("SKU-1", 0, 9900),
        LineRequest("SKU-1", -3, 9900),
        LineRequest("NOPE", 1, 100),
        LineRequest("SKU-2", 1, 4550),
        LineRequest("SKU-1", 1, 9800),
        LineRequest("SKU-1", 2, 9900),
    ]
    errors = check(lines=lines)
    assert fields(errors) == [
        "lines[0].quantity",
        "lines[1].quantity",
        "lines[2].sku",
        "lines[3].sku",
        "lines[4].unit_price",
    ]
    by_field = {e.field: e.message for e in errors}
    assert "NOPE" in by_field["lines[2].sku"]
    assert "not for sale" in by_field["lines[3].sku"]
    assert "99.00" in by_field["lines[4].unit_price"]  # the current price, so the caller can fix it


def test_a_line_may_hold_up_to_the_policys_quantity_ceiling() -> None:
    lines = [LineRequest("SKU-1", 999, 9900), LineRequest("SKU-1", 1000, 9900)]
    errors = check(lines=lines, rules=Orders(max_order_value="10000000.00"))
    assert [(e.field, e.message) for e in errors] == [("lines[1].quantity", "must be at most 999")]
    assert check(lines=lines, rules=Orders(max_line_quantity=1000, max_order_value="10000000.00")) == []


def test_goods_worth_more_than_the_policys_order_value_ceiling_are_refused() -> None:
    # ¥500,000 by default: 50 mugs at ¥9,999.99 and one at ¥0.50 make ¥500,000.00, one fen more is over.
    dear = {**SKUS, "DEAR": SkuFacts(id=7, name="金杯", price=999999, sellable=True)}
    dear["HALF"] = SkuFacts(id=8, name="贴纸", price=50, sellable=True)
    at_ceiling = [LineRequest("DEAR", 50, 999999), LineRequest("HALF", 1, 50)]
    assert check(lines=at_ceiling, skus=dear) == []
    errors = check(lines=[*at_ceiling, LineRequest("HALF", 1, 50)], skus=dear)
    assert fields(errors) == ["lines"]
    assert "500000.50" in errors[0].message and "500000.00" in errors[0].message


def test_a_million_mugs_are_refused_for_quantity_and_value_together() -> None:
    errors = check(lines=[LineRequest("SKU-1", 1_000_000, 9900)])
    assert fields(errors) == ["lines[0].quantity", "lines"]


@pytest.mark.parametrize(
    ("channel", "ok"),
    [
        ("web", True),
        ("manual", True),
        ("exchange", False),  # only an after-sales exchange places these (ASV-6)
        ("import", True),
        ("taobao", False),
        ("WEB", False),
    ],
)
def test_the_channel_is_one_of_the_policys(channel: str, ok: bool) -> None:
    assert fields(check(channel=channel)) == ([] if ok else ["channel"])


def test_a_channel_the_store_adds_is_accepted_beside_the_built_in_ones() -> None:
    store = Orders(channels=("taobao", "jd", "douyin"))
    assert store.channels == ("web", "manual", "exchange", "import", "taobao", "jd", "douyin")
    assert check(channel="taobao", rules=store) == []
    [error] = check(channel="kuaishou", rules=store)
    assert error.field == "channel" and "taobao" in error.message


@pytest.mark.parametrize(
    "email",
    [
        "zhang@example.cn",
        "zhang.san+shop@mail.qq.com",
        "li_si-1@163.com",
        "o'brien@example.ie",
        "张三@例子.中国",
    ],
)
def test_an_email_address_is_accepted(email: str) -> None:
    assert is_email(email)
    assert check({**CUSTOMER, "email": email}) == []


@pytest.mark.parametrize(
    "email",
    [
        "zhang",
        "zhang@example",
        "@example.cn",
        "zhang@",
        "zhang@@example.cn",
        "zhang@mail@example.cn",
        "zhang..san@example.cn",
        ".zhang@example.cn",
        "zhang.@example.cn",
        "zhang san@example.cn",
        "张三 <zhang@example.cn>",
        "zhang@example.cn, li@example.cn",
        "zhang@example.cn\n",
        '"zhang"@example.cn',
        "zhang@example..cn",
        "zhang@-example.cn",
        "zhang@example-.cn",
        "zhang@exa_mple.cn",
        "zhang@192.168.1.1",
        "x" * 65 + "@example.cn",
        "zhang@" + "a" * 64 + ".cn",
    ],
)
def test_an_email_that_is_no_address_is_refused(email: str) -> None:
    assert not is_email(email)
    assert fields(check({**CUSTOMER, "email": email})) == ["customer.email"]


@pytest.mark.parametrize("email", [None, ""])
def test_an_email_is_optional(email: str | None) -> None:
    assert check({**CUSTOMER, "email": email}) == []  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("said", "phone"),
    [
        ("13800138000", "13800138000"),
        (" 138 0013 8000 ", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("1380013800", None),
        ("23800138000", None),
        ("SF2611230000000001", None),
        ("１３８００１３８０００", None),
        ("", None),
    ],
)
def test_a_mobile_is_read_as_people_write_it(said: str, phone: str | None) -> None:
    assert mobile(said) == phone


def test_an_order_needs_a_line() -> None:
    assert fields(check(lines=[])) == ["lines"]


def test_all_errors_are_reported_together() -> None:
    errors = check(
        {**CUSTOMER, "phone": "123", "email": "nope"},
        {**ADDRESS, "postcode": "1", "city": ""},
        [LineRequest("NOPE", 0, 1)],
        channel="nope",
    )
    assert set(fields(errors)) == {
        "channel",
        "customer.phone",
        "customer.email",
        "shipping_address.postcode",
        "shipping_address.city",
        "lines[0].quantity",
        "lines[0].sku",
    }


# --- totals (FUL-3 free-shipping threshold) -------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "shipping"),
    [
        ([LineRequest("A", 1, 9899)], 1000),  # one fen below the threshold pays shipping
        ([LineRequest("A", 1, 9900)], 0),  # at the threshold it is free
        ([LineRequest("A", 3, 3300)], 0),  # the threshold applies to the sum of lines
        ([LineRequest("A", 1, 5000), LineRequest("B", 2, 2449)], 1000),
        ([LineRequest("A", 1, 5000), LineRequest("B", 2, 2450)], 0),
    ],
)
def test_shipping_is_free_from_the_threshold_up(lines: list[LineRequest], shipping: int) -> None:
    result = totals(lines, shipping_fee=1000, free_threshold=9900)
    subtotal = sum(line.unit_price * line.quantity for line in lines)
    assert (result.subtotal, result.shipping, result.discount, result.total) == (
        subtotal,
        shipping,
        0,
        subtotal + shipping,
    )


def test_fee_and_threshold_are_parameters_not_constants() -> None:
    lines = [LineRequest("A", 2, 10_000)]
    assert totals(lines, shipping_fee=1500, free_threshold=30_000).total == 21_500
    assert totals(lines, shipping_fee=1500, free_threshold=20_000).total == 20_000
