"""Random sequences of API actions keep ORD-3, INV-1 and INV-2 (a Hypothesis state machine).

Actions: place an order (sometimes for more than is in stock), cancel, hold, release, start a
payment and let the sandbox gateway complete it with success or failure, receive stock (also
with a repeated reference or a bad quantity). A model predicts every answer; after every step
the stored orders, payments and stock must match it, every status change must be one ORD-3
allows (on_hold returning only to the state it left, or to paid when money was captured during
the hold, which keeps the hold and requests no refund), on-hand must equal the ledger, and
reserved must equal the active reservations and stay within 0..on-hand. A refused action must
answer with its documented error and leave every table exactly as it was.

Hypothesis drives a synchronous machine, so this is a sync test with its own event loop and
engine; every example runs in one transaction on one connection that is rolled back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from shopflow.catalog.models import Sku
from shopflow.core.audit import AuditEntry
from shopflow.core.db import Database, create_engine
from shopflow.core.events import OutboxEvent
from shopflow.inventory.models import Reservation, ReservationState, Stock, Warehouse
from shopflow.orders.models import TRANSITIONS, HoldReason, Order, OrderStatus
from shopflow.payments import refunds
from shopflow.payments.models import Payment, PaymentStatus
from shopflow.schema import metadata
from tests.builders.auth import bearer
from tests.builders.inventory import all_stock, ledger_sums
from tests.builders.orders import order_body
from tests.builders.store import small_store
from tests.conftest import TEST_URL, make_app

S = OrderStatus
T = TypeVar("T")
PRICES = {"SKU-1": "99.00", "SKU-2": "45.50", "SKU-3": "12.00"}
WAREHOUSES = ("WH-A", "WH-B")
# Little stock, so that random orders often find it short (ORD-4) and receipts matter.
START_STOCK = {"SKU-1": (4, 3), "SKU-2": (5, 0), "SKU-3": (0, 3)}
CANCELLABLE = frozenset(s for s, targets in TRANSITIONS.items() if S.CANCELLED in targets)
HOLDABLE = frozenset(s for s, targets in TRANSITIONS.items() if S.ON_HOLD in targets)

LINES = st.lists(st.tuples(st.sampled_from(sorted(PRICES)), st.integers(1, 4)), min_size=1, max_size=2)
METHODS = st.sampled_from(["alipay", "wechat", "card"])
OUTCOMES = st.sampled_from(["success", "failure", "success"])


def lawful(before: str | None, after: str, held_from: str | None, paid: bool) -> bool:
    """ORD-3: a step the TRANSITIONS table allows; on_hold goes back only where it came from, or
    to paid once paid; on_hold to on_hold is a payment captured during the hold, once."""
    if before is None:
        return after == S.PENDING
    if before == after == S.ON_HOLD:
        return not paid
    if after not in TRANSITIONS[S(before)]:
        return False
    return before != S.ON_HOLD or after in (S.CANCELLED, S.PAID if paid else held_from)


def assert_lawful_history(order_id: int, steps: list[tuple[str | None, str]]) -> None:
    """Every step of an order's history continues from the last one and is lawful."""
    current: str | None = None
    held_from: str | None = None
    paid = False
    for index, (before, after) in enumerate(steps):
        assert before == current, f"order {order_id} step {index} starts at {before}, was {current}"
        assert lawful(before, after, held_from, paid), f"order {order_id} went {before} -> {after} (ORD-3)"
        if after == S.ON_HOLD and before != S.ON_HOLD:
            held_from = before
        paid = paid or after == S.PAID or before == after == S.ON_HOLD
        current = after


@dataclass
class Harness:
    runner: asyncio.Runner
    engine: AsyncEngine


@dataclass
class ModelOrder:
    demand: Counter[str]
    total: str
    status: S
    held_from: S | None = None
    hold_reason: str | None = None
    reserved: bool = False
    paid: bool = False
    captured: int = 0  # payments captured for this order, taken by it or not
    refunds: int = 0  # payment.refund_requested events expected for this order
    refunded_at_once: int = 0  # captures refunded when they arrived (the order was paid already)
    steps: list[tuple[str | None, str]] = field(default_factory=list)

    def move(self, target: S) -> None:
        self.steps.append((self.status, target))
        self.status = target


@dataclass
class Facts:
    """What is stored, read in one unit of work after every step."""

    orders: list[tuple[int, str, str | None, str | None]]
    payments: dict[int, str]
    stock: list[Stock]
    ledger: dict[tuple[int, int], int]
    trails: dict[int, list[tuple[str | None, str]]] = field(default_factory=dict)
    active: Counter[int] = field(default_factory=Counter)  # units actively reserved per stock row
    refunds: Counter[str] = field(default_factory=Counter)  # refund requests per order subject


@dataclass
class ModelPayment:
    order_id: int
    status: PaymentStatus = PaymentStatus.PENDING


class OrderLifecycle(RuleBasedStateMachine):
    harness: ClassVar[Harness]
    orders = Bundle("orders")
    payments = Bundle("payments")
    receipts = Bundle("receipts")

    def __init__(self) -> None:
        super().__init__()
        self.connection: AsyncConnection
        self.transaction: AsyncTransaction
        self.connection, self.transaction = self.run(self._open())
        try:
            self.db = Database(self.harness.engine, bind=self.connection)
            transport = httpx.ASGITransport(app=make_app(self.db))  # type: ignore[arg-type]
            self.client = httpx.AsyncClient(transport=transport, base_url="http://test")
            self.run(small_store(self.db, START_STOCK))
            self.sales = self.run(bearer(self.db, "sales"))
            self.admin = self.run(bearer(self.db, "admin"))  # lets the sandbox complete payments
            self.operations = self.run(bearer(self.db, "operations"))
            self.sku_ids, self.warehouse_ids = self.run(self._ids())
        except BaseException:
            self.run(self._close())
            raise
        self.model: dict[int, ModelOrder] = {}
        self.model_payments: dict[int, ModelPayment] = {}
        self.on_hand = Counter[tuple[str, str]]()
        for sku, units in START_STOCK.items():
            for warehouse, quantity in zip(WAREHOUSES, units, strict=True):
                self.on_hand[(sku, warehouse)] += quantity
        self.seen: dict[int, list[tuple[str | None, str]]] = {}  # history observed per order
        self.references = itertools.count(1)

    # --- plumbing ----------------------------------------------------------------------------

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.harness.runner.run(work)

    async def _open(self) -> tuple[AsyncConnection, AsyncTransaction]:
        connection = await self.harness.engine.connect()
        return connection, await connection.begin()

    async def _close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            await client.aclose()
        await self.transaction.rollback()
        await self.connection.close()

    def teardown(self) -> None:
        self.run(self._close())

    async def _ids(self) -> tuple[dict[str, int], dict[str, int]]:
        async with self.db.transaction() as session:
            skus = dict((await session.execute(select(Sku.code, Sku.id))).tuples().all())
            warehouses = dict((await session.execute(select(Warehouse.code, Warehouse.id))).tuples().all())
        return skus, warehouses

    def post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        return self.run(self.client.post(url, json=body, headers=headers))

    async def _snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to prove that a refused action changed nothing."""
        async with self.db.transaction() as session:
            return {
                table.name: [
                    tuple(row)
                    for row in await session.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in metadata.sorted_tables
            }

    def refused(
        self, url: str, body: dict[str, Any], headers: dict[str, str], code: str, status: int = 409
    ) -> None:
        before = self.run(self._snapshot())
        reply = self.post(url, body, headers)
        assert (reply.status_code, reply.json().get("code")) == (status, code), reply.text
        after = self.run(self._snapshot())
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, f"refused POST {url} changed tables {changed}"

    def having(self, status: S) -> list[int]:
        return sorted(order_id for order_id, order in self.model.items() if order.status == status)

    def available(self, sku: str) -> int:
        on_hand = sum(self.on_hand[(sku, w)] for w in WAREHOUSES)
        reserved = sum(o.demand[sku] for o in self.model.values() if o.reserved)
        return on_hand - reserved

    def stock_suffices(self, demand: Counter[str]) -> bool:
        return all(self.available(sku) >= quantity for sku, quantity in demand.items())

    def check_order(self, order_id: int) -> None:
        """GET the order: status, hold, full history and reservations as the model says."""
        expected = self.model[order_id]
        reply = self.run(self.client.get(f"/api/v1/orders/{order_id}", headers=self.sales))
        assert reply.status_code == 200, reply.text
        order = reply.json()
        assert order["status"] == expected.status
        if expected.status == S.ON_HOLD:
            assert order["hold_reason"] == expected.hold_reason
        steps = [(entry["from_status"], entry["to_status"]) for entry in order["history"]]
        assert_lawful_history(order_id, steps)
        assert steps == expected.steps
        active = Counter[int]()
        for reservation in order["reservations"]:
            if reservation["state"] == ReservationState.ACTIVE:
                active[reservation["sku_id"]] += reservation["quantity"]
        wanted = {self.sku_ids[sku]: q for sku, q in expected.demand.items()} if expected.reserved else {}
        assert dict(active) == wanted, f"order {order_id} holds {dict(active)}, expected {wanted}"

    # --- actions -----------------------------------------------------------------------------

    @initialize(target=orders, lines=LINES)
    def first_order(self, lines: list[tuple[str, int]]) -> int:
        return self.place_order(lines)

    @rule(target=orders, lines=LINES)
    def place_order(self, lines: list[tuple[str, int]]) -> int:
        demand = Counter[str]()
        for sku, quantity in lines:
            demand[sku] += quantity
        in_stock = self.stock_suffices(demand)
        body = order_body([(sku, quantity, PRICES[sku]) for sku, quantity in lines])
        reply = self.post("/api/v1/orders", body, self.sales)
        assert reply.status_code == 201, reply.text
        placed = reply.json()
        order = ModelOrder(demand=demand, total=placed["totals"]["total"], status=S.PENDING)
        order.steps.append((None, S.PENDING))
        if in_stock:
            order.move(S.CONFIRMED)
            order.reserved = True
        else:  # ORD-4, default policy: held for the shortage, nothing reserved
            order.move(S.ON_HOLD)
            order.held_from, order.hold_reason = S.PENDING, HoldReason.STOCK_SHORTAGE
        assert (placed["status"], placed["hold_reason"]) == (order.status, order.hold_reason)
        self.model[placed["id"]] = order
        self.check_order(placed["id"])
        return int(placed["id"])

    @rule(order_id=orders)
    def cancel(self, order_id: int) -> None:
        order = self.model[order_id]
        url = f"/api/v1/orders/{order_id}/cancel"
        if order.status not in CANCELLABLE:
            self.refused(url, {"reason": "customer asked"}, self.operations, "invalid_transition")
        else:
            reply = self.post(url, {"reason": "customer asked"}, self.operations)
            assert reply.status_code == 200, reply.text
            order.move(S.CANCELLED)
            order.held_from, order.reserved = None, False  # INV-2: released on cancel
            # Each captured payment goes back through the refund ledger (PAY-3), also after a hold;
            # one refunded when it arrived (a second capture of a paid order) is not refunded again.
            order.refunds += order.captured - order.refunded_at_once
        self.check_order(order_id)

    @rule(order_id=orders, reason=st.sampled_from(list(HoldReason)))
    def hold(self, order_id: int, reason: HoldReason) -> None:
        order = self.model[order_id]
        url = f"/api/v1/orders/{order_id}/hold"
        if order.status not in HOLDABLE:
            self.refused(url, {"reason": reason}, self.operations, "invalid_transition")
        else:
            reply = self.post(url, {"reason": reason}, self.operations)
            assert reply.status_code == 200, reply.text
            order.held_from, order.hold_reason = order.status, reason
            order.move(S.ON_HOLD)
        self.check_order(order_id)

    @rule(order_id=orders)
    def release(self, order_id: int) -> None:
        self._release(order_id)

    @precondition(lambda self: self.having(S.ON_HOLD))
    @rule(data=st.data())
    def release_a_held_order(self, data: st.DataObject) -> None:
        self._release(data.draw(st.sampled_from(self.having(S.ON_HOLD)), label="order_id"))

    def _release(self, order_id: int) -> None:
        order = self.model[order_id]
        url = f"/api/v1/orders/{order_id}/release"
        if order.status != S.ON_HOLD:
            self.refused(url, {}, self.operations, "invalid_transition")
        elif (
            order.hold_reason == HoldReason.STOCK_SHORTAGE
            and order.held_from == S.PENDING
            and not self.stock_suffices(order.demand)
        ):
            self.refused(url, {}, self.operations, "out_of_stock")  # stays on hold
        else:
            reply = self.post(url, {}, self.operations)
            assert reply.status_code == 200, reply.text
            assert order.held_from is not None
            if order.held_from == S.PENDING:  # a stock-shortage hold from intake: now reserved
                order.reserved = True
            order.move(S.PAID if order.paid else order.held_from)  # paid during the hold: paid
            if order.status == S.PENDING:  # and, unpaid, confirmed
                order.move(S.CONFIRMED)
            order.held_from = order.hold_reason = None
        self.check_order(order_id)

    @rule(target=payments, order_id=orders, method=METHODS)
    def start_payment(self, order_id: int, method: str) -> Any:
        payment_id = self._start_payment(order_id, method)
        return multiple() if payment_id is None else payment_id

    @precondition(lambda self: self.having(S.CONFIRMED))
    @rule(target=payments, data=st.data(), method=METHODS, outcome=OUTCOMES)
    def pay_a_confirmed_order(self, data: st.DataObject, method: str, outcome: str) -> int:
        payment_id = self._start_payment(data.draw(st.sampled_from(self.having(S.CONFIRMED))), method)
        assert payment_id is not None
        self._complete_payment(payment_id, outcome)
        return payment_id

    @rule(payment_id=payments, outcome=OUTCOMES)
    def complete_payment(self, payment_id: int, outcome: str) -> None:
        self._complete_payment(payment_id, outcome)

    def _start_payment(self, order_id: int, method: str) -> int | None:
        order = self.model[order_id]
        url = f"/api/v1/orders/{order_id}/payments"
        # A confirmed order takes a payment, and so does one held before it was paid (ORD-3).
        if not (order.status == S.CONFIRMED or (order.status == S.ON_HOLD and not order.paid)):
            self.refused(url, {"method": method}, self.sales, "invalid_transition")
            self.check_order(order_id)
            return None
        reply = self.post(url, {"method": method}, self.sales)
        assert reply.status_code == 201, reply.text
        payment = reply.json()
        assert (payment["status"], payment["amount"]) == (PaymentStatus.PENDING, order.total)
        self.model_payments[payment["payment_id"]] = ModelPayment(order_id)
        self.check_order(order_id)
        return int(payment["payment_id"])

    def _complete_payment(self, payment_id: int, outcome: str) -> None:
        """The sandbox gateway calls back (PAY-2); a capture pays a confirmed order, and a held one
        that was not paid yet keeps its hold, remembering it is paid (ORD-3); nothing else."""
        payment = self.model_payments[payment_id]
        order = self.model[payment.order_id]
        reply = self.post(f"/api/v1/sandbox/payments/{payment_id}/complete", {"outcome": outcome}, self.admin)
        assert reply.status_code == 200, reply.text
        [delivery] = reply.json()["deliveries"]
        assert delivery["status_code"] == 200, delivery
        target = PaymentStatus.SUCCEEDED if outcome == "success" else PaymentStatus.FAILED
        if payment.status == PaymentStatus.SUCCEEDED or payment.status == target:
            expected = "ignored"
        else:
            payment.status = target
            expected = "applied"
            if target == PaymentStatus.SUCCEEDED:
                order.captured += 1
                if order.status == S.CONFIRMED:
                    order.move(S.PAID)
                    order.paid = True
                elif order.status == S.ON_HOLD and not order.paid:
                    order.move(S.ON_HOLD)
                    order.paid = True
                else:  # captured for an order that cannot take it: alerted and refunded, once
                    expected = "order_not_payable"
                    # The ledger's refund: at once, or by the cancel sweep if the order is cancelled.
                    order.refunds += 1
                    if order.status != S.CANCELLED:
                        order.refunded_at_once += 1
        assert delivery["body"]["result"] == expected, delivery
        self.check_order(payment.order_id)

    @rule(
        target=receipts,
        sku=st.sampled_from(sorted(PRICES)),
        warehouse=st.sampled_from(WAREHOUSES),
        quantity=st.integers(-1, 6),
    )
    def receive(self, sku: str, warehouse: str, quantity: int) -> Any:
        reference = f"PO-{next(self.references)}"
        body = {"warehouse": warehouse, "reference": reference, "lines": [{"sku": sku, "quantity": quantity}]}
        url = "/api/v1/inventory/receipts"
        if quantity <= 0:
            self.refused(url, body, self.operations, "invalid", status=422)
            return multiple()
        reply = self.post(url, body, self.operations)
        assert reply.status_code == 201, reply.text
        self.on_hand[(sku, warehouse)] += quantity
        return (warehouse, reference)

    @rule(receipt=receipts, sku=st.sampled_from(sorted(PRICES)))
    def receive_same_reference_again(self, receipt: tuple[str, str], sku: str) -> None:
        warehouse, reference = receipt
        body = {"warehouse": warehouse, "reference": reference, "lines": [{"sku": sku, "quantity": 3}]}
        self.refused("/api/v1/inventory/receipts", body, self.operations, "duplicate_receipt")

    # --- invariants --------------------------------------------------------------------------

    async def _facts(self) -> Facts:
        async with self.db.transaction() as session:  # the worker's sweep (PAY-3)
            await refunds.refund_cancelled_orders(session)
        async with self.db.transaction() as session:
            facts = Facts(
                orders=list(
                    (
                        await session.execute(
                            select(Order.id, Order.status, Order.held_from, Order.hold_reason)
                        )
                    ).tuples()
                ),
                payments=dict((await session.execute(select(Payment.id, Payment.status))).tuples().all()),
                stock=await all_stock(session),
                ledger=await ledger_sums(session),
            )
            stmt = (
                select(AuditEntry.entity_id, AuditEntry.before, AuditEntry.after)
                .where(AuditEntry.entity == "order")
                .order_by(AuditEntry.id)
            )
            for entity_id, before, after in (await session.execute(stmt)).tuples():
                step = ((before or {}).get("status"), after["status"])
                facts.trails.setdefault(int(entity_id), []).append(step)
            stmt = select(Reservation.stock_id, Reservation.quantity).where(
                Reservation.state == ReservationState.ACTIVE
            )
            for stock_id, quantity in (await session.execute(stmt)).tuples():
                facts.active[stock_id] += quantity
            stmt = select(OutboxEvent.subject).where(OutboxEvent.event == "payment.refund_requested")
            facts.refunds.update(await session.scalars(stmt))
            return facts

    @invariant()
    def stored_state_is_lawful_and_as_modelled(self) -> None:
        facts = self.run(self._facts())

        # ORD-3: every order's stored history is lawful and append-only, and every status change
        # since the last step is the end of lawful steps taken from the status seen then.
        assert {order_id for order_id, *_ in facts.orders} == set(self.model)
        for order_id, status, held_from, hold_reason in facts.orders:
            expected = self.model[order_id]
            steps = facts.trails[order_id]
            assert_lawful_history(order_id, steps)
            assert steps[-1][1] == status, f"order {order_id} is {status}, its history ends elsewhere"
            seen = self.seen.get(order_id, [])
            assert steps[: len(seen)] == seen, f"order {order_id}: history was rewritten"
            if seen and seen[-1][1] != status:
                assert len(steps) > len(seen), f"order {order_id} changed status without a history entry"
            self.seen[order_id] = steps
            assert (status, held_from) == (expected.status, expected.held_from), f"order {order_id}"
            if status == S.ON_HOLD:
                assert hold_reason == expected.hold_reason
        assert facts.payments == {pid: p.status for pid, p in self.model_payments.items()}
        # PAY-3: money captured for an order that is cancelled or cannot take it is sent back.
        refunds = {f"order:{order_id}": o.refunds for order_id, o in self.model.items() if o.refunds}
        assert dict(facts.refunds) == refunds

        # INV-1: on-hand per SKU per warehouse equals the sum of its ledger.
        stored = {(row.sku_id, row.warehouse_id): row.on_hand for row in facts.stock}
        assert set(facts.ledger) <= set(stored), "ledger rows for a stock row that does not exist"
        for key, quantity in stored.items():
            assert facts.ledger.get(key, 0) == quantity, f"(sku, warehouse) {key}: on-hand != ledger"
        # INV-2: reserved is what the active reservations hold, never negative, never above on-hand.
        reserved_by_sku = Counter[int]()
        for row in facts.stock:
            assert 0 <= row.reserved <= row.on_hand, f"stock row {row.id}: {row.reserved}/{row.on_hand}"
            assert row.reserved == facts.active[row.id], f"stock row {row.id}: reserved != reservations"
            reserved_by_sku[row.sku_id] += row.reserved
        # ... and both agree with what the model received and reserved.
        on_hand = {
            (self.sku_ids[sku], self.warehouse_ids[warehouse]): quantity
            for (sku, warehouse), quantity in self.on_hand.items()
            if quantity
        }
        assert {key: quantity for key, quantity in stored.items() if quantity} == on_hand
        for sku, sku_id in self.sku_ids.items():
            reserved = sum(o.demand[sku] for o in self.model.values() if o.reserved)
            assert reserved_by_sku[sku_id] == reserved, f"{sku}: reserved {reserved_by_sku[sku_id]}"


def test_random_order_lifecycles_keep_ord3_inv1_inv2() -> None:
    with asyncio.Runner() as runner:
        engine = create_engine(TEST_URL)
        try:

            class Machine(OrderLifecycle):
                harness = Harness(runner, engine)

            run_state_machine_as_test(
                Machine,
                settings=settings(
                    max_examples=25,
                    stateful_step_count=15,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                ),
            )
        finally:
            runner.run(engine.dispose())
