"""The payments domain's sweeps run by the worker."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import clock, policy
from shopflow.core.errors import AppError
from shopflow.payments import repository, sandbox, service
from shopflow.payments.gateway import PROVIDERS, GatewayError

log = logging.getLogger("shopflow.payments")
QUERY_BATCH = 20  # pending payments asked about per worker transaction


async def query_pending(session: AsyncSession) -> int:
    """PAY-2, a notification missed: payments with Alipay or WeChat Pay pending for longer than
    `payments.query_pending_after_seconds` (and not asked about for as long) are asked about; what
    the provider answers is applied as its notification would be, under the same event id, so a
    notification arriving too changes nothing twice. How many it asked about."""
    names = [name for name in PROVIDERS if name != sandbox.PROVIDER]  # the sandbox only calls back
    if not names:
        return 0
    now = clock.now()
    before = now - timedelta(seconds=policy.current().payments.query_pending_after_seconds)
    due = await repository.unheard(session, names, before, QUERY_BATCH)
    for payment in due:
        payment.queried_at = now
    await session.flush()  # asked now, whatever the answer: not again before the interval
    for payment in due:
        try:
            event = await PROVIDERS[payment.provider].query(payment.out_trade_no)
        except GatewayError as exc:
            log.warning("payment %s: %s did not answer its query: %s", payment.id, payment.provider, exc)
            continue
        if event is not None:
            try:
                await service.apply_event(session, payment.provider, event)
            except AppError as exc:  # refused before anything was written: left for a person
                log.warning("payment %s: %s's answer is refused: %s", payment.id, payment.provider, exc)
    return len(due)
