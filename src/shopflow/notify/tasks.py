"""The worker's notification sweeps (NTF-1): relay the outbox, then send what is due."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.settings import get_settings
from shopflow.notify import service
from shopflow.notify.channels import Senders
from shopflow.notify.models import Delivery

log = logging.getLogger("shopflow.notify")

DISPATCH_BATCH = 200  # outbox events claimed per transaction
# Deliveries claimed per batch and sent all at once: a batch lasts as long as its slowest send,
# which the timeouts bound (`SHOPFLOW_SMTP_TIMEOUT`, `SHOPFLOW_WEBHOOK_TIMEOUT`). No lock is held
# while sending: the claims' leases keep other workers off.
DELIVER_BATCH = 20


async def dispatch(session: AsyncSession) -> int:
    """Fan due outbox events out into deliveries; how many events were claimed."""
    return await service.dispatch(session, DISPATCH_BATCH)


class Failures:
    """Failed sends of the sweep in progress, by channel, with each channel's last error: a relay
    that is down is one log line a sweep, not one a delivery (each attempt is in the delivery log)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.errors: dict[str, str] = {}

    def add(self, attempted: Sequence[Delivery]) -> None:
        for delivery in attempted:
            if delivery.last_error is not None:  # its attempt failed
                self.counts[delivery.channel] += 1
                self.errors[delivery.channel] = delivery.last_error

    def report(self) -> None:
        """Log the sweep's failures, if any, in one line, and start counting afresh."""
        if not self.counts:
            return
        channels = "; ".join(
            f"{channel} {n}: {self.errors[channel]}" for channel, n in sorted(self.counts.items())
        )
        log.warning(
            "%d deliveries failed in this sweep (%s); see the delivery log", self.counts.total(), channels
        )
        self.counts.clear()
        self.errors.clear()


def _claimant() -> str:
    """Who claims a batch (`Delivery.claimed_by`): this host and process, and the batch."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# The worker drains this sweep batch after batch, each in its own transaction; the batch that
# finds nothing due ends the sweep and reports it.
_failures = Failures()


async def deliver(session: AsyncSession) -> int:
    """Send due deliveries through the configured channels; how many were attempted.

    Two transactions: the claim and its `sending` attempts are committed before anything is
    sent, so a worker killed mid-send leaves a visible record and its claims expire; the
    outcomes are written by the worker's unit of work afterwards."""
    claim = await service.claim_due(session, _claimant(), DELIVER_BATCH)
    if claim is None:
        _failures.report()
        return 0
    await session.commit()
    outcomes = await Senders(get_settings()).send_all(claim.deliveries, claim.webhooks)
    sent = await service.record_sends(session, claim, outcomes)
    _failures.add(sent)
    return len(sent) + claim.given_up
