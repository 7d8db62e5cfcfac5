"""The member's points page on the console (LOY-1): tier, balance and the ledger, paged, and the
adjustment form for users who may adjust points (`members.adjust`).

Its texts live in its templates (customers/points*.html), which the catalogs' extraction reads:
babel.cfg reads only modules named console.py, not this one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.api import Session
from shopflow.core.console.forms import Pager, attempt, filled, form_errors, form_values, page_size, parsed
from shopflow.core.console.page import Console
from shopflow.core.console.registry import Pages
from shopflow.core.console.render import fragment, redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError
from shopflow.crm import service, tiers
from shopflow.crm.errors import CustomerMerged
from shopflow.loyalty import points
from shopflow.loyalty.schemas import AdjustIn
from shopflow.orders.service import queries as orders

router = APIRouter(include_in_schema=False)
CustomerId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # what a BIGINT id holds


async def _page(
    session: AsyncSession,
    c: Console,
    customer_id: int,
    page: int = 1,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    short: int | None = None,
    status: int = 200,
) -> Response:
    """The page; `short`: the points a refused adjustment wanted to take beyond the balance."""
    try:
        customer = await service.get_customer(session, customer_id)
    except CustomerMerged as merged:
        return redirect(f"/customers/{merged.kept_id}/points")
    size = page_size()
    entries, total = await points.ledger(session, customer.id, page, size)
    return render(
        c,
        "customers/points.html",
        status,
        customer=customer,
        agent=await tiers.agent_name(session, customer),
        balance=await points.balance(session, customer.id),
        entries=entries,
        order_numbers=await orders.order_numbers(session, {e.order_id for e in entries if e.order_id}),
        can_adjust=c.can("members.adjust"),
        values=values or {},
        errors=errors or {},
        short=short,
        pager=Pager(page, size, total),
    )


@router.get("/customers/{customer_id}/points")
async def points_page(
    customer_id: CustomerId,
    session: Session,
    c: Annotated[Console, can_view("customers.read")],
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    return await _page(session, c, customer_id, page)


@router.post("/customers/{customer_id}/points")
async def adjust(
    customer_id: CustomerId, session: Session, c: Annotated[Console, can_do("members.adjust")]
) -> Response:
    """A manual adjustment with its reason (`points.adjust`, audited): a negative number takes
    points. Refused (a field's error, or more taken than the balance holds), nothing is stored and
    the page comes back with the form as typed and the error at its field (422)."""
    values = await form_values(c.request)
    address = f"/customers/{customer_id}/points"
    wanted: dict[str, Any] = {}

    async def run() -> Response:
        data: Any = parsed(AdjustIn, filled(values, "points", "reason"))
        wanted["points"] = data.points
        customer = await service.get_customer(session, customer_id)
        await points.adjust(session, c.actor, customer.id, data.points, data.reason)  # type: ignore[arg-type]
        held = await points.balance(session, customer.id)
        c.flash(str(fragment(c, "customers/points_adjusted.html", points=data.points, balance=held)).strip())
        return redirect(address)

    async def refused(exc: AppError) -> Response:
        short = -wanted["points"] if isinstance(exc, points.PointsRefused) else None
        errors = form_errors(exc, c)
        return await _page(session, c, customer_id, 1, values, errors, short, exc.status)

    return await attempt(c, session, run, refused, address=address)


PAGES: Pages[Console] = Pages(router)
