"""Retention (SVC-9, AUD-1): the worker empties the text of ticket messages older than
`service.conversation_retention_years` (their ticket, kind, author and time stay, so the ticket's
facts and counts do), deletes audit rows older than `audit.retention_years`, a batch of each
(`service.care_batch`) per run, and logs what each run purged (`retention_purges`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core import audit, clock, policy
from shopflow.service import care_repository as repository
from shopflow.service.models import RetentionPurge, years_before


async def purge(session: AsyncSession) -> int:
    """One batch of the purge; how many messages and audit rows it purged (0: nothing is due)."""
    rules = policy.current()
    at = clock.now()
    batch = rules.service.care_batch
    messages_before = years_before(at, rules.service.conversation_retention_years)
    audit_before = years_before(at, rules.audit.retention_years)
    messages, tickets = await repository.purge_messages(session, messages_before, at, batch)
    audit_rows = await repository.purge_audit(session, audit_before, batch)
    if messages == 0 and audit_rows == 0:
        return 0
    log = RetentionPurge(
        at=at,
        messages_before=messages_before,
        messages=messages,
        tickets=tickets,
        audit_before=audit_before,
        audit_rows=audit_rows,
    )
    session.add(log)
    await session.flush()
    after = {"messages": messages, "tickets": tickets, "audit_rows": audit_rows}
    await audit.record(
        session, audit.row(audit.SYSTEM, "retention.purged", "retention", log.id, None, after, at)
    )
    return messages + audit_rows
