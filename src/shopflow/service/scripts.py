"""The reply scripts an agent inserts into a ticket's answer (SVC-4): the knowledge base's
scripts, the agent's language first, found by its search, each rendered for the ticket with its
customer's name and its order's number filled in (`kb.service.render_script`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.personal_data import Viewer
from shopflow.crm import service as crm
from shopflow.kb import service as kb
from shopflow.orders.service import queries as orders
from shopflow.service.models import Ticket
from shopflow.service.service import get_ticket

# How a script addresses a customer the ticket does not name, by the script's language.
ANONYMOUS = {"zh_CN": "顾客", "en": "customer"}
NO_ORDER = "${order_no}"  # a ticket without an order keeps the placeholder for the agent to fill


@dataclass(frozen=True, slots=True)
class Script:
    id: int
    title: str
    text: str
    language: str
    category: str


async def _customer_name(session: AsyncSession, viewer: Viewer, ticket: Ticket) -> str | None:
    """The ticket's customer's name as this viewer may see it (the read logged), if it has one."""
    if ticket.customer_id is None:
        return None
    customer = await crm.get_customer(session, ticket.customer_id)
    if not customer.name:
        return None
    shown = viewer.contact(session, "customer", customer.id, {"customer": {"name": customer.name}})
    return str(shown["customer"]["name"])


async def for_ticket(
    session: AsyncSession, viewer: Viewer, ticket_id: int, text: str, language: str, number: int, size: int
) -> tuple[list[Script], int]:
    """A page of reply scripts for the ticket: those `text` finds, or all, the ones in `language`
    first; each one's text rendered for this ticket (404 for a ticket that does not exist)."""
    ticket = await get_ticket(session, ticket_id)
    found, total = await kb.reply_scripts(session, text, language, number, size)
    if not found:
        return [], total
    name = await _customer_name(session, viewer, ticket)
    order_no = NO_ORDER
    if ticket.order_id is not None:
        order_no = (await orders.get_order(session, ticket.order_id)).order_no
    return [
        Script(
            id=article.id,
            title=article.title,
            text=kb.render_script(article, name or ANONYMOUS.get(article.language, ""), order_no),
            language=article.language,
            category=article.category,
        )
        for article in found
    ], total
