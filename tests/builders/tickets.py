"""Tickets and the customer-service staff who work them."""

from __future__ import annotations

from typing import Any

from shopflow.core import auth
from shopflow.core.audit import SYSTEM, Actor
from shopflow.core.db import Database
from shopflow.service import service
from shopflow.service.models import Ticket
from shopflow.service.schemas import TicketIn


def ticket_body(**overrides: Any) -> dict[str, Any]:
    """A valid chat inquiry with its first message."""
    return {
        "type": "inquiry",
        "channel": "chat",
        "subject": "物流到哪了",
        "body": "我的包裹到哪了？",
        **overrides,
    }


async def cs_team(
    db: Database, *names: str, supervisors: tuple[str, ...] = (), off_duty: tuple[str, ...] = ()
) -> None:
    """Customer-service agents `names` and supervisors `supervisors`, on duty unless in `off_duty`."""
    async with db.transaction() as session:
        for name in names:
            user = await auth.add_user(session, SYSTEM, name, "customer_service")
            user.on_duty = name not in off_duty
        for name in supervisors:
            user = await auth.add_user(session, SYSTEM, name, "cs_supervisor")
            user.on_duty = name not in off_duty
        await session.flush()


async def open_ticket(db: Database, actor: Actor = SYSTEM, **overrides: Any) -> Ticket:
    async with db.transaction() as session:
        return await service.create_ticket(session, actor, TicketIn.model_validate(ticket_body(**overrides)))
