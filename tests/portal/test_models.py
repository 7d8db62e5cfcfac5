"""The customer's link without a database: its signature, what tampering does, its expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopflow.portal.models import Link, expired, form_key, link_expires, read, sign

KEY = b"k" * 32
AT = datetime(2030, 3, 1, 1, 0, tzinfo=UTC)


def test_a_signed_token_reads_back_its_order_and_expiry_to_the_second() -> None:
    token = sign(42, AT + timedelta(days=3, microseconds=5), KEY)

    assert read(token, KEY) == Link(42, AT + timedelta(days=3))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("42.", "43.", 1),  # another order
        lambda t: t.split(".")[0] + "." + str(int(t.split(".")[1]) + 86400) + "." + t.split(".")[2],  # longer
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: t[:-1],  # truncated
        lambda t: t + "=",
        lambda t: "٤٢" + t[2:],  # other scripts' digits
        lambda t: "",
    ],
)
def test_a_changed_token_is_not_read(tamper: object) -> None:
    token = sign(42, AT, KEY)
    changed = tamper(token)  # type: ignore[operator]

    assert changed != token
    assert read(changed, KEY) is None


def test_a_token_signed_under_another_key_is_not_read() -> None:
    assert read(sign(42, AT, b"x" * 32), KEY) is None


def test_the_form_key_is_bound_to_its_link() -> None:
    first, second = sign(1, AT, KEY), sign(2, AT, KEY)

    assert form_key(first, KEY) == form_key(first, KEY) != form_key(second, KEY)


def test_a_link_of_a_delivered_order_ends_with_its_after_sales_window_before_it_a_policy_span() -> None:
    closes = AT + timedelta(days=15)

    assert link_expires(closes, AT, 30) == closes
    assert link_expires(None, AT, 30) == AT + timedelta(days=30)


def test_a_link_expires_at_its_own_expiry_or_at_the_window_end_whichever_is_first() -> None:
    link = Link(1, AT + timedelta(days=30))
    closes = AT + timedelta(days=10)

    assert not expired(link, None, AT + timedelta(days=29))
    assert expired(link, None, AT + timedelta(days=30))
    assert not expired(link, closes, AT + timedelta(days=9))
    assert expired(link, closes, AT + timedelta(days=10))  # sent before delivery, ends with the window
