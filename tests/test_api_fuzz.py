"""No input makes a 500: schemathesis over the whole OpenAPI document of a real server.

Every operation receives inputs that fit its schema and inputs that do not (schemathesis'
positive and negative modes, NUL characters included), sent by an admin with the sandbox on;
`not_a_server_error` fails on any 5xx. Bounded and deterministic: a fixed number of examples per
operation, drawn with `derandomize`, no example database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.catalog import add_product
from tests.builders.inventory import add_warehouse, receive
from tests.builders.server import Server, start, stop
from tests.conftest import TEST_URL, make_app

EXAMPLES = 12  # per operation and mode: one to two minutes for the whole API on two cores


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOPFLOW_SANDBOX", "true")
        running = start(tmp_path_factory.mktemp("fuzz"))
    yield running
    stop(running.process)


@pytest.fixture
async def admin(committed: Database) -> dict[str, str]:
    """An admin's headers, in a store with a product in stock: operations reach their services."""
    await add_product(committed, {"SKU-1": 9900})
    await add_warehouse(committed, "WH-A", 1)
    await receive(committed, "WH-A", {"SKU-1": 50})
    return await bearer(committed, "admin")


# The document the server serves, built here at collection (nothing connects to the database).
schema = schemathesis.openapi.from_dict(make_app(Database.from_url(TEST_URL)).openapi())  # type: ignore[attr-defined]
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES, deterministic=True
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_a_server_error(
    case: schemathesis.Case, admin: dict[str, str], fuzzed: Server
) -> None:
    with requests.Session() as session:
        reply = case.call(base_url=fuzzed.url, session=session, headers=dict(admin), timeout=30)
    assert reply.status_code < 500, (
        f"{case.method} {case.formatted_path}: {reply.text}\n{fuzzed.output()[-3000:]}"
    )
    case.validate_response(reply, checks=[not_a_server_error])
