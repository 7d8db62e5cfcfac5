"""Money as integer fen inside; decimal strings ("99.00") at the edges (ARCHITECTURE rule 6)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema

# The largest amount accepted from outside (999 999 999 999.99 yuan): far beyond any real price,
# and far below the 64-bit columns, so sums of amounts cannot overflow them.
MAX_FEN = 10**14 - 1


def parse(value: str | int | Decimal) -> int:
    """Parse a yuan amount with at most two decimals into fen. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("not an amount")
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


def fmt(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def _validate(value: Any, info: ValidationInfo) -> int:
    # An int is fen from Python code; a document (context money_as_text) must write yuan as text,
    # or `fee = 10` would silently mean 0.10 yuan.
    as_text = (info.context or {}).get("money_as_text", False)
    if isinstance(value, int) and not isinstance(value, bool) and not as_text:
        return value
    if not isinstance(value, str):
        raise ValueError('write the amount as a string, like "99.00"')
    return parse(value)


# A money field: a decimal string in JSON/TOML ("99.00"), integer fen in Python.
Amount = Annotated[
    int,
    BeforeValidator(_validate),
    PlainSerializer(fmt, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "examples": ["99.00"]}),
]
