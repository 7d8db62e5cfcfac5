from __future__ import annotations

from collections.abc import Iterator

import pytest

from shopflow.risk.service.scoring import forget_rules


@pytest.fixture(autouse=True)
def _rules_read_afresh() -> Iterator[None]:
    """Rules a test wrote (and rolled back) are not served from the process's cache to the next."""
    forget_rules()
    yield
    forget_rules()
