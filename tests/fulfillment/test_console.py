"""The fulfillment pages of the console over HTTP (no browser): waves, pick tasks with packing, the
quality check and shipping, shipments with their tracking timeline, exception cases (FUL-1..6)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from shopflow.core import clock
from shopflow.core.db import Database
from shopflow.fulfillment.models.picking import PickTask
from shopflow.fulfillment.models.shipments import ShipmentException
from tests.builders import fulfillment as ful
from tests.builders.console import Visitor, Visitors, signed_in, table_row, visitors
from tests.builders.rows import audit_rows, order_status
from tests.builders.store import small_store

T0 = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def visit(db: Database) -> Visitors:
    return visitors(db)


@dataclass(frozen=True)
class Floor:
    """A store with carriers and rules (SF for Shanghai, YTO elsewhere) and who works it by API."""

    team: ful.Crew
    secrets: dict[str, str]


async def _floor(db: Database, visitor: Visitor) -> Floor:
    await small_store(db)
    team = await ful.crew(db)
    return Floor(team, await ful.carriers_with_rules(visitor.client, team.ops))


async def _picking(db: Database, visitor: Visitor, floor: Floor, **order: Any) -> tuple[dict[str, Any], int]:
    """A paid order of one SKU-1 (WH-A) taken into a wave by the API; the order and its task."""
    placed = await ful.paid_order(visitor.client, floor.team.sales, [("SKU-1", 1, "99.00")], **order)
    await ful.build_waves(visitor.client, floor.team.warehouse)
    tasks = await ful.tasks_of(visitor.client, floor.team.warehouse, placed["id"])
    return placed, tasks["WH-A"]


async def _task(db: Database, task_id: int) -> PickTask:
    async with db.transaction() as session:
        found = await session.get(PickTask, task_id)
        assert found is not None
        return found


async def test_every_fulfillment_page_shows_in_chinese_and_english_to_the_warehouse(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        floor = await _floor(db, visitor)
        [parcel] = await ful.shipped_order(visitor.client, floor.team)
        damaged = ful.event(parcel["tracking_no"], "damaged", clock.now(), location="杭州转运中心")
        assert (await ful.push(visitor.client, "SF", floor.secrets["SF"], [damaged])).status_code == 200
        placed, task_id = await _picking(db, visitor, floor)
        async with db.transaction() as session:
            case_id = await session.scalar(select(ShipmentException.id))
        wave_id = (await _task(db, task_id)).wave_id
        pages = {
            "/fulfillment": ("波次", "Waves", 'id="create-waves"'),
            f"/fulfillment/waves/{wave_id}": ("拣货任务", "Pick tasks", placed["order_no"]),
            f"/fulfillment/tasks/{task_id}": ("记录打包", "Record packing", 'name="weight_g"'),
            "/fulfillment/shipments": ("运单号", "Tracking number", parcel["tracking_no"]),
            f"/fulfillment/shipments/{parcel['id']}": ("物流轨迹", "Tracking timeline", "杭州转运中心"),
            "/fulfillment/exceptions": ("联系客户", "Contact the customer", parcel["tracking_no"]),
            f"/fulfillment/exceptions/{case_id}": ("异常工单", "Exception case", parcel["tracking_no"]),
        }
        for path, (chinese, _, shown) in pages.items():
            reply = await visitor.get(path)
            assert reply.status_code == 200, (path, reply.text)
            assert chinese in reply.text and shown in reply.text, path
            assert '<a href="/fulfillment" class="active">履约</a>' in reply.text, path
        await visitor.post("/language", {"locale": "en", "next": "/fulfillment"})
        for path, (_, english, shown) in pages.items():
            reply = await visitor.get(path)
            assert reply.status_code == 200, (path, reply.text)
            assert english in reply.text and shown in reply.text, path
            assert '<a href="/fulfillment" class="active">Fulfillment</a>' in reply.text, path
            assert all(chinese not in reply.text for chinese, _, _ in pages.values()), path

        pick_list = await visitor.get(f"/fulfillment/waves/{wave_id}/pick-list")
        assert "拣货单 Pick list" in pick_list.text and placed["order_no"] in pick_list.text
        slip = await visitor.get(f"/fulfillment/tasks/{task_id}/packing-slip")
        assert "装箱单 Packing slip" in slip.text and "张*" in slip.text and "世纪大道100号" in slip.text
        assert "张三" not in slip.text and "****8000" not in slip.text and "13800138000" not in slip.text
        for path in (
            f"/fulfillment/waves/{wave_id}/pick-list.pdf",
            f"/fulfillment/tasks/{task_id}/packing-slip.pdf",
        ):
            pdf = await visitor.get(path)
            assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


async def test_waves_are_created_by_the_form_and_a_bad_number_is_named_at_its_field(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        floor = await _floor(db, visitor)
        first = await ful.paid_order(visitor.client, floor.team.sales, [("SKU-1", 1, "99.00")])
        second = await ful.paid_order(visitor.client, floor.team.sales, [("SKU-3", 2, "12.00")])
        await visitor.get("/fulfillment")
        before = await ful.counts(db)

        bad = await visitor.post("/fulfillment/waves", {"max_orders": "two"})
        zero = await visitor.post("/fulfillment/waves", {"max_orders": "0"})

        assert bad.status_code == 422
        assert '<div class="field-error" id="error-max_orders">必须是整数</div>' in bad.text
        assert 'value="two"' in bad.text
        assert zero.status_code == 422 and 'id="error-max_orders">必须大于 0<' in zero.text
        many = await visitor.post("/fulfillment/waves", {"max_orders": "5001"})
        assert many.status_code == 422 and 'id="error-max_orders">不能超过 5000<' in many.text
        assert await ful.counts(db) == before

        made = await visitor.post("/fulfillment/waves", {"max_orders": "1"})
        assert (made.status_code, made.headers["location"]) == (303, "/fulfillment")
        page = await visitor.get("/fulfillment")
        assert "已创建波次 1 个，共 1 个订单待拣货。" in page.text
        assert await order_status(db, first["id"]) == "picking"
        assert await order_status(db, second["id"]) == "paid"
        wave_rows = re.findall(r'<tr id="wave-(\d+)">', page.text)
        assert len(wave_rows) == 1 and "WH-A" in table_row(page.text, f"wave-{wave_rows[0]}")

        await visitor.post("/fulfillment/waves", {"max_orders": ""})  # the policy's wave size
        await visitor.post("/fulfillment/waves", {})
        after = await visitor.get("/fulfillment")
        assert "没有待拣货的已支付订单，未创建波次。" in after.text
        assert await order_status(db, second["id"]) == "picking"
        assert (
            len(re.findall(r'<tr id="wave-\d+">', (await visitor.get("/fulfillment?warehouse=WH-B")).text))
            == 1
        )
        assert re.findall(r'<tr id="wave-\d+">', (await visitor.get("/fulfillment?status=done")).text) == []


async def test_packing_with_a_bad_weight_names_the_field_keeps_what_was_typed_and_changes_nothing(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        floor = await _floor(db, visitor)
        placed, task_id = await _picking(db, visitor, floor)
        await visitor.get(f"/fulfillment/tasks/{task_id}")
        before = await ful.counts(db)

        typed = await visitor.post(
            f"/fulfillment/tasks/{task_id}/pack", {"weight_g": "1.2kg", "materials": "纸箱 M"}
        )
        blank = await visitor.post(f"/fulfillment/tasks/{task_id}/pack", {"weight_g": " ", "materials": ""})
        zero = await visitor.post(
            f"/fulfillment/tasks/{task_id}/pack", {"weight_g": "0", "materials": "纸箱 M"}
        )

        assert typed.status_code == 422
        assert '<div class="field-error" id="error-weight_g">必须是整数</div>' in typed.text
        assert 'name="weight_g" value="1.2kg"' in typed.text and 'value="纸箱 M"' in typed.text
        assert "error-materials" not in typed.text
        assert blank.status_code == 422
        assert 'id="error-weight_g">必填<' in blank.text and 'id="error-materials">必填<' in blank.text
        assert zero.status_code == 422 and 'id="error-weight_g">必须大于 0<' in zero.text
        assert (await _task(db, task_id)).status == "picking"
        assert await ful.counts(db) == before

        packed = await visitor.post(
            f"/fulfillment/tasks/{task_id}/pack", {"weight_g": "1300", "materials": "纸箱 M，气泡膜"}
        )
        assert (packed.status_code, packed.headers["location"]) == (303, f"/fulfillment/tasks/{task_id}")
        page = await visitor.get(packed.headers["location"])
        assert "已打包，1300 克，等待质检。" in page.text and 'id="check-passed"' in page.text
        task = await _task(db, task_id)
        assert (task.status, task.weight_g, task.materials) == ("packed", 1300, ["纸箱 M", "气泡膜"])
        assert await order_status(db, placed["id"]) == "packed"


async def test_a_failed_quality_check_needs_a_reason_and_sends_the_parcel_back_to_picking(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        floor = await _floor(db, visitor)
        placed, task_id = await _picking(db, visitor, floor)
        await visitor.get(f"/fulfillment/tasks/{task_id}")
        await visitor.post(f"/fulfillment/tasks/{task_id}/pack", {"weight_g": "800", "materials": "纸箱 S"})

        silent = await visitor.post(f"/fulfillment/tasks/{task_id}/check", {"passed": "false", "reason": " "})
        assert silent.status_code == 422
        assert '<div class="field-error" id="error-reason">质检不合格须写明原因</div>' in silent.text
        assert (await _task(db, task_id)).status == "packed"

        failed = await visitor.post(
            f"/fulfillment/tasks/{task_id}/check", {"passed": "false", "reason": "少一件"}
        )
        assert failed.status_code == 303
        page = (await visitor.get(failed.headers["location"])).text
        assert "质检不合格：包裹及其订单已退回拣货。" in page
        assert '<dd id="task-qc">1 · 少一件</dd>' in page and 'id="pack-form"' in page
        task = await _task(db, task_id)
        assert (task.status, task.qc_failures) == ("picking", 1)
        assert await order_status(db, placed["id"]) == "picking"
        checks = [row.action for row in await audit_rows(db, "pick_task", task_id)]
        assert checks == ["pick_task.packed", "pick_task.check_failed"]

        await visitor.post(f"/fulfillment/tasks/{task_id}/pack", {"weight_g": "850", "materials": "纸箱 S"})
        passed = await visitor.post(f"/fulfillment/tasks/{task_id}/check", {"passed": "true"})
        assert "质检合格，可以发货。" in (await visitor.get(passed.headers["location"])).text
        assert (await _task(db, task_id)).status == "checked"


async def test_shipping_from_the_task_shows_the_rules_carrier_and_the_parcel_is_listed_with_its_waybill(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        floor = await _floor(db, visitor)
        placed, task_id = await _picking(db, visitor, floor)
        await ful.ready(visitor.client, floor.team.warehouse, task_id, 2500)
        assert 'id="order-shipments"' not in (await visitor.get(f"/orders/{placed['id']}")).text
        page = await visitor.get(f"/fulfillment/tasks/{task_id}")
        assert "承运商规则为此包裹选择 顺丰速运，预计运费 ¥16.00。" in page.text  # Shanghai: SF, 12 + 2 x 2
        assert '<option value="YTO">圆通速递 (YTO)</option>' in page.text

        short = await visitor.post(
            f"/fulfillment/tasks/{task_id}/ship", {"carrier": "YTO", "tracking_no": "YT-1"}
        )
        assert short.status_code == 422 and 'id="error-tracking_no">至少 6 个字符<' in short.text
        assert '<option value="YTO" selected>' in short.text and 'value="YT-1"' in short.text
        spaced = await visitor.post(f"/fulfillment/tasks/{task_id}/ship", {"tracking_no": "SF 0001 X"})
        assert (
            spaced.status_code == 422 and 'id="error-tracking_no">只能包含字母、数字和连字符<' in spaced.text
        )

        shipped = await visitor.post(
            f"/fulfillment/tasks/{task_id}/ship", {"carrier": "", "tracking_no": "SF-CONSOLE-0001"}
        )
        assert shipped.status_code == 303
        detail = await visitor.get(shipped.headers["location"])
        assert "已交由 顺丰速运 发货，运单号 SF-CONSOLE-0001。" in detail.text
        assert f'<a href="/orders/{placed["id"]}" id="shipment-order">{placed["order_no"]}</a>' in detail.text
        assert "https://www.sf-express.example/track?no=SF-CONSOLE-0001" in detail.text
        assert (await _task(db, task_id)).status == "shipped"
        assert await order_status(db, placed["id"]) == "shipped"

        shipment_id = int(shipped.headers["location"].rsplit("/", 1)[1])
        listed = (await visitor.get("/fulfillment/shipments")).text
        row = table_row(listed, f"shipment-{shipment_id}")
        assert (
            "SF-CONSOLE-0001" in row and placed["order_no"] in row and "顺丰速运" in row and "已发出" in row
        )
        for query in ("q=sf-console-0001", f"q={placed['order_no']}", "carrier=SF", "status=shipped"):
            assert (
                f'id="shipment-{shipment_id}"' in (await visitor.get(f"/fulfillment/shipments?{query}")).text
            )
        for query in ("q=NOPE-0000", "carrier=YTO", "status=delivered"):
            assert (
                f'id="shipment-{shipment_id}"'
                not in (await visitor.get(f"/fulfillment/shipments?{query}")).text
            )
        order_page = (await visitor.get(f"/orders/{placed['id']}")).text
        panel = order_page[order_page.index('id="order-shipments"') :]
        assert f'href="/fulfillment/shipments/{shipment_id}">SF-CONSOLE-0001<' in panel
        assert "顺丰速运" in panel and "已发出" in panel
        of_order = (await visitor.get(f"/fulfillment/shipments?order_id={placed['id']}")).text
        assert re.findall(r'<tr id="shipment-(\d+)">', of_order) == [str(shipment_id)]

        _, other_task = await _picking(db, visitor, floor)
        await ful.ready(visitor.client, floor.team.warehouse, other_task)
        taken = await visitor.post(
            f"/fulfillment/tasks/{other_task}/ship", {"tracking_no": "SF-CONSOLE-0001"}
        )
        assert taken.status_code == 409
        assert 'id="error-tracking_no">运单号 SF-CONSOLE-0001 已被另一个包裹使用。<' in taken.text
        assert (await _task(db, other_task)).status == "checked"


async def test_an_illegal_step_shows_why_with_409_and_changes_nothing(db: Database, visit: Visitors) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        floor = await _floor(db, visitor)
        placed, task_id = await _picking(db, visitor, floor)
        await visitor.get(f"/fulfillment/tasks/{task_id}")
        before = await ful.counts(db)
        trail = len(await audit_rows(db, "pick_task", task_id))

        early = await visitor.post(f"/fulfillment/tasks/{task_id}/ship", {"carrier": "SF"})
        unchecked = await visitor.post(f"/fulfillment/tasks/{task_id}/check", {"passed": "true"})

        assert early.status_code == 409
        assert (
            '<div class="refusal" role="alert">当前无法执行：现为“拣货中”，不能变为“已发货”。</div>'
            in early.text
        )
        assert unchecked.status_code == 409 and "现为“拣货中”，不能变为“已质检”" in unchecked.text
        assert await ful.counts(db) == before
        assert len(await audit_rows(db, "pick_task", task_id)) == trail
        assert (await _task(db, task_id)).status == "picking"
        assert await order_status(db, placed["id"]) == "picking"
        missing = await visitor.get("/fulfillment/tasks/999999")
        assert missing.status_code == 404 and "没有拣货任务 999999。" in missing.text


async def test_roles_without_the_permission_see_no_forms_and_are_refused_403(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "warehouse") as visitor:
        floor = await _floor(db, visitor)
        [parcel] = await ful.shipped_order(visitor.client, floor.team)
        lost = ful.event(parcel["tracking_no"], "lost", clock.now())
        await ful.push(visitor.client, "SF", floor.secrets["SF"], [lost])
        _, task_id = await _picking(db, visitor, floor)
        async with db.transaction() as session:
            case_id = await session.scalar(select(ShipmentException.id))
        await visitor.get(f"/fulfillment/exceptions/{case_id}")
        assert 'id="contact-form"' not in (await visitor.get(f"/fulfillment/exceptions/{case_id}")).text
        refused_contact = await visitor.post(
            f"/fulfillment/exceptions/{case_id}/contact", {"solution": "补发"}
        )
        assert refused_contact.status_code == 403 and "您的角色（仓库）无权执行此操作" in refused_contact.text
    async with await signed_in(visit, db, "customer_service") as visitor:
        before = await ful.counts(db)
        assert 'id="create-waves"' not in (await visitor.get("/fulfillment")).text
        assert 'id="pack-form"' not in (await visitor.get(f"/fulfillment/tasks/{task_id}")).text
        assert parcel["tracking_no"] in (await visitor.get("/fulfillment/shipments")).text
        assert (await visitor.get(f"/fulfillment/shipments/{parcel['id']}")).status_code == 200
        for path, form in (
            ("/fulfillment/waves", {"max_orders": "5"}),
            (f"/fulfillment/tasks/{task_id}/pack", {"weight_g": "900", "materials": "纸箱"}),
            (f"/fulfillment/tasks/{task_id}/check", {"passed": "true"}),
            (f"/fulfillment/tasks/{task_id}/ship", {}),
        ):
            refused = await visitor.post(path, form)
            assert refused.status_code == 403, path
            assert "您的角色（客服）无权执行此操作" in refused.text
        assert await ful.counts(db) == before
        assert (await _task(db, task_id)).status == "picking"
        assert 'id="contact-form"' in (await visitor.get(f"/fulfillment/exceptions/{case_id}")).text


async def test_the_tracking_timeline_is_in_event_order_with_problems_marked(
    db: Database, visit: Visitors
) -> None:
    async with await signed_in(visit, db, "customer_service") as visitor:
        floor = await _floor(db, visitor)
        [parcel] = await ful.shipped_order(visitor.client, floor.team)
        now = clock.now()
        events = [
            ful.event(parcel["tracking_no"], "damaged", now + timedelta(hours=3), description="外箱破损"),
            ful.event(parcel["tracking_no"], "picked_up", now + timedelta(hours=1), location="上海"),
            ful.event(parcel["tracking_no"], "at_hub", now + timedelta(hours=2), location="杭州"),
        ]
        assert (await ful.push(visitor.client, "SF", floor.secrets["SF"], events)).status_code == 200

        page = (await visitor.get(f"/fulfillment/shipments/{parcel['id']}")).text
        timeline = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', page, re.S)
        assert timeline is not None
        steps = re.findall(r'<li(?: id="event-\d+")?(?: class="(\w+)")?>([^<]+)', timeline[1])
        assert [(css, text.strip()) for css, text in steps] == [
            ("start", "已交付承运商"),
            ("", "已揽收"),
            ("", "到达网点"),
            ("problem", "破损"),
        ]
        assert "外箱破损" in timeline[1]
        assert re.search(r'<dd id="shipment-status"><span class="badge s-exception">异常</span>', page)
        [case_id] = re.findall(r'<tr id="case-(\d+)">', page)
        case = table_row(page, f"case-{case_id}")
        assert "破损" in case and "待联系" in case and 'class="clock running"' in case


async def test_the_exception_list_turns_a_missed_contact_red_live_and_contacting_closes_the_case(
    db: Database, visit: Visitors
) -> None:
    fake = clock.FakeClock(T0)
    with clock.use(fake):
        async with await signed_in(visit, db, "customer_service") as visitor:
            floor = await _floor(db, visitor)
            [stuck, lost] = [(await ful.shipped_order(visitor.client, floor.team))[0] for _ in range(2)]
            await ful.push(
                visitor.client, "SF", floor.secrets["SF"], [ful.event(lost["tracking_no"], "lost", T0)]
            )
            fake.advance(hours=2)
            await ful.push(
                visitor.client, "SF", floor.secrets["SF"], [ful.event(stuck["tracking_no"], "exception", T0)]
            )
            async with db.transaction() as session:
                cases = {c.shipment_id: c.id for c in await session.scalars(select(ShipmentException))}
            first, second = cases[lost["id"]], cases[stuck["id"]]

            listed = await visitor.get("/fulfillment/exceptions")
            assert re.findall(r'<tr id="case-(\d+)">', listed.text) == [str(first), str(second)]  # due first
            assert (
                'hx-get="/fulfillment/exceptions?"' in listed.text and 'hx-trigger="every 3s"' in listed.text
            )
            row = table_row(listed.text, f"case-{first}")
            assert 'class="clock running"' in row and "联系客户 · 剩余 10小时0分" in row
            assert "丢失" in row and lost["tracking_no"] in row and 'href="/fulfillment/exceptions/' in row
            other = (await visitor.get("/fulfillment/exceptions?kind=other")).text
            assert re.findall(r'<tr id="case-(\d+)">', other) == [str(second)]

            fake.advance(hours=10, minutes=5)  # past the 12 hours of the first case, before any sweep
            live = await visitor.get("/fulfillment/exceptions", headers={"HX-Request": "true"})
            assert "<html" not in live.text
            late = table_row(live.text, f"case-{first}")
            assert 'class="clock late"' in late and "已超时 5分钟" in late
            assert 'class="clock running"' in table_row(live.text, f"case-{second}")

            await visitor.get(f"/fulfillment/exceptions/{first}")
            empty = await visitor.post(f"/fulfillment/exceptions/{first}/contact", {"solution": "  "})
            assert empty.status_code == 422 and 'id="error-solution">必填<' in empty.text
            done = await visitor.post(
                f"/fulfillment/exceptions/{first}/contact", {"solution": "已补发，顺丰次日达"}
            )
            assert (done.status_code, done.headers["location"]) == (303, "/fulfillment/exceptions")
            after = await visitor.get("/fulfillment/exceptions")
            assert "已记录：已联系客户，工单已关闭。" in after.text
            assert re.findall(r'<tr id="case-(\d+)">', after.text) == [str(second)]
            closed = (await visitor.get("/fulfillment/exceptions?state=closed")).text
            assert "已联系" in table_row(closed, f"case-{first}")
            again = await visitor.post(f"/fulfillment/exceptions/{first}/contact", {"solution": "再联系一次"})
            assert again.status_code == 409 and "现为“已联系”，不能变为“已联系”" in again.text
            case_page = (await visitor.get(f"/fulfillment/exceptions/{first}")).text
            assert '<dd id="case-solution">已补发，顺丰次日达</dd>' in case_page
