"""The script picker of a ticket's reply (SVC-4): the knowledge base's scripts, the agent's
language first, found by the KB search, rendered with the ticket's customer's name and order
number; over the API and in the console (zh_CN and en)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from shopflow.core.db import Database
from shopflow.kb import service as kb
from tests.builders.auth import bearer
from tests.builders.console import signed_in, visitors
from tests.builders.lifecycle import stocked_store
from tests.builders.orders import order_body
from tests.builders.tickets import ticket_body

TICKETS = "/api/v1/tickets"


async def ticket_with_order(client: httpx.AsyncClient, db: Database) -> tuple[int, str]:
    """A ticket on an order placed by 张三 (the KB seeded): its id and the order's number."""
    async with db.transaction() as session:
        await kb.seed_articles(session)
    await stocked_store(db, 5)
    admin = await bearer(db, "admin")
    order = (
        await client.post("/api/v1/orders", json=order_body([("SKU-1", 1, "99.00")]), headers=admin)
    ).json()
    ticket = await client.post(TICKETS, json=ticket_body(order_no=order["order_no"]), headers=admin)
    assert ticket.status_code == 201, ticket.text
    return ticket.json()["id"], order["order_no"]


async def scripts(client: httpx.AsyncClient, headers: dict[str, str], ticket_id: int, **params: Any) -> Any:
    return await client.get(f"{TICKETS}/{ticket_id}/scripts", params=params, headers=headers)


async def test_a_chinese_query_finds_the_apology_script_rendered_for_the_ticket(
    client: httpx.AsyncClient, db: Database
) -> None:
    ticket_id, order_no = await ticket_with_order(client, db)
    agent = await bearer(db, "customer_service")

    found = (await scripts(client, agent, ticket_id, q="道歉")).json()

    first = found["items"][0]
    assert first["title"] == "致歉：给您添麻烦了"
    assert first["text"].startswith(f"张三您好，关于订单{order_no}给您带来的不便，我们深表歉意。")
    assert "${" not in first["text"]
    assert set(first) == {"id", "title", "text", "language", "category"}


async def test_the_agents_language_comes_first_and_a_blank_query_lists_every_script(
    client: httpx.AsyncClient, db: Database
) -> None:
    ticket_id, order_no = await ticket_with_order(client, db)
    agent = await bearer(db, "customer_service")

    english = (await scripts(client, agent, ticket_id, q="apology 致歉", language="en")).json()
    every = (await scripts(client, agent, ticket_id, language="en", page_size=500)).json()
    chinese = (await scripts(client, agent, ticket_id, page_size=500)).json()  # the policy's zh_CN

    assert [item["language"] for item in english["items"][:2]] == ["en", "zh_CN"]
    assert english["items"][0]["text"].startswith(
        f"Dear 张三, we are truly sorry for the trouble with order {order_no}."
    )
    languages = [item["language"] for item in every["items"]]
    assert every["total"] == len(languages) > 2 and languages == sorted(languages, key=lambda x: x != "en")
    assert chinese["items"][0]["language"] == "zh_CN"
    assert all("${" not in item["text"] for item in every["items"])


async def test_a_reader_without_personal_data_sees_the_name_masked(
    client: httpx.AsyncClient, db: Database
) -> None:
    ticket_id, _ = await ticket_with_order(client, db)

    found = (await scripts(client, await bearer(db, "warehouse"), ticket_id, q="道歉")).json()

    assert found["items"][0]["text"].startswith("张*您好")


async def test_a_ticket_without_customer_or_order_keeps_the_order_placeholder(
    client: httpx.AsyncClient, db: Database
) -> None:
    async with db.transaction() as session:
        await kb.seed_articles(session)
    admin = await bearer(db, "admin")
    ticket = (await client.post(TICKETS, json=ticket_body(), headers=admin)).json()

    found = (await scripts(client, admin, ticket["id"], q="apology", language="en")).json()

    assert found["items"][0]["text"].startswith(
        "Dear customer, we are truly sorry for the trouble with order ${order_no}."
    )


async def test_an_unknown_ticket_is_404_and_a_bad_query_422_naming_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await bearer(db, "admin")

    missing = await scripts(client, admin, 999_999, q="道歉")
    long = await scripts(client, admin, 1, q="x" * 201)
    language = await scripts(client, admin, 1, language="fr")

    assert missing.status_code == 404
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "q"
    assert language.status_code == 422 and language.json()["errors"][0]["field"] == "language"


async def test_the_console_offers_the_picker_in_chinese_and_english(
    client: httpx.AsyncClient, db: Database
) -> None:
    ticket_id, order_no = await ticket_with_order(client, db)
    visit = visitors(db)

    async with await signed_in(visit, db, "customer_service") as agent:
        page = (await agent.get(f"/tickets/{ticket_id}")).text
        picked = (
            await agent.get(f"/tickets/{ticket_id}/scripts?q=道歉", headers={"HX-Request": "true"})
        ).text
        nothing = (await agent.get(f"/tickets/{ticket_id}/scripts?q=zzzz")).text
        await agent.post("/language", {"locale": "en"})
        english_page = (await agent.get(f"/tickets/{ticket_id}")).text
        english = (await agent.get(f"/tickets/{ticket_id}/scripts")).text

    assert 'id="script-picker"' in page and "插入话术" in page
    assert f'hx-get="/tickets/{ticket_id}/scripts"' in page
    first = re.search(
        r'<button type="button" class="insert-script" data-text="([^"]+)"[^>]*>([^<]+)</button>', picked
    )
    assert first is not None and first[2] == "致歉：给您添麻烦了"
    assert first[1].startswith(f"张三您好，关于订单{order_no}")
    assert "没有与“zzzz”匹配的话术" in nothing
    assert "Insert a script" in english_page
    languages = re.findall(r'<span class="muted">[^<]* · (zh_CN|en)</span>', english)
    assert languages[0] == "en" and "zh_CN" in languages
