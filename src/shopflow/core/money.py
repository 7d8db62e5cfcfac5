"""Money as integer fen inside; decimal strings ("99.00") at the edges (ARCHITECTURE rule 6)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# The largest amount accepted from outside (999 999 999 999.99 yuan): far beyond any real price,
# and far below the 64-bit columns, so sums of amounts cannot overflow them.
MAX_FEN = 10**14 - 1
# ASCII digits, an optional sign and decimals: no exponents, no full-width digits, no "5.".
_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def parse(value: str | int | Decimal) -> int:
    """Parse a yuan amount with at most two decimals into fen. Raises ValueError."""
    if isinstance(value, bool) or (isinstance(value, str) and not _TEXT.fullmatch(value.strip())):
        raise ValueError(f"{value!r} is not an amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{value!r} has more than two decimals")
    if amount < 0:
        raise ValueError(f"{value!r} is negative")
    if fen > MAX_FEN:
        raise ValueError(f"{value!r} is too large")
    return int(fen)


def _parts(fen: int) -> tuple[str, int, int]:
    """Sign, whole yuan and fen of an amount."""
    whole, cents = divmod(abs(fen), 100)
    return "-" if fen < 0 else "", whole, cents


def fmt(fen: int) -> str:
    sign, whole, cents = _parts(fen)
    return f"{sign}{whole}.{cents:02d}"


def yuan(fen: int) -> str:
    """Money as people read it in every language: ¥1,234.50."""
    sign, whole, cents = _parts(fen)
    return f"{sign}¥{whole:,}.{cents:02d}"


def _from_text(value: Any) -> int:
    # Text only: a bare number is ambiguous (yuan or fen?) and would silently be read wrong.
    if not isinstance(value, str):
        raise ValueError('write the amount as a string, like "99.00"')
    if len(value) > TEXT_LENGTH:
        raise ValueError(f"an amount is at most {TEXT_LENGTH} characters")
    return parse(value)


_AS_TEXT = PlainSerializer(fmt, return_type=str, when_used="json")
# The longest amount written as text: the largest (MAX_FEN) with its decimals, and some room.
TEXT_LENGTH = 32
_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "maxLength": TEXT_LENGTH, "examples": ["99.00"]}
)

# Money read from outside (API bodies, policy TOML): yuan as text ("99.00") -> integer fen.
AmountText = Annotated[int, BeforeValidator(_from_text), _AS_TEXT, _SCHEMA]
# Money shown to the outside: integer fen -> yuan as text in JSON.
Amount = Annotated[int, _AS_TEXT, _SCHEMA]


def largest_remainder(values: Sequence[int], amount: int) -> list[int]:
    """`amount` (fen) shared by `values` (fen) in proportion, by largest remainder, so the shares
    add up to `amount` to the fen (ASV-4): each value first gets the whole fen of its exact share
    (amount × value / total); the fen left over go one each to the largest remainders, and between
    equal remainders to the earlier value. No share exceeds its value when `amount` ≤ the total.
    E.g. 10.00 over three equal values: 3.34, 3.33, 3.33."""
    total = sum(values)
    if amount == 0 or total == 0:
        return [0] * len(values)
    shares, remainders = [], []
    for index, value in enumerate(values):
        whole, remainder = divmod(amount * value, total)
        shares.append(whole)
        remainders.append((-remainder, index))
    for _, index in sorted(remainders)[: amount - sum(shares)]:
        shares[index] += 1
    return shares
