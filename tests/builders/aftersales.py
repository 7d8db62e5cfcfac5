"""After-sales: delivered orders to open cases on, and cases through the API."""

from __future__ import annotations

from typing import Any

import httpx

from shopflow.core.db import Database
from tests.builders.lifecycle import deliver, place
from tests.builders.store import small_store

CASES = "/api/v1/aftersales/cases"
# Two lines worth 99.00 + 2 x 45.50 = 190.00: free shipping (FUL-3).
TWO_LINES = [("SKU-1", 1, "99.00"), ("SKU-2", 2, "45.50")]


async def delivered_order(db: Database, lines: list[tuple[str, int, str]] | None = None) -> int:
    """A paid, shipped and delivered order of the small store (SKU-1 x1 and SKU-2 x2 unless told)."""
    await small_store(db)
    order_id = await place(db, lines or TWO_LINES)
    await deliver(db, order_id)
    return order_id


def case_body(order_id: int, **overrides: Any) -> dict[str, Any]:
    """A no-reason return of one SKU-1 unless told otherwise."""
    body: dict[str, Any] = {
        "order_id": order_id,
        "type": "return_refund",
        "reason": "no_reason",
        "lines": [{"sku": "SKU-1", "quantity": 1}],
    }
    return {**body, **overrides}


async def open_case(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    reply = await client.post(CASES, json=body, headers=headers)
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def act(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    case_id: int,
    action: str,
    body: dict[str, Any] | None = None,
    status: int = 200,
) -> dict[str, Any]:
    """POST a case action and check its status; the answer."""
    reply = await client.post(f"{CASES}/{case_id}/{action}", json=body, headers=headers)
    assert reply.status_code == status, reply.text
    return dict(reply.json())
