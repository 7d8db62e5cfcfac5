"""The stock-control pages of the console over HTTP (no browser): a count started, keyed on the
keying page, approved and posted, its printable sheet; a transfer drafted from a suggestion,
shipped and received; refusals shown at their fields with nothing changed."""

from __future__ import annotations

import httpx
import pytest

from shopflow.core.db import Database
from shopflow.stockcontrol.console import SUGGESTIONS_SHOWN
from shopflow.stockcontrol.models import Suggestion
from shopflow.stockcontrol.service import transfers
from shopflow.stockcontrol.service.transfers import SuggestionView
from tests.builders.console import Visitor, Visitors, signed_in, visitors
from tests.builders.lifecycle import place
from tests.builders.store import small_store


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def followed(visitor: Visitor, reply: httpx.Response) -> httpx.Response:
    """The page a step sent the browser to (303), as the browser loads it."""
    assert reply.status_code == 303, reply.text
    return await visitor.get(reply.headers["location"])


async def test_a_count_is_started_keyed_approved_and_posted_from_its_pages(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "manager") as visitor:
        listed = await visitor.get("/counts")
        assert listed.status_code == 200 and "开始盘点" in listed.text
        started = await followed(
            visitor, await visitor.post("/counts", {"warehouse": "WH-A", "kind": "full", "skus": ""})
        )
        assert started.status_code == 200 and "盘点" in started.text
        count_id = started.url.path.rsplit("/", 1)[1]
        sheet = await visitor.get(f"/counts/{count_id}/sheet")
        assert sheet.status_code == 200 and "SKU-1" in sheet.text and "SKU-2" in sheet.text
        refused = await visitor.post(f"/counts/{count_id}/lines", {"counted:SKU-1": "-1"})
        assert refused.status_code == 422 and 'id="error-counted:SKU-1"' in refused.text
        keyed = await followed(
            visitor,
            await visitor.post(f"/counts/{count_id}/lines", {"counted:SKU-1": "9", "counted:SKU-2": "20"}),
        )
        assert keyed.status_code == 200 and 'value="9"' in keyed.text
        approved = await followed(visitor, await visitor.post(f"/counts/{count_id}/approve", {}))
        assert approved.status_code == 200 and "已批准" in approved.text
        posted = await followed(
            visitor, await visitor.post(f"/counts/{count_id}/post", {"reason": "季度盘点"})
        )
        assert posted.status_code == 200 and "已过账" in posted.text
        stock = await visitor.get("/inventory/skus/SKU-1")
        assert "盘点" in stock.text


async def test_a_transfer_is_drafted_from_a_suggestion_shipped_and_received(
    db: Database, visit: Visitors
) -> None:
    await small_store(db)
    async with await signed_in(visit, db, "operations") as visitor:
        refused = await visitor.post(
            "/transfers",
            {
                "from_warehouse": "WH-A",
                "to_warehouse": "WH-A",
                "lines[2].sku": "SKU-1",
                "lines[2].quantity": "1",
            },
        )
        assert refused.status_code == 422 and 'id="error-to_warehouse"' in refused.text
        drafted = await followed(
            visitor,
            await visitor.post(
                "/transfers",
                {
                    "from_warehouse": "WH-A",
                    "to_warehouse": "WH-B",
                    "lines[0].sku": "SKU-2",
                    "lines[0].quantity": "5",
                },
            ),
        )
        assert drafted.status_code == 200 and "草稿" in drafted.text
        transfer_id = drafted.url.path.rsplit("/", 1)[1]
        shipped = await followed(visitor, await visitor.post(f"/transfers/{transfer_id}/ship", {}))
        assert shipped.status_code == 200 and "在途" in shipped.text
        assert '<dd id="in-transit">5</dd>' in shipped.text
        received = await followed(visitor, await visitor.post(f"/transfers/{transfer_id}/receive", {}))
        assert received.status_code == 200 and '<dd id="in-transit">0</dd>' in received.text
        listed = await visitor.get("/transfers")
        assert listed.status_code == 200 and f'id="transfer-{transfer_id}"' in listed.text


async def test_a_transfer_of_reserved_units_is_refused_on_its_page(db: Database, visit: Visitors) -> None:
    await small_store(db)
    await place(db, [("SKU-1", 10, "99.00")])  # WH-A's 10 all reserved
    async with await signed_in(visit, db, "warehouse") as visitor:
        drafted = await followed(
            visitor,
            await visitor.post(
                "/transfers",
                {
                    "from_warehouse": "WH-A",
                    "to_warehouse": "WH-B",
                    "lines[0].sku": "SKU-1",
                    "lines[0].quantity": "1",
                },
            ),
        )
        transfer_id = drafted.url.path.rsplit("/", 1)[1]
        refused = await visitor.post(f"/transfers/{transfer_id}/ship", {})
        assert refused.status_code == 409 and 'id="transfer-refusal"' in refused.text


async def test_the_transfers_page_shows_the_largest_suggestions_and_counts_the_rest(
    db: Database, visit: Visitors, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store with many SKUs gets many small suggestions: the page lists the largest
    (SUGGESTIONS_SHOWN) and says how many more the API holds."""
    await small_store(db)
    many = [SuggestionView(Suggestion(i, 1, 2, i, 0.5), f"SKU-{i}", "WH-A", "WH-B") for i in range(1, 26)]

    async def suggested(session: object) -> list[SuggestionView]:
        return many

    monkeypatch.setattr(transfers, "suggestions", suggested)
    async with await signed_in(visit, db, "operations") as visitor:
        page = await visitor.get("/transfers")

    assert page.status_code == 200, page.text
    table = page.text.split('id="suggestions"', 1)[1].split("</table>", 1)[0]
    rows = table.split("<tbody>", 1)[1].split("<tr>")[1:]
    assert len(rows) == SUGGESTIONS_SHOWN and "SKU-25" in rows[0]
    assert "<td>SKU-5</td>" not in table and "<td>SKU-6</td>" in table
    assert 'id="more-suggestions"' in page.text and "其余 5 条" in page.text
