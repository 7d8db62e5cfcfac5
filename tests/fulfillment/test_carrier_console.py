"""The carrier pages of the console over HTTP (no browser): carriers and their fees, the rule table
with its tester (FUL-3), scorecards (FUL-7) and freight bill reconciliation (FUL-8)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from shopflow.core import clock
from shopflow.core.audit import AuditEntry
from shopflow.core.db import Database
from shopflow.fulfillment.models.carriers import Carrier, CarrierRule
from shopflow.fulfillment.models.freight import FreightBill, FreightBillLine
from shopflow.fulfillment.models.shipments import Shipment
from tests.builders import fulfillment as ful
from tests.builders.console import Visitor, Visitors, signed_in, table_row, visitors
from tests.builders.rows import audit_rows
from tests.builders.store import small_store

SF_URL = "https://www.sf-express.example/track?no={tracking_no}"


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


async def _floor(db: Database, visitor: Visitor) -> tuple[ful.Crew, dict[str, str]]:
    """A store with SF (Shanghai) and YTO (everything else) and who works it by API."""
    await small_store(db)
    team = await ful.crew(db)
    return team, await ful.carriers_with_rules(visitor.client, team.ops)


async def _stored(db: Database) -> dict[str, int]:
    """Rows of everything the carrier pages write."""
    tables: dict[str, Any] = {
        "carriers": Carrier,
        "carrier_rules": CarrierRule,
        "freight_bills": FreightBill,
        "freight_bill_lines": FreightBillLine,
        "audit_log": AuditEntry,
    }
    async with db.transaction() as session:
        return {
            name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in tables.items()
        }


async def _carrier(db: Database, code: str) -> Carrier:
    async with db.transaction() as session:
        found = await session.scalar(select(Carrier).where(Carrier.code == code))
        assert found is not None
        return found


def _rule_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr id="rule-(\d+)">', page)]


async def _upload(visitor: Visitor, content: bytes, filename: str = "sf-2030-05.csv", **fields: str) -> Any:
    form = {"csrf": visitor.token, "carrier": "SF", **fields}
    files = {"file": (filename, content, "text/csv")}
    return await visitor.client.post("/fulfillment/freight-bills", data=form, files=files)


@pytest.mark.parametrize("role", ["operations", "manager"])
async def test_every_carrier_page_shows_in_chinese_and_english(
    db: Database, visit: Visitors, role: str
) -> None:
    async with await signed_in(visit, db, role) as visitor:
        await _floor(db, visitor)
        pages = {
            "/fulfillment/carriers": ("添加承运商", "Add a carrier", 'id="carrier-form"'),
            "/fulfillment/carriers/SF": ("保存", "Save", "顺丰速运"),
            "/fulfillment/carrier-rules": ("用哪家承运商？", "Which carrier?", 'id="rule-form"'),
            "/fulfillment/scorecards": ("准时率", "On time", 'id="scorecard-SF"'),
            "/fulfillment/freight-bills": ("运费对账", "Reconcile a freight bill", 'id="freight-form"'),
        }
        tabs = (
            'href="/fulfillment/carriers"',
            'href="/fulfillment/scorecards"',
            'href="/fulfillment/freight-bills"',
        )
        for path, (chinese, _, shown) in pages.items():
            reply = await visitor.get(path)
            assert reply.status_code == 200, (path, reply.text)
            assert chinese in reply.text and shown in reply.text, path
            assert '<a href="/fulfillment" class="active">履约</a>' in reply.text, path
        waves = (await visitor.get("/fulfillment")).text
        assert all(tab in waves for tab in tabs)
        await visitor.post("/language", {"locale": "en", "next": "/fulfillment/carriers"})
        for path, (_, english, shown) in pages.items():
            reply = await visitor.get(path)
            assert reply.status_code == 200, (path, reply.text)
            assert english in reply.text and shown in reply.text, path
            assert all(chinese not in reply.text for chinese, _, _ in pages.values()), path


async def test_a_carrier_with_a_bad_fee_is_refused_at_its_field_and_a_good_one_shows_its_secret_once(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        await visitor.get("/fulfillment/carriers")
        typed = {"code": "ZTO", "name": "中通快递", "tracking_url": SF_URL, "per_kg_fee": "1.00"}
        before = await _stored(db)

        bad = await visitor.post("/fulfillment/carriers", {**typed, "base_fee": "8元"})
        cents = await visitor.post("/fulfillment/carriers", {**typed, "base_fee": "8.001"})
        lower = await visitor.post(
            "/fulfillment/carriers",
            {**typed, "code": "zto", "tracking_url": "https://z.example/", "base_fee": ""},
        )

        assert bad.status_code == 422
        assert '<div class="field-error" id="error-base_fee">8元 不是金额</div>' in bad.text
        assert 'name="base_fee" value="8元"' in bad.text and 'value="中通快递"' in bad.text
        assert 'value="ZTO"' in bad.text and "error-per_kg_fee" not in bad.text
        assert 'id="error-base_fee">最多两位小数<' in cents.text
        assert lower.status_code == 422
        assert 'id="error-code">只能用大写字母、数字、_ 和 -<' in lower.text
        assert 'id="error-tracking_url">必须包含 {tracking_no}<' in lower.text
        assert 'id="error-base_fee">必填<' in lower.text
        assert await _stored(db) == before

        made = await visitor.post("/fulfillment/carriers", {**typed, "base_fee": "8.00"})

        assert made.status_code == 201
        secret = re.search(r'<code id="carrier-secret">([^<]+)</code>', made.text)
        assert secret is not None and "承运商 中通快递（ZTO）已添加。" in made.text
        stored = await _carrier(db, "ZTO")
        assert (stored.name, stored.base_fee, stored.per_kg_fee, stored.active) == (
            "中通快递",
            800,
            100,
            True,
        )
        assert stored.push_secret == secret[1]
        row = table_row(made.text, "carrier-ZTO")
        assert "¥8.00" in row and "¥1.00" in row and "z.example" not in row
        assert 'id="carrier-secret"' not in (await visitor.get("/fulfillment/carriers")).text
        assert [r.action for r in await audit_rows(db, "carrier", "ZTO")] == ["carrier.created"]

        again = await visitor.post("/fulfillment/carriers", {**typed, "base_fee": "8.00"})
        assert again.status_code == 409 and 'id="error-code">已存在<' in again.text


async def test_a_carrier_is_edited_and_a_blank_field_is_refused(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        await _floor(db, visitor)
        form = await visitor.get("/fulfillment/carriers/SF")
        assert (
            'name="base_fee" value="12.00"' in form.text and 'name="active" value="true" checked' in form.text
        )
        assert 'name="code"' not in form.text
        before = await _stored(db)

        blank = await visitor.post(
            "/fulfillment/carriers/SF",
            {
                "name": " ",
                "tracking_url": SF_URL,
                "base_fee": "13.50",
                "per_kg_fee": "2.00",
                "active": "true",
            },
        )

        assert blank.status_code == 422 and 'id="error-name">必填<' in blank.text
        assert 'name="base_fee" value="13.50"' in blank.text
        assert await _stored(db) == before

        saved = await visitor.post(
            "/fulfillment/carriers/SF",
            {"name": "顺丰特快", "tracking_url": SF_URL, "base_fee": "13.50", "per_kg_fee": "2.50"},
        )

        assert (saved.status_code, saved.headers["location"]) == (303, "/fulfillment/carriers")
        listed = await visitor.get("/fulfillment/carriers")
        assert "承运商 SF 已保存。" in listed.text
        row = table_row(listed.text, "carrier-SF")
        assert "顺丰特快" in row and "¥13.50" in row and "¥2.50" in row and "否" in row
        stored = await _carrier(db, "SF")
        assert (stored.name, stored.base_fee, stored.per_kg_fee, stored.active) == (
            "顺丰特快",
            1350,
            250,
            False,
        )
        assert [r.action for r in await audit_rows(db, "carrier", "SF")] == [
            "carrier.created",
            "carrier.updated",
        ]
        assert (await visitor.get("/fulfillment/carriers/NOPE")).status_code == 404


async def test_a_rule_is_added_the_tester_picks_its_carrier_and_deleting_it_restores_the_table(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        await _floor(db, visitor)
        page = await visitor.get("/fulfillment/carrier-rules")
        table = _rule_ids(page.text)
        assert len(table) == 2 and "上海" in table_row(page.text, f"rule-{table[0]}")
        before = await _stored(db)

        crossed = await visitor.post(
            "/fulfillment/carrier-rules",
            {
                "carrier": "SF",
                "priority": "5",
                "province": "北京",
                "min_weight_g": "3000",
                "max_weight_g": "3000",
            },
        )
        negative = await visitor.post("/fulfillment/carrier-rules", {"carrier": "SF", "priority": "-1"})

        assert crossed.status_code == 422
        assert 'id="error-max_weight_g">必须大于最小值<' in crossed.text
        assert 'name="min_weight_g" value="3000"' in crossed.text and 'value="北京"' in crossed.text
        assert 'id="error-priority">不能为负数<' in negative.text
        assert await _stored(db) == before

        added = await visitor.post(
            "/fulfillment/carrier-rules",
            {
                "carrier": "SF",
                "priority": "5",
                "province": "北京",
                "min_weight_g": "3000",
                "min_order_value": "",
            },
        )

        assert (added.status_code, added.headers["location"]) == (303, "/fulfillment/carrier-rules")
        listed = await visitor.get("/fulfillment/carrier-rules")
        [new] = set(_rule_ids(listed.text)) - set(table)
        assert _rule_ids(listed.text)[0] == new
        assert f"规则 {new} 已添加：SF，优先级 5。" in listed.text
        row = table_row(listed.text, f"rule-{new}")
        assert "北京" in row and "≥ 3000 g" in row

        heavy = await visitor.get("/fulfillment/carrier-rules?province=北京&weight_g=3500&order_value=99.00")
        light = await visitor.get("/fulfillment/carrier-rules?province=北京&weight_g=2999&order_value=99.00")
        wrong = await visitor.get("/fulfillment/carrier-rules?province=&weight_g=heavy&order_value=99")

        assert "规则表选择 顺丰速运（SF），预计运费 ¥18.00。" in heavy.text  # 12 + 3 started kg x 2
        assert 'name="weight_g" value="3500"' in heavy.text
        assert "规则表选择 圆通速递（YTO），预计运费 ¥11.00。" in light.text  # 8 + 2 x 1.50
        assert wrong.status_code == 422
        assert 'id="error-province">必填<' in wrong.text and 'id="error-weight_g">必须是整数<' in wrong.text

        deleted = await visitor.post(f"/fulfillment/carrier-rules/{new}/delete")

        assert deleted.status_code == 303
        after = await visitor.get("/fulfillment/carrier-rules?province=北京&weight_g=3500&order_value=99.00")
        assert _rule_ids(after.text) == table and f"规则 {new} 已删除。" in after.text
        assert "规则表选择 圆通速递（YTO）" in after.text
        assert [r.action for r in await audit_rows(db, "carrier_rule", new)] == [
            "carrier_rule.created",
            "carrier_rule.deleted",
        ]
        gone = await visitor.post(f"/fulfillment/carrier-rules/{new}/delete")
        assert gone.status_code == 404 and f"没有承运商规则 {new}。" in gone.text


async def test_the_tester_says_why_no_carrier_applies(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "operations") as visitor:
        await _floor(db, visitor)
        await visitor.get("/fulfillment/carriers/YTO")
        await visitor.post(
            "/fulfillment/carriers/YTO",
            {
                "name": "圆通速递",
                "tracking_url": ful.CARRIERS["YTO"][1],
                "base_fee": "8.00",
                "per_kg_fee": "1.50",
            },
        )
        rules = _rule_ids((await visitor.get("/fulfillment/carrier-rules")).text)

        idle = await visitor.get("/fulfillment/carrier-rules?province=北京&weight_g=1000&order_value=50")

        assert idle.status_code == 200
        assert (
            '<div class="refusal" role="status" id="trial-none">'
            f"只有停用承运商的规则（#{rules[1]} YTO）适用于寄往"
            " 北京、重 1000 克、订单金额 ¥50.00 的包裹：没有可用的承运商。</div>"
        ) in idle.text
        await visitor.post(f"/fulfillment/carrier-rules/{rules[1]}/delete")
        none = await visitor.get("/fulfillment/carrier-rules?province=北京&weight_g=1000&order_value=50")
        assert "没有规则适用于寄往 北京、重 1000 克、订单金额 ¥50.00 的包裹：没有可用的承运商。" in none.text
        shanghai = await visitor.get("/fulfillment/carrier-rules?province=上海&weight_g=1000&order_value=50")
        assert 'id="trial-answer"' in shanghai.text and "顺丰速运（SF）" in shanghai.text


async def test_scorecards_show_each_carriers_figures_and_the_on_time_chart(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "manager") as visitor:
        team, secrets = await _floor(db, visitor)
        [parcel] = await ful.shipped_order(visitor.client, team)  # Shanghai: SF, 1.2 kg
        delivered = ful.event(parcel["tracking_no"], "delivered", clock.now())
        assert (await ful.push(visitor.client, "SF", secrets["SF"], [delivered])).status_code == 200

        page = await visitor.get("/fulfillment/scorecards")

        assert page.status_code == 200
        cells = re.findall(r'<td class="num">([^<]*)</td>', table_row(page.text, "scorecard-SF"))
        assert cells == ["1", "100.0%", "0.0%", "0.0%", "¥14.00"]
        assert re.findall(r'<td class="num">([^<]*)</td>', table_row(page.text, "scorecard-YTO")) == [
            "0",
            "—",
            "—",
            "—",
            "—",
        ]
        chart = re.search(r'id="on-time-chart" data-chart="([^"]+)"', page.text)
        assert chart is not None
        option = json.loads(html.unescape(chart[1]))
        assert option["xAxis"]["data"] == ["顺丰速运", "圆通速递"]
        assert option["series"][0]["type"] == "bar" and option["series"][0]["data"] == [100.0, None]
        assert option["title"]["text"] == "准时率（%）"

        today = page.text.split('name="to" value="', 1)[1][:10]
        earlier = await visitor.get("/fulfillment/scorecards?from=2020-01-01&to=2020-01-31")
        assert re.findall(r'<td class="num">([^<]*)</td>', table_row(earlier.text, "scorecard-SF"))[0] == "0"
        backwards = await visitor.get(f"/fulfillment/scorecards?from={today}&to=2020-01-31")
        assert backwards.status_code == 422 and 'id="error-to">不能早于开始日期<' in backwards.text
        bad = await visitor.get("/fulfillment/scorecards?from=May+1st")
        assert bad.status_code == 422 and 'id="error-from">May 1st 不是日期。<' in bad.text
        assert re.findall(r'<td class="num">([^<]*)</td>', table_row(bad.text, "scorecard-SF"))[0] == "1"


async def test_a_freight_bill_upload_lists_matched_over_charged_unknown_missing_and_bad_rows(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "finance") as visitor:
        team, _ = await _floor(db, visitor)
        matched, over, missing = [(await ful.shipped_order(visitor.client, team))[0] for _ in range(3)]
        await visitor.get("/fulfillment/freight-bills")
        bill = (
            "waybill,amount\n"
            f"{matched['tracking_no']},14.00\n"
            f"{over['tracking_no']},20.00\n"
            "SF-NOT-OURS-1,9.00\n"
            "SF-NOT-OURS-2,nine\n"
        ).encode()
        before = await _stored(db)

        for content, field, message in (
            (b"", "file", "请选择账单的 CSV 文件。"),
            (
                "waybill,amount\n单号,1\n".encode("gbk"),
                "file",
                "账单必须是 UTF-8 文本（请把 CSV 存为 UTF-8）。",
            ),
            (b"tracking,fee\nX,1\n", "file", "文件需要 waybill, amount 这些列；缺少：waybill, amount。"),
        ):
            refused = await _upload(visitor, content, "" if not content else "bill.csv", reference="R-1")
            assert refused.status_code == 422, refused.text
            assert f'id="error-{field}">{message}<' in refused.text
            assert 'name="reference" value="R-1"' in refused.text
        undated = await _upload(visitor, bill, **{"from": "5/1", "to": "2030-05-31"})
        assert undated.status_code == 422 and 'id="error-from">5/1 不是日期。<' in undated.text
        assert await _stored(db) == before

        reply = await _upload(visitor, bill)

        assert reply.status_code == 201, reply.text
        result = reply.text
        assert "承运商 顺丰速运 的账单 sf-2030-05.csv" in result
        counts = dict(re.findall(r'<div class="n" id="count-([\w-]+)">(\d+)</div>', result))
        assert counts == {
            "matched": "1",
            "over_charged": "1",
            "unknown_waybill": "1",
            "missing_bill": "1",
            "bad-rows": "1",
        }
        lines = re.findall(r'<tr id="line-\d+">(.*?)</tr>', result, re.S)
        shown = [
            [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", ln, re.S)]
            for ln in lines
        ]
        assert shown == [
            ["2", matched["tracking_no"], "¥14.00", "¥14.00", "", "相符"],
            ["3", over["tracking_no"], "¥20.00", "¥14.00", "¥6.00", "多收"],
            ["4", "SF-NOT-OURS-1", "¥9.00", "", "", "未知运单"],
            ["", missing["tracking_no"], "", "¥14.00", "", "未出账"],
        ]
        assert "金额 nine 有误：请写成 12.50 这样" in table_row(result, "bad-row-5")
        async with db.transaction() as session:
            billed = await session.scalar(select(Shipment.billed_cost).where(Shipment.id == over["id"]))
        assert billed == 2000
        after = await _stored(db)
        assert (after["freight_bills"], after["freight_bill_lines"]) == (
            before["freight_bills"] + 1,
            before["freight_bill_lines"] + 4,
        )

        again = await _upload(visitor, bill)
        assert again.status_code == 409
        assert 'id="error-reference">SF 的账单 sf-2030-05.csv 已导入过。<' in again.text
        assert await _stored(db) == after


async def test_roles_without_the_permission_see_no_forms_and_are_refused_403(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        await _floor(db, visitor)
        rules = _rule_ids((await visitor.get("/fulfillment/carrier-rules")).text)
        carriers = await visitor.get("/fulfillment/carriers")
        assert carriers.status_code == 200 and "顺丰速运" in carriers.text
        assert (
            'id="carrier-form"' not in carriers.text
            and 'href="/fulfillment/carriers/SF"' not in carriers.text
        )
        table = await visitor.get("/fulfillment/carrier-rules?province=上海&weight_g=1000&order_value=10")
        assert 'id="rule-form"' not in table.text and "/delete" not in table.text
        assert "规则表选择 顺丰速运（SF）" in table.text
        assert (await visitor.get("/fulfillment/scorecards")).status_code == 200
        assert 'href="/fulfillment/freight-bills"' not in carriers.text
        assert (await visitor.get("/fulfillment/freight-bills")).status_code == 403
        assert (await visitor.get("/fulfillment/carriers/SF")).status_code == 403
        before = await _stored(db)
        for path, form in (
            (
                "/fulfillment/carriers",
                {"code": "ZTO", "name": "中通", "tracking_url": SF_URL, "base_fee": "1", "per_kg_fee": "1"},
            ),
            (
                "/fulfillment/carriers/SF",
                {"name": "X", "tracking_url": SF_URL, "base_fee": "1", "per_kg_fee": "1"},
            ),
            ("/fulfillment/carrier-rules", {"carrier": "SF", "priority": "1"}),
            (f"/fulfillment/carrier-rules/{rules[0]}/delete", {}),
        ):
            refused = await visitor.post(path, form)
            assert refused.status_code == 403, path
            assert "您的角色（仓库）无权执行此操作" in refused.text
        refused_bill = await _upload(visitor, b"waybill,amount\n")
        assert refused_bill.status_code == 403
        assert await _stored(db) == before
    async with await signed_in(visit, db, "finance") as visitor:
        page = await visitor.get("/fulfillment/freight-bills")
        assert 'id="freight-form"' in page.text and 'href="/fulfillment/carriers"' in page.text
        assert 'id="carrier-form"' not in (await visitor.get("/fulfillment/carriers")).text
    async with await signed_in(visit, db, "customer_service") as visitor:
        waves = await visitor.get("/fulfillment")
        assert (
            'href="/fulfillment/carriers"' not in waves.text
            and 'href="/fulfillment/freight-bills"' not in waves.text
        )
        for path in ("/fulfillment/carriers", "/fulfillment/carrier-rules", "/fulfillment/scorecards"):
            assert (await visitor.get(path)).status_code == 403, path
