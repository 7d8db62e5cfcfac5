"""The check every fulfillment state change goes through: the target is in the TRANSITIONS table."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from shopflow.core.errors import InvalidTransition

E = TypeVar("E", bound=StrEnum)


def checked(subject: str, table: Mapping[E, frozenset[E]], current: E, target: E) -> E:
    if target not in table[current]:
        raise InvalidTransition(subject, current, target)
    return target
