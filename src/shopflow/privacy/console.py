"""A customer's privacy page on the console (RSK-3): their data exported (JSON or a ZIP of CSVs,
logged as a read) by roles that see personal data, and erased on request by a manager."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from shopflow.core.api import Session
from shopflow.core.console.forms import attempt, filled, form_errors, form_values, parsed
from shopflow.core.console.page import Console
from shopflow.core.console.registry import Pages
from shopflow.core.console.render import redirect, render
from shopflow.core.console.session import can_do, can_view
from shopflow.core.errors import AppError
from shopflow.core.personal_data import PERMISSION, log
from shopflow.crm import service as crm
from shopflow.privacy import service
from shopflow.privacy.api import EraseIn

router = APIRouter(include_in_schema=False)
CustomerId = Annotated[int, Path(ge=1, le=2**63 - 1)]  # what a BIGINT id holds


async def _page(
    session: AsyncSession,
    c: Console,
    customer_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    customer = await crm.get_customer(session, customer_id)
    return render(
        c,
        "customers/privacy.html",
        status,
        customer=customer,
        can_erase=c.can("customers.erase") and customer.erased_at is None,
        values=values or {},
        errors=errors or {},
    )


@router.get("/customers/{customer_id}/privacy")
async def privacy_page(
    customer_id: CustomerId, session: Session, c: Annotated[Console, can_view(PERMISSION)]
) -> Response:
    return await _page(session, c, customer_id)


@router.get("/customers/{customer_id}/privacy/export")
async def export(
    customer_id: CustomerId,
    session: Session,
    c: Annotated[Console, can_view(PERMISSION)],
    format: Annotated[Literal["json", "zip"], Query()] = "zip",
) -> Response:
    """The export as a download, logged as a read of the customer's personal data."""
    sections = await service.export(session, customer_id)
    viewer = c.viewer()
    log(session, viewer.actor, viewer.endpoint, "customer", [customer_id])
    name = f"customer-{customer_id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "zip":
        return Response(service.as_zip(sections), media_type="application/zip", headers=headers)
    body = json.dumps({"customer_id": customer_id, "records": sections}, ensure_ascii=False, indent=2)
    return Response(body, media_type="application/json", headers=headers)


@router.post("/customers/{customer_id}/privacy/erase")
async def erase(
    customer_id: CustomerId, session: Session, c: Annotated[Console, can_do("customers.erase")]
) -> Response:
    """The customer erased with the reason typed (audited); refused, the page comes back with the
    error at its field and nothing erased."""
    values = await form_values(c.request)
    address = f"/customers/{customer_id}/privacy"

    async def run() -> Response:
        data: Any = parsed(EraseIn, filled(values, "reason"))
        await service.erase(session, c.actor, customer_id, data.reason)
        return redirect(address)

    async def refused(exc: AppError) -> Response:
        return await _page(session, c, customer_id, values, form_errors(exc, c), exc.status)

    return await attempt(c, session, run, refused, address=address)


PAGES: Pages[Console] = Pages(router)
