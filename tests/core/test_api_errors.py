"""One error format everywhere, in words a user reads (ARCHITECTURE rule 7), and the API's
documentation served from the package, so it loads without internet."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.payments import place_order
from tests.builders.store import small_store

PROBLEM = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def assert_problem(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body = dict(reply.json())
    assert body.keys() == {"type", "title", "status", "detail", "code", "errors"}
    assert (body["status"], body["code"]) == (status, code)
    return body


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


# --- the API's documentation, offline --------------------------------------------------------


async def test_docs_reference_only_this_server_and_their_assets_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    links = _Links()
    links.feed(page.text)

    assert len(links.found) >= 3  # Swagger UI's script, its stylesheet, the icon
    for link in links.found:
        assert not urlsplit(link).scheme and not urlsplit(link).netloc, link
        asset = await client.get(link)
        assert asset.status_code == 200 and asset.content, link
    # Nor any address in the page's own script (Swagger UI's validator badge, a CDN).
    assert "://" not in page.text


async def test_the_openapi_document_declares_the_problems_the_server_sends(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]

    assert "HTTPValidationError" not in str(document)
    assert document["components"]["schemas"]["Problem"]["required"] == [
        *("type", "title", "status", "detail", "code", "errors")
    ]
    invalid = paths["/api/v1/orders"]["post"]["responses"]["422"]["content"]
    missing = paths["/api/v1/orders/{order_id}"]["get"]["responses"]["404"]["content"]
    refused = paths["/api/v1/orders/{order_id}/cancel"]["post"]["responses"]["409"]["content"]
    assert invalid == missing == refused == {PROBLEM: {"schema": PROBLEM_REF}}
    for operations in paths.values():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                if status >= "400":
                    assert answer["content"] == {PROBLEM: {"schema": PROBLEM_REF}}, (operation, status)


# --- the router's own refusals ----------------------------------------------------------------


async def test_an_unknown_api_route_is_a_problem(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert problem["detail"] == "there is nothing at /api/v1/no-such-thing"


async def test_a_method_a_route_does_not_take_is_a_problem(client: httpx.AsyncClient) -> None:
    reply = await client.delete("/api/v1/orders/1")

    problem = assert_problem(reply, 405, "method_not_allowed")
    assert problem["detail"] == "/api/v1/orders/1 does not take DELETE"
    assert reply.headers["allow"] == "GET"  # RFC 9110: a 405 names what the route takes


async def test_a_405_names_every_method_the_path_takes_not_only_the_first_routes(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.delete("/api/v1/orders")  # two routes: the list (GET) and intake (POST)

    assert_problem(reply, 405, "method_not_allowed")
    assert reply.headers["allow"] == "GET, POST"


async def test_an_unknown_console_page_is_the_consoles_error_page_in_the_readers_language(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.get("/no-such-page", headers={"Accept": "text/html"})

    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("text/html")
    assert "没有这个页面：/no-such-page。" in reply.text


# --- messages without Python's internals ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"lines": [', "not valid JSON: Expecting value at character 11"),
        (
            b'{"channel": "web",}',
            "not valid JSON: Expecting property name enclosed in double quotes at character 18",
        ),
    ],
)
async def test_a_malformed_json_body_is_named_as_the_body(
    client: httpx.AsyncClient, db: Database, body: bytes, message: str
) -> None:
    headers = {**await bearer(db, "sales"), "Content-Type": "application/json"}

    reply = await client.post("/api/v1/orders", content=body, headers=headers)

    assert assert_problem(reply, 422, "invalid")["errors"] == [{"field": "body", "message": message}]


async def test_an_invalid_transition_names_the_states_by_their_values(
    client: httpx.AsyncClient, db: Database
) -> None:
    await small_store(db)
    headers = await bearer(db, "manager")
    order = await place_order(client, headers, [("SKU-1", 1, "99.00")])
    cancel = f"/api/v1/orders/{order['id']}/cancel"
    assert (await client.post(cancel, json={"reason": "test"}, headers=headers)).status_code == 200

    reply = await client.post(cancel, json={"reason": "again"}, headers=headers)

    problem = assert_problem(reply, 409, "invalid_transition")
    assert problem["detail"] == "order cannot go from 'cancelled' to 'cancelled'"


async def test_a_validators_message_is_shown_without_pydantics_prefix(
    client: httpx.AsyncClient, db: Database
) -> None:
    carrier = {"code": "SF", "name": "SF", "tracking_url": "ftp://sf/{tracking_no}"}
    body = {**carrier, "base_fee": "8.00", "per_kg_fee": "2.00"}

    reply = await client.post("/api/v1/carriers", json=body, headers=await bearer(db, "operations"))

    errors = assert_problem(reply, 422, "invalid")["errors"]
    assert errors == [{"field": "tracking_url", "message": "must be an http(s) URL"}]
