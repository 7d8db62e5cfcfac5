"""Money: integer fen inside, decimal strings at the edges (ARCHITECTURE rule 6)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shopflow.core import money
from shopflow.core.money import AmountText


class Priced(BaseModel):
    price: AmountText


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("99.00", 9900),
        ("99", 9900),
        ("99.5", 9950),
        ("0.01", 1),
        ("0", 0),
        ("0.00", 0),
        (" 12.30 ", 1230),
        ("123456789.99", 12345678999),
    ],
)
def test_parse_reads_yuan_into_fen(text: str, fen: int) -> None:
    assert money.parse(text) == fen


def test_parse_accepts_decimal_and_int_yuan() -> None:
    assert money.parse(Decimal("45.50")) == 4550
    assert money.parse(7) == 700


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("9.999", "more than two decimals"),
        ("0.001", "more than two decimals"),
        ("-1", "negative"),
        ("-0.01", "negative"),
        ("abc", "not an amount"),
        ("", "not an amount"),
        ("1,000.00", "not an amount"),
        ("NaN", "not an amount"),
        ("Infinity", "not an amount"),
        ("¥10", "not an amount"),
        ("1e2", "not an amount"),
        ("5.", "not an amount"),
        ("１２", "not an amount"),
    ],
)
def test_parse_rejects_bad_amounts_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        money.parse(text)


def test_parse_accepts_the_largest_amount_and_rejects_more() -> None:
    assert money.parse("999999999999.99") == money.MAX_FEN
    with pytest.raises(ValueError, match="too large"):
        money.parse("1000000000000.00")
    with pytest.raises(ValueError, match="too large"):
        money.parse(Decimal("1e30"))


def test_parse_rejects_a_bool() -> None:
    with pytest.raises(ValueError):
        money.parse(True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (1, "0.01"), (10, "0.10"), (9900, "99.00"), (4550, "45.50"), (-250, "-2.50")],
)
def test_fmt_writes_two_decimals(fen: int, text: str) -> None:
    assert money.fmt(fen) == text


@given(st.integers(min_value=0, max_value=money.MAX_FEN))
def test_fen_survive_a_round_trip_through_text(fen: int) -> None:
    assert money.parse(money.fmt(fen)) == fen


@given(st.integers(min_value=0, max_value=money.MAX_FEN // 100), st.integers(min_value=0, max_value=99))
def test_any_two_decimal_string_round_trips_to_its_canonical_form(whole: int, cents: int) -> None:
    text = f"{whole}.{cents:02d}"
    assert money.fmt(money.parse(text)) == text


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=9))
def test_a_third_decimal_digit_is_always_rejected(whole: int, third: int) -> None:
    with pytest.raises(ValueError, match="more than two decimals"):
        money.parse(f"{whole}.00{third}")


def test_amount_field_speaks_strings_in_json_and_fen_in_python() -> None:
    priced = Priced.model_validate({"price": "99.00"})
    assert priced.price == 9900
    assert priced.model_dump() == {"price": 9900}
    assert priced.model_dump(mode="json") == {"price": "99.00"}
    assert priced.model_dump_json() == '{"price":"99.00"}'


@pytest.mark.parametrize("value", ["9.999", "-1", "abc", "1e2", "5.", "１２", 99.5, 9900, None, True])
def test_amount_field_rejects_bad_input_naming_the_field(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Priced.model_validate({"price": value})
    assert [error["loc"] for error in caught.value.errors()] == [("price",)]
