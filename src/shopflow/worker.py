"""The worker (`shopflow worker`): runs every domain's sweeps in a loop: SLA breaches and their
actions (SLA-2, ORD-5, ORD-7), outbox delivery (NTF-1), and what each domain adds below.

A sweep claims a batch of due rows with `FOR UPDATE SKIP LOCKED` in its own transaction, acts on
them and returns how many it handled; the transaction commits when it returns. So several
workers on PostgreSQL never take the same row, and a worker killed mid-batch loses nothing: its
batch rolls back and is claimed again. Sending is the exception (`notify.deliver`): its claims and
their `sending` attempts commit before anything is sent, and a killed worker's are sent again,
under the same idempotency ids, once their leases run out. SQLite runs one worker.
SIGTERM/SIGINT stop the loop after the batch in progress has committed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.aftersales import tasks as aftersales_tasks
from shopflow.analytics import rollups
from shopflow.analytics import tasks as analytics_tasks
from shopflow.core import access, policy, sla
from shopflow.core.db import Database
from shopflow.core.errors import Invalid
from shopflow.crm.leads import tasks as lead_tasks
from shopflow.crm.quotes import tasks as quote_tasks
from shopflow.fulfillment import tasks as fulfillment_tasks
from shopflow.inventory import tasks as inventory_tasks
from shopflow.loyalty import tasks as loyalty_tasks
from shopflow.notify import tasks as notify_tasks
from shopflow.orders import tasks as order_tasks
from shopflow.orders.models import OrderClock
from shopflow.payments import refunds
from shopflow.payments import tasks as payment_tasks
from shopflow.planning import tasks as planning_tasks
from shopflow.risk import tasks as risk_tasks
from shopflow.service import tasks as service_tasks
from shopflow.stockcontrol import tasks as stockcontrol_tasks
from shopflow.wiring import connect

log = logging.getLogger("shopflow.worker")

Sweep = Callable[[AsyncSession], Awaitable[int]]

# What a clock's breach does besides its alert, by clock kind. Kinds not listed are alerted only
# (order.ship, order.deliver: ORD-6).
BREACH_ACTIONS: dict[str, sla.BreachAction] = {
    OrderClock.PAY: order_tasks.cancel_unpaid,  # ORD-5
    OrderClock.RECEIPT: order_tasks.assume_receipt,  # ORD-7
    OrderClock.AFTERSALES: aftersales_tasks.close_order,  # ORD-7: closes unless a case is open
    **fulfillment_tasks.BREACH_ACTIONS,  # FUL-6: a parcel without events for too long
    **lead_tasks.BREACH_ACTIONS,  # CRM-3: a lead not followed up: its owner and their manager
    **service_tasks.BREACH_ACTIONS,  # SVC-3: a late ticket goes to a supervisor
}

# Clock kinds whose end is the rule's normal course, not somebody late: acted on, never alerted.
QUIET_KINDS: set[str] = {
    OrderClock.RECEIPT,  # most customers never confirm receipt (ORD-7)
    OrderClock.AFTERSALES,  # every completed order closes when its window ends (ORD-7)
    *lead_tasks.QUIET_KINDS,  # alerted by their action, to people by name (CRM-3)
}


async def sla_breaches(session: AsyncSession) -> int:
    return await sla.sweep(session, BREACH_ACTIONS, QUIET_KINDS)


SWEEPS: dict[str, Sweep] = {
    "sla": sla_breaches,  # SLA-2: due clocks -> breached, alerted, acted on
    "sla.recompute": sla.recompute,  # SLA-1: the calendar changed -> business-time deadlines again
    "tickets.rebudget": service_tasks.rebudget,  # SLA-1: a ticket clock's duration or basis changed
    "orders.shortages": order_tasks.release_shortages,  # INV-5: stock there -> holds released
    "planning.shortages": planning_tasks.shortages,  # ORD-4: held for stock -> a PO, a ship date told
    "inventory.safety_stock": planning_tasks.safety_stock,  # INV-4: low-stock alerts, once per fall
    "planning.forecast": planning_tasks.forecast,  # ANA-5: demand rolled up, forecasts made, nightly
    "inventory.markdowns": inventory_tasks.markdowns,  # CAT-3: markdowns' stock trigger
    "stockcontrol.counts": stockcontrol_tasks.schedule_counts,  # INV-6: weekly partial, monthly full
    "payments.refund_cancelled": refunds.refund_cancelled_orders,  # PAY-3: a cancelled order's capture
    "payments.refund_retry": refunds.retry_failed_refunds,  # PAY-3: a failed automatic refund, same key
    "payments.query": payment_tasks.query_pending,  # PAY-2: a missed notification -> the provider asked
    "risk.counters": risk_tasks.prune_counters,  # RSK-1: velocity counters past every window
    "risk.auto_cancel": risk_tasks.cancel_rejected,  # RSK-1: past `reject`, only if the policy says so
    "leads.conversions": lead_tasks.conversions,  # CRM-4: a lead's phone ordered -> converted
    "quotes.expiry": quote_tasks.expire,  # CRM-6: approved or sent quotes past their validity
    "points.expiry": loyalty_tasks.expire_points,  # LOY-1: credits past their date, FIFO
    "service.surveys": service_tasks.surveys_due,  # SVC-6: surveys due -> sent once, call-backs
    "service.care": service_tasks.greetings,  # SVC-8: today's greetings, periodic call-backs
    "service.retention": service_tasks.retention_purge,  # SVC-9, AUD-1: old texts and audit rows
    "analytics.reports": analytics_tasks.scheduled_reports,  # ANA-4: a period ended -> its report queued
    "analytics.rollups": rollups.refresh,  # ANA-1: whole past months' metric sets kept fresh
    "notify.dispatch": notify_tasks.dispatch,  # outbox events -> deliveries (NTF-1)
    "notify.deliver": notify_tasks.deliver,  # send, retry with back-off, dead letter (NTF-1)
    "access.sessions": access.prune_sessions,  # console sessions ended or unused for too long
}


def check_interval(seconds: float) -> None:
    """A worker that waits longer than the policy's detection time would see breaches late (SLA-2)."""
    limit = policy.current().sla.breach_detection_seconds
    if not 0 < seconds <= limit:
        raise Invalid(
            f"the worker interval must be more than 0 and at most {limit} s "
            f"(sla.breach_detection_seconds, SLA-2), not {seconds:g} s",
            code="invalid_interval",
        )


class Worker:
    """Runs every sweep batch after batch until it finds nothing due, then waits `interval`
    seconds, until stopped."""

    def __init__(self, db: Database, interval: float) -> None:
        check_interval(interval)
        connect()  # a refund the retry sweep settles settles its case, as through the API
        self.db = db
        self.interval = interval
        self._stop = asyncio.Event()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End the loop once the batch in progress has committed."""
        if not self.stopping:
            log.info("stopping after the batch in progress")
        self._stop.set()

    def handle_signals(self) -> None:
        """SIGTERM and SIGINT stop the worker gracefully (call inside the running loop)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)

    async def drain(self, sweep: Sweep) -> int:
        """Run `sweep`, one transaction a batch, until it finds nothing due; how many it handled."""
        handled = 0
        while not self.stopping:
            async with self.db.transaction() as session:
                count = await sweep(session)
            handled += count
            if count == 0:
                break
        return handled

    async def run_once(self) -> dict[str, int]:
        """Drain every sweep once; how many items each handled."""
        return {name: await self.drain(sweep) for name, sweep in SWEEPS.items()}

    async def run(self) -> None:
        """Drain every sweep every `interval` seconds until stopped. A failing sweep is logged and
        tried again next round; the others go on."""
        log.info("worker started: %s every %g s", ", ".join(SWEEPS), self.interval)
        while not self.stopping:
            for name, sweep in SWEEPS.items():
                try:
                    handled = await self.drain(sweep)
                except Exception:
                    log.exception("sweep %s failed; trying again in %g s", name, self.interval)
                    continue
                if handled:
                    log.info("%s: %d handled", name, handled)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
        log.info("worker stopped")
