"""Listing compliance (CAT-4, issue 16): the banned words of a title and description, each named
with its field and position; a product using one is a draft whose SKUs are not sold, until it is
edited, or a manager publishes it with a reason; `shopflow catalog check` scans the catalog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shopflow.catalog.compliance import Hit, hits, marked
from shopflow.core import policy
from shopflow.core.db import Database
from tests.builders.auth import bearer
from tests.builders.inventory import add_warehouse, receive
from tests.builders.orders import order_body
from tests.builders.rows import audit_rows
from tests.test_cli import Shop, migrated, ok, shopflow

WORDS = policy.Catalog().banned_words
CUP = {
    "code": "CUP-1",
    "name": "保温杯",
    "price": "99.00",
    "cost": "40.00",
    "weight_g": 300,
    "price_band": "profit",
}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("最好的保温杯", [("最", 0, "最")]),  # Chinese: wherever it stands
        ("保温杯，全网第一，国家级工艺", [("第一", 6, "第一"), ("国家级", 9, "国家级")]),
        ("The BEST cup, No.1 in town", [("best", 4, "BEST"), ("No.1", 14, "No.1")]),  # any case
        ("bestow a cup; the bestseller", []),  # Latin words whole only
        ("world-class 保温杯 顶级", [("world-class", 0, "world-class"), ("顶级", 16, "顶级")]),
        ("number one保温杯", [("number one", 0, "number one")]),  # Latin next to Chinese
        ("纯棉圆领T恤, 100% 棉", []),
        ("", []),
    ],
)
def test_each_banned_word_is_named_with_its_position(text: str, found: list[tuple[str, int, str]]) -> None:
    assert [(h.word, h.position, h.found) for h in hits({"name": text}, WORDS)] == found


def test_the_longest_word_at_a_position_is_the_hit_and_fields_are_named() -> None:
    words = ("最", "最佳", "佳")
    found = hits({"name": "最佳之选", "description": "最 佳"}, words)

    assert found == [
        Hit("name", "最佳", 0, "最佳"),
        Hit("description", "最", 0, "最"),
        Hit("description", "佳", 2, "佳"),
    ]
    assert marked("买最佳之选", hits({"name": "买最佳之选"}, words)) == [
        ("买", False),
        ("最佳", True),
        ("之选", False),
    ]


async def create(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> httpx.Response:
    body = {"name": "保温杯", "description": "", "skus": [CUP], **fields}
    return await client.post("/api/v1/products", json=body, headers=headers)


async def place(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/api/v1/orders", json=order_body([("CUP-1", 1, "99.00")]), headers=headers)


async def test_a_listing_with_banned_words_is_a_draft_not_sold_until_a_manager_publishes_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    operations = await bearer(db, "operations")
    manager = await bearer(db, "manager")
    sales = await bearer(db, "sales")

    created = await create(client, operations, name="最好的保温杯", description="国家级工艺")
    assert created.status_code == 201, created.text
    product = created.json()
    assert (product["status"], product["published_at"]) == ("draft", None)
    assert product["hits"] == [
        {"field": "name", "word": "最", "position": 0},
        {"field": "description", "word": "国家级", "position": 0},
    ]
    await add_warehouse(db, "WH-A", 1)
    await receive(db, "WH-A", {"CUP-1": 10})
    refused_order = await place(client, sales)
    assert refused_order.status_code == 422
    assert refused_order.json()["errors"] == [
        {"field": "lines[0].sku", "message": "SKU 'CUP-1' is not for sale: its product is not published"}
    ]

    url = f"/api/v1/products/{product['id']}/publish"
    bare = await client.post(url, headers=operations)
    unauthorised = await client.post(url, json={"reason": "品牌名称"}, headers=operations)
    assert bare.status_code == 422
    assert bare.json()["code"] == "banned_words"
    assert bare.json()["errors"] == [
        {"field": "name", "message": "banned word '最' at position 0"},
        {"field": "description", "message": "banned word '国家级' at position 0"},
    ]
    assert unauthorised.status_code == 403
    assert (await client.get(f"/api/v1/products/{product['id']}", headers=sales)).json()["status"] == "draft"

    published = await client.post(
        url, json={"reason": "国家级 is the certificate's own wording"}, headers=manager
    )
    again = await client.post(url, headers=operations)  # published already: nothing to check

    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["override_reason"] == "国家级 is the certificate's own wording"
    assert again.status_code == 200 and again.json()["published_at"] == published.json()["published_at"]
    assert (await place(client, sales)).status_code == 201
    trail = [r for r in await audit_rows(db, "product", product["id"]) if r.action == "product.published"]
    assert len(trail) == 1
    assert trail[0].after["reason"] == "国家级 is the certificate's own wording"
    assert trail[0].after["hits"] == [
        {"field": "name", "word": "最", "position": 0},
        {"field": "description", "word": "国家级", "position": 0},
    ]


async def test_an_edited_draft_publishes_clean_and_a_published_listing_is_refused_a_banned_word(
    client: httpx.AsyncClient, db: Database
) -> None:
    operations = await bearer(db, "operations")
    product = (await create(client, operations, name="顶级保温杯")).json()
    url = f"/api/v1/products/{product['id']}"

    edited = await client.patch(url, json={"name": "不锈钢保温杯"}, headers=operations)
    published = await client.post(f"{url}/publish", json={}, headers=operations)
    spoiled = await client.patch(url, json={"description": "the best cup"}, headers=operations)
    empty = await client.patch(url, json={}, headers=operations)
    missing = await client.post("/api/v1/products/999999/publish", headers=operations)

    assert (edited.status_code, edited.json()["hits"], edited.json()["status"]) == (200, [], "draft")
    assert (published.status_code, published.json()["status"]) == (200, "published")
    assert published.json()["override_reason"] is None
    assert spoiled.status_code == 422
    assert spoiled.json()["errors"] == [
        {"field": "description", "message": "banned word 'best' at position 4"}
    ]
    assert (await client.get(url, headers=operations)).json()["description"] == ""  # nothing changed
    assert empty.status_code == 422 and missing.status_code == 404
    actions = [r.action for r in await audit_rows(db, "product", product["id"])]
    assert actions == ["product.created", "product.updated", "product.published"]


async def test_a_clean_listing_is_published_at_once_unless_asked_to_wait(
    client: httpx.AsyncClient, db: Database
) -> None:
    operations = await bearer(db, "operations")
    now = (await create(client, operations)).json()
    later = (await create(client, operations, publish=False, skus=[{**CUP, "code": "CUP-2"}])).json()

    assert (now["status"], now["hits"]) == ("published", [])
    assert now["published_at"] is not None
    assert later["status"] == "draft"


async def test_the_words_come_from_the_policy(client: httpx.AsyncClient, db: Database) -> None:
    policy.install(policy.Policy(catalog=policy.Catalog(banned_words=("奇迹",))))
    operations = await bearer(db, "operations")

    product = (await create(client, operations, name="最好的奇迹杯")).json()

    assert product["hits"] == [{"field": "name", "word": "奇迹", "position": 3}]


def test_catalog_check_names_each_banned_word_of_the_catalog(shop: Shop) -> None:
    migrated(shop)
    ok("demo")
    clean = shopflow("catalog", "check")
    assert clean.exit_code == 1, clean.output  # the demo keeps one draft to show the check
    assert "最" in clean.output and "draft" in clean.output
    assert "banned words in 1 products" in clean.output
