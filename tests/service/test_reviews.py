"""Negative reviews (SVC-7, ANA-3): `POST /reviews` and `shopflow import reviews`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from shopflow.core import policy
from shopflow.core.alerts import Alert
from shopflow.core.db import Database
from shopflow.service.models import Review, Ticket, TicketClock
from shopflow.service.reviews import parse
from tests.builders.auth import bearer
from tests.test_cli import Shop, migrated, shopflow

REVIEWS = "/api/v1/reviews"


@pytest.mark.parametrize(
    ("rating", "text", "opens"),
    [(2, "还行吧", True), (3, "一般", False), (5, "包装破损但是客服很好", True), (4, "Fake product!", True)],
)
async def test_a_low_rating_or_a_negative_word_opens_a_negative_review_ticket(
    client: httpx.AsyncClient, db: Database, rating: int, text: str, opens: bool
) -> None:
    reply = await client.post(
        REVIEWS,
        json={"channel": "review_site", "rating": rating, "text": text},
        headers=await bearer(db, "manager"),
    )

    assert reply.status_code == 201, reply.text
    assert (reply.json()["ticket_id"] is not None) == opens
    if opens:
        ticket = (
            await client.get(f"/api/v1/tickets/{reply.json()['ticket_id']}", headers=await bearer(db))
        ).json()
        assert (ticket["type"], ticket["priority"]) == ("negative_review", "high")
        assert [c["kind"] for c in ticket["clocks"]] == [TicketClock.NEGATIVE_REVIEW, TicketClock.RESOLUTION]
        assert [m["body"] for m in ticket["messages"]] == [text]


async def test_a_negative_review_raises_one_alert_and_the_policy_chooses_what_is_negative(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = await bearer(db, "manager")
    policy.install(policy.validate({"service": {"negative_rating_at_most": 3, "negative_keywords": ["慢"]}}))

    answers = [
        await client.post(REVIEWS, json={"channel": "marketplace", "rating": r, "text": t}, headers=headers)
        for r, t in ((3, "好"), (5, "发货太慢"), (4, "假货"))
    ]

    assert [a.json()["ticket_id"] is not None for a in answers] == [True, True, False]
    async with db.transaction() as session:
        raised = (await session.scalars(select(Alert).where(Alert.kind == "review.negative"))).all()
    assert [(a.subject, a.owner) for a in raised] == [
        (f"ticket:{answers[0].json()['ticket_id']}", "cs_supervisor"),
        (f"ticket:{answers[1].json()['ticket_id']}", "cs_supervisor"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "chat"}, "channel"),
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"text": ""}, "text"),
        ({"order_no": "SF-NONE"}, "order_no"),
    ],
)
async def test_a_bad_review_is_422_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, change: dict[str, object], field: str
) -> None:
    body = {"channel": "review_site", "rating": 1, "text": "差", **change}

    reply = await client.post(REVIEWS, json=body, headers=await bearer(db, "manager"))

    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == [field]
    async with db.transaction() as session:
        assert (await session.scalars(select(Review))).all() == []
        assert (await session.scalars(select(Ticket))).all() == []


def test_parsing_names_each_bad_line_and_field() -> None:
    rows, errors = parse("channel,order_no,rating,text\nreview_site,,1,差\nfax,,9,\nmarketplace,,4,好\n")

    assert [(line, data.rating) for line, data in rows] == [(2, 1), (4, 4)]
    assert [e.line for e in errors] == [3]
    assert "channel" in errors[0].reason and "rating" in errors[0].reason and "text" in errors[0].reason
    assert parse("rating,text\n1,x\n")[1][0].reason == "the header lacks channel, order_no"


def test_the_import_keeps_good_rows_opens_tickets_for_negative_ones_and_lists_bad_lines(
    shop: Shop, tmp_path: Path
) -> None:
    migrated(shop)
    path = tmp_path / "reviews.csv"
    path.write_text(
        "channel,order_no,rating,text\nreview_site,,1,差评\nmarketplace,,5,很好\nreview_site,SF-NONE,2,慢\nfax,,1,x\n",
        encoding="utf-8",
    )

    result = shopflow("import", "reviews", str(path))

    assert result.exit_code == 1, result.output
    assert "2 reviews stored, 1 negative reviews opened tickets, 2 rows with errors" in result.output
    assert "order_no: no such order" in result.output and "channel" in result.output
    assert shop.count("reviews") == 2
    assert shop.count("tickets", "type = 'negative_review'") == 1
