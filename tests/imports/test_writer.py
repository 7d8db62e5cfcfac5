"""The history writer as another loader (the demo's history) calls it: in the caller's
transaction, customers found again by phone or platform key across batches, the count time as
ANA-1 pins it in Python and in SQL, nothing stored twice, and no sweep taking history up."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from shopflow.analytics import metrics
from shopflow.analytics.importing.records import Capture, HistoricalLine, HistoricalOrder, Identity
from shopflow.analytics.importing.writer import history_order_no, write
from shopflow.analytics.models import PeriodKind
from shopflow.core.audit import SYSTEM
from shopflow.core.db import Database
from shopflow.crm.models import Customer
from shopflow.orders.models import UNDATED, Order, OrderStatus
from shopflow.payments.refunds import refund_cancelled_orders

PAID = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def history(
    number: str, who: Identity | None, *, status: OrderStatus = OrderStatus.COMPLETED, dated: bool = True
) -> HistoricalOrder:
    return HistoricalOrder(
        channel="import",
        channel_order_no=number,
        status=status,
        placed_at=PAID if dated else None,
        line=2,
        lines=(HistoricalLine("H-SKU", "Tea", 2, 5000, category=("Drinks", "Tea")),),
        captures=(Capture(10000, "alipay", PAID if dated else None),),
        customer=who,
    )


async def test_a_batch_is_written_once_with_its_customers_found_again_in_later_batches(db: Database) -> None:
    ann = Identity("import", "ann-1", "Ann", phone="+86 139-0000-0001")
    bo = Identity("import", "bo@example.com", "Bo", email="bo@example.com")
    async with db.transaction() as session:
        first = await write(session, SYSTEM, [history("1", ann), history("2", bo), history("2", bo)])
        second = await write(
            session,
            SYSTEM,
            [
                history("1", ann),
                history("3", Identity("import", "other-key", "Ann", phone="13900000001")),
                history("4", Identity("import", "BO@example.com", "Bo")),
                history("5", None, dated=False),
            ],
        )
        found = await session.execute(select(Order.channel_order_no, Order.customer_id))
        customers = {number: customer for number, customer in found}
        people = await session.scalar(select(func.count()).select_from(Customer))

    assert (first.loaded, first.present, first.customers, first.skus) == (2, 1, 2, 1)
    assert (second.loaded, second.present, second.customers, second.skus) == (3, 1, 0, 0)
    # Ann by her mobile however written; Bo by his platform key (an email, in any case).
    assert customers["1"] == customers["3"] and customers["2"] == customers["4"] != customers["1"]
    assert customers["5"] is None and people == 2


async def test_the_count_time_is_the_first_capture_or_undated_in_python_and_in_sql(db: Database) -> None:
    async with db.transaction() as session:
        await write(session, SYSTEM, [history("d", None), history("u", None, dated=False)])
        rows = list(await session.execute(select(Order.channel_order_no, Order.counted_at)))
        orders = {o.channel_order_no: o for o in await session.scalars(select(Order))}

    assert {number: at for number, at in rows} == {"d": PAID, "u": UNDATED}
    assert orders["d"].counted_at == PAID and orders["u"].counted_at == UNDATED
    assert orders["u"].paid_at is None and orders["u"].undated
    assert orders["d"].order_no == history_order_no("import", "d")


async def test_an_imported_order_cancelled_after_payment_is_not_refunded_by_the_worker(db: Database) -> None:
    async with db.transaction() as session:
        await write(session, SYSTEM, [history("c", None, status=OrderStatus.CANCELLED)])
        assert await refund_cancelled_orders(session) == 0


async def test_undated_history_makes_a_repeat_customer_in_all_time_only_and_no_repurchase_cycle(
    db: Database,
) -> None:
    ann = Identity("import", "ann-1", "Ann", phone="+86 139-0000-0001")
    async with db.transaction() as session:
        await write(session, SYSTEM, [history("u", ann, dated=False), history("d", ann)])
        month = PeriodKind.MONTH
        march = (await metrics.compute(session, date(2026, 3, 1), date(2026, 3, 31), None, month))[0]
        whole = (await metrics.compute(session, None, None, None, None))[0]

    def figures(row: metrics.Row, name: str) -> tuple[object, object]:
        return row.metrics[name].numerator, row.metrics[name].denominator

    # March holds Ann's dated order only; her undated one counts in all time, where she has two.
    assert figures(march, "repurchase_rate") == (0, 1)
    assert figures(whole, "repurchase_rate") == (1, 1)
    # No gap: the undated order has no time to measure from.
    assert figures(march, "repurchase_cycle_days")[1] == 0
    assert figures(whole, "repurchase_cycle_days")[1] == 0
