"""The worker's notification sweeps (NTF-1): relay the outbox, then send what is due."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.settings import get_settings
from shopflow.notify import service
from shopflow.notify.channels import Senders

DISPATCH_BATCH = 200  # outbox events claimed per transaction
# Deliveries sent per transaction, all at once. Their row locks (on SQLite the database's write
# lock) are held while sending, so a batch is one round of sends: it lasts as long as its slowest
# send, which the timeouts bound (`SHOPFLOW_SMTP_TIMEOUT`, `SHOPFLOW_WEBHOOK_TIMEOUT`).
DELIVER_BATCH = 20


async def dispatch(session: AsyncSession) -> int:
    """Fan due outbox events out into deliveries; how many events were claimed."""
    return await service.dispatch(session, DISPATCH_BATCH)


async def deliver(session: AsyncSession) -> int:
    """Send due deliveries through the configured channels; how many were attempted."""
    return await service.deliver_due(session, Senders(get_settings()), DELIVER_BATCH)
