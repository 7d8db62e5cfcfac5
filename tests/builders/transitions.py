"""A domain's TRANSITIONS table read as a graph, and a refused step checked, for the table tests
beside each domain's models."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TypeVar

import pytest

from shopflow.core.errors import InvalidTransition

S = TypeVar("S", bound=StrEnum)


def reachable_from(table: Mapping[S, frozenset[S]], start: S) -> set[S]:
    """Every state some run of allowed steps leads to from `start`, `start` included."""
    seen, queue = {start}, deque([start])
    while queue:
        for target in table[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def terminal(table: Mapping[S, frozenset[S]]) -> set[S]:
    """The states no step leaves."""
    return {state for state, targets in table.items() if not targets}


def assert_refused(step: Callable[[], object], current: StrEnum, target: StrEnum) -> None:
    """`step` raises the 409 InvalidTransition naming both states."""
    with pytest.raises(InvalidTransition) as refused:
        step()
    assert refused.value.status == 409
    assert (refused.value.current, refused.value.target) == (current, target)
