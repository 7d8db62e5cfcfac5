"""The CLI tests' store on disk (`shop`), shared with tests/test_cli.py; the hand-built store of the
metric and report tests (`store`)."""

import httpx
import pytest

from shopflow.core.db import Database
from tests.builders.analytics import hand_built_store
from tests.test_cli import shop  # noqa: F401


@pytest.fixture
async def store(client: httpx.AsyncClient, db: Database) -> dict[str, str]:
    """The hand-built store (`tests.builders.analytics.hand_built_store`); the finance user's headers."""
    return await hand_built_store(client, db)
